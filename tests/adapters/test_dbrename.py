"""Renaming restored databases back into place, on the real MariaDB and PostgreSQL servers of the machine.

Every database a test makes has a random name and is dropped at the end (including the aside ones)."""
from __future__ import annotations

import contextlib
import threading
import uuid

import psycopg2
import pytest

from nestbackup.adapters.databases import DbRenameError, DbServer, RenameResult, rename_back, roll_back
from nestbackup.adapters.databases.postgres import _Postgres
from nestbackup.adapters.databases.values import JOURNAL_PREFIX, PG_MARKER_COMMENT
from nestbackup.decisions.dbnames import aside_name, quote_mysql, quote_pg, restored_name
from nestbackup.errors import Conflict, NotFound, ValidationError
from tests.support.dbservers import MY, PG, my_conn, my_drop, my_exec, my_exists, pg_conn, pg_drop, pg_exec, pg_exists

# -- names --------------------------------------------------------------------------------------------------------

def names(engine: str, style: str = "plain") -> tuple[str, str, str, str]:
    """(original, restored, aside, restore id), unique per call."""
    tag = uuid.uuid4().hex[:10]
    rid = f"restore-{uuid.uuid4().hex[:20]}"
    if style == "plain":
        original = f"nbt{tag}_shop"
    elif style == "hostile":
        original = f"nbt{tag} `q\"'; DROP DATABASE x; -- %s é中"
    elif style == "maxlen":
        if engine == "MySQL":
            original = f"nbt{tag}" + "é" * (64 - 3 - len(tag))
        else:
            original = f"nbt{tag}" + "é" * ((63 - 3 - len(tag)) // 2)
    else:
        raise ValueError(style)
    return original, restored_name(original, rid, engine), aside_name(original, rid, engine), rid


# -- MySQL helpers ------------------------------------------------------------------------------------------------

def build_mysql(schema: str, flavour: str, rows: int, charset: str = "utf8mb4",
                collation: str = "utf8mb4_general_ci") -> None:
    """A database with tables (rows, a foreign key), two views (one on the other), two triggers on one table (in
    order; the first writes to the audit table through a qualifier naming its own schema), a procedure, a function
    and an event. `flavour` shows in the data and in what the routines return."""
    s = quote_mysql(schema)
    values = ", ".join(f"({i}, '{flavour}-{i}')" for i in range(1, rows + 1))
    my_exec(
        f"CREATE DATABASE {s} CHARACTER SET {charset} COLLATE {collation}",
        f"CREATE TABLE {s}.items (id INT PRIMARY KEY, name VARCHAR(50)) ENGINE=InnoDB",
        f"CREATE TABLE {s}.audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100)) ENGINE=InnoDB",
        f"CREATE TABLE {s}.orders (id INT PRIMARY KEY, item_id INT, FOREIGN KEY (item_id) REFERENCES items (id)) "
        "ENGINE=InnoDB",
        f"INSERT INTO {s}.items VALUES {values}",
        f"INSERT INTO {s}.orders VALUES (1, 1), (2, {rows})",
        f"INSERT INTO {s}.audit (note) VALUES ('{flavour} seeded')",
        f"USE {s}",
        "CREATE VIEW v_items AS SELECT id, name FROM items WHERE id > 0",
        "CREATE VIEW v_count AS SELECT count(*) AS n FROM v_items",
        f"CREATE TRIGGER trg_items AFTER INSERT ON items FOR EACH ROW "
        f"INSERT INTO {s}.audit (note) VALUES (CONCAT('{flavour} ins ', NEW.id))",
        "CREATE TRIGGER trg_items2 AFTER INSERT ON items FOR EACH ROW FOLLOWS trg_items "
        "INSERT INTO audit (note) VALUES ('second')",
        f"CREATE PROCEDURE p_count(OUT n INT) SELECT count(*) INTO n FROM {s}.items",
        f"CREATE FUNCTION f_flavour() RETURNS VARCHAR(20) DETERMINISTIC RETURN '{flavour}'",
        "CREATE EVENT e_tick ON SCHEDULE EVERY 1 HOUR STARTS '2030-01-01 00:00:00' DO "
        "INSERT INTO audit (note) VALUES ('tick')",
    )


def my_snapshot(schema: str) -> dict:
    """Everything of a schema, its own name replaced by <S> so that copies under other names compare equal."""
    s = quote_mysql(schema)
    norm = lambda text: text.replace(s, "`<S>`")  # noqa: E731
    conn = my_conn(schema)
    try:
        with conn.cursor() as cur:
            def q(sql, args=None):
                cur.execute(sql, args)
                return cur.fetchall()
            def of(col: str) -> str:         # I_S compares names case- and accent-insensitively: add BINARY
                return f"{col} = %s AND BINARY {col} = BINARY %s"
            two = (schema, schema)
            out = {"charset": q("SELECT default_character_set_name, default_collation_name FROM "
                                f"information_schema.schemata WHERE {of('schema_name')}", two)}
            tables = [r[0] for r in q("SELECT table_name FROM information_schema.tables WHERE "
                                      f"{of('table_schema')} AND table_type = 'BASE TABLE' ORDER BY 1", two)]
            out["tables"] = {t: q(f"SELECT * FROM {s}.{quote_mysql(t)} ORDER BY 1") for t in tables}
            out["create_tables"] = {t: q(f"SHOW CREATE TABLE {s}.{quote_mysql(t)}")[0][1] for t in tables}
            views = [r[0] for r in q(f"SELECT table_name FROM information_schema.views WHERE {of('table_schema')} "
                                     "ORDER BY 1", two)]
            out["views"] = {v: norm(q(f"SHOW CREATE VIEW {quote_mysql(v)}")[0][1]) for v in views}
            out["triggers"] = [(r[0], r[1], r[2], r[3], r[4], norm(r[5])) for r in q(
                "SELECT trigger_name, event_object_table, action_timing, event_manipulation, action_order, "
                f"action_statement FROM information_schema.triggers WHERE {of('trigger_schema')} ORDER BY 1", two)]
            out["routines"] = [(r[0], r[1], norm(r[2]), r[3]) for r in q(
                "SELECT routine_type, routine_name, routine_definition, security_type FROM "
                f"information_schema.routines WHERE {of('routine_schema')} ORDER BY 1, 2", two)]
            out["events"] = [(r[0], norm(r[1]), r[2], r[3], r[4]) for r in q(
                "SELECT event_name, event_definition, interval_value, interval_field, status FROM "
                f"information_schema.events WHERE {of('event_schema')} ORDER BY 1", two)]
            return out
    finally:
        conn.close()


@pytest.fixture
def my_cleanup():
    made: list[str] = []
    yield made
    my_drop(*made)


def my_setup(style: str, made: list, *, with_original: bool = True):
    o, r, a, _ = names("MySQL", style)
    made += [o, r, a]
    if with_original:
        build_mysql(o, "live", 5, "latin1", "latin1_swedish_ci")
    build_mysql(r, "restored", 7)
    return o, r, a


def check_mysql_swapped(o, r, a, before_o, before_r):
    assert not my_exists(r)
    assert my_snapshot(o) == before_r
    if before_o is not None:
        assert my_snapshot(a) == before_o
    # the trigger fires in `original` and writes to `original`'s audit table; the aside is untouched by it
    audit_aside = my_exec(f"SELECT count(*) FROM {quote_mysql(a)}.audit")[0][0] if before_o else None
    my_exec(f"INSERT INTO {quote_mysql(o)}.items VALUES (100, 'new')")
    notes = [r_[0] for r_ in my_exec(f"SELECT note FROM {quote_mysql(o)}.audit ORDER BY id")]
    assert notes[-2:] == ["restored ins 100", "second"]
    if before_o is not None:
        assert my_exec(f"SELECT count(*) FROM {quote_mysql(a)}.audit")[0][0] == audit_aside
        my_exec(f"INSERT INTO {quote_mysql(a)}.items VALUES (100, 'new')")
        notes = [r_[0] for r_ in my_exec(f"SELECT note FROM {quote_mysql(a)}.audit ORDER BY id")]
        assert notes[-2:] == ["live ins 100", "second"]
        assert my_exec(f"SELECT {quote_mysql(a)}.f_flavour()")[0][0] == "live"
    assert my_exec(f"SELECT {quote_mysql(o)}.f_flavour()")[0][0] == "restored"
    assert my_exec(f"CALL {quote_mysql(o)}.p_count(@n)", "SELECT @n")[0][0] == 8
    assert my_exec(f"SELECT n FROM {quote_mysql(o)}.v_count")[0][0] == 8


# -- MySQL tests --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("style", ["plain", "hostile", "maxlen"])
def test_mysql_rename_back_swaps_everything(style, my_cleanup):
    o, r, a = my_setup(style, my_cleanup)
    before_o, before_r = my_snapshot(o), my_snapshot(r)
    assert before_o["charset"] != before_r["charset"]
    result = rename_back(MY, o, r, a)
    assert isinstance(result, RenameResult) and result.status == "Done" and result.aside_kept is True
    # the procedure names its own schema: it now names the new one
    body = my_exec(f"SHOW CREATE PROCEDURE {quote_mysql(a)}.p_count")[0][2]
    assert quote_mysql(a) in body and quote_mysql(o) not in body
    check_mysql_swapped(o, r, a, before_o, before_r)
    again = rename_back(MY, o, r, a)                        # a re-run after success changes nothing
    assert again.status == "Done" and again.aside_kept is True
    with pytest.raises(Conflict):
        roll_back(MY, o, r, a)


def test_mysql_original_missing_restored_becomes_original(my_cleanup):
    o, r, a = my_setup("plain", my_cleanup, with_original=False)
    before_r = my_snapshot(r)
    result = rename_back(MY, o, r, a)
    assert result.status == "Done" and result.aside_kept is False
    check_mysql_swapped(o, r, a, None, before_r)
    # the aside database holds only the "done" mark, so a re-run knows the rename happened
    assert [t[0] for t in my_exec(f"SHOW TABLES FROM {quote_mysql(a)}")] == [JOURNAL_PREFIX + "done"]
    assert rename_back(MY, o, r, a).aside_kept is False


def test_mysql_restored_missing_raises_and_touches_nothing(my_cleanup):
    o, r, a = my_setup("hostile", my_cleanup)
    my_drop(r)
    before = my_snapshot(o)
    with pytest.raises(NotFound, match="does not exist"):
        rename_back(MY, o, r, a)
    assert my_snapshot(o) == before and not my_exists(a) and not my_exists(r)
    assert roll_back(MY, o, r, a).status == "RolledBack"       # nothing to undo
    assert my_snapshot(o) == before


def test_mysql_roll_back_before_anything_is_a_no_op(my_cleanup):
    o, r, a = my_setup("plain", my_cleanup)
    before_o, before_r = my_snapshot(o), my_snapshot(r)
    assert roll_back(MY, o, r, a).status == "RolledBack"
    assert my_snapshot(o) == before_o and my_snapshot(r) == before_r and not my_exists(a)


def test_mysql_an_aside_that_is_not_ours_is_refused(my_cleanup):
    o, r, a = my_setup("plain", my_cleanup)
    my_exec(f"CREATE DATABASE {quote_mysql(a)}", f"CREATE TABLE {quote_mysql(a)}.mine (id INT)")
    before_o, before_r = my_snapshot(o), my_snapshot(r)
    with pytest.raises(Conflict, match="not empty"):
        rename_back(MY, o, r, a)
    assert my_snapshot(o) == before_o and my_snapshot(r) == before_r


def test_mysql_an_invalid_view_is_refused_before_anything_moves(my_cleanup):
    o, r, a = my_setup("plain", my_cleanup)
    my_exec(f"CREATE TABLE {quote_mysql(r)}.gone (id INT)", f"USE {quote_mysql(r)}",
            "CREATE VIEW v_gone AS SELECT id FROM gone", f"DROP TABLE {quote_mysql(r)}.gone")
    before_o, before_r = my_snapshot(o), my_snapshot(r)
    with pytest.raises(Conflict, match="v_gone"):
        rename_back(MY, o, r, a)
    assert my_snapshot(o) == before_o and my_snapshot(r) == before_r and not my_exists(a)


def test_mysql_an_open_transaction_on_the_live_tables_times_out_the_swap_then_a_re_run_finishes(my_cleanup):
    o, r, a = my_setup("plain", my_cleanup)
    before_o, before_r = my_snapshot(o), my_snapshot(r)
    holder = my_conn(o)
    try:
        with holder.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT * FROM items FOR UPDATE")
        with pytest.raises(DbRenameError):
            rename_back(MY, o, r, a, lock_wait_seconds=1)
    finally:
        holder.close()
    assert rename_back(MY, o, r, a).status == "Done"
    check_mysql_swapped(o, r, a, before_o, before_r)


def test_mysql_definer_is_kept(my_cleanup):
    o, r, a = my_setup("plain", my_cleanup)
    rename_back(MY, o, r, a)
    conn = my_conn()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT routine_schema, definer FROM information_schema.routines WHERE routine_schema = %s",
                        (o,))
            definers = {d for s, d in cur.fetchall() if s == o}
            cur.execute("SELECT CURRENT_USER()")
            me = cur.fetchone()[0]
    finally:
        conn.close()
    assert definers == {me}


def test_hostile_names_are_never_executed(my_cleanup):
    """A name made to end the statement and drop another database: quoted, it is only ever a name."""
    victim = f"nbt{uuid.uuid4().hex[:10]}_victim"
    my_cleanup.append(victim)
    my_exec(f"CREATE DATABASE {quote_mysql(victim)}", f"CREATE TABLE {quote_mysql(victim)}.t (id INT)")
    o = f"nbt{uuid.uuid4().hex[:8]}`; DROP DATABASE `{victim}`; -- '\"%"
    r, a = o + "_r", o + "_a"
    my_cleanup += [o, r, a]
    build_mysql(o, "live", 2)
    build_mysql(r, "restored", 7)
    rename_back(MY, o, r, a)
    assert my_exists(victim) and my_exists(o) and my_exists(a) and not my_exists(r)


def test_invalid_names_are_refused_before_connecting():
    bad = DbServer("MySQL", "127.0.0.1", 1, "nobody", "")       # a port nothing listens on: never reached
    for o, r, a in [("", "r", "a"), ("o\x00", "r", "a"), ("o" * 65, "r", "a"), ("o", "o", "a"),
                    ("O", "o", "a"), ("o", "r", "a😀")]:
        with pytest.raises(ValidationError):
            rename_back(bad, o, r, a)
        with pytest.raises(ValidationError):
            roll_back(bad, o, r, a)
    with pytest.raises(ValidationError):
        rename_back(DbServer("PostgreSQL", "127.0.0.1", 1, "nobody"), "é" * 32, "r", "a")
    with pytest.raises(ValidationError):
        rename_back(DbServer("PostgreSQL", "127.0.0.1", 1, "nobody"), "postgres", "r", "a")
    mssql = DbServer("SQLServer", "127.0.0.1", 1, "nobody", maintenance_db="master")
    for o, r, a in [("o" * 129, "r", "a"), ("Shop", "shop", "a"), ("MASTER", "r", "a")]:   # names compare without case
        with pytest.raises(ValidationError):
            rename_back(mssql, o, r, a)
    with pytest.raises(ValidationError):
        rename_back(DbServer("Oracle", "127.0.0.1", 1, "nobody"), "o", "r", "a")


# -- PostgreSQL helpers -------------------------------------------------------------------------------------------

def build_pg(db: str, flavour: str, rows: int) -> None:
    pg_exec(f"CREATE DATABASE {quote_pg(db)} TEMPLATE template0 ENCODING 'UTF8'")
    conn = pg_conn(db)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE items (id int PRIMARY KEY, name text)")
            cur.execute("CREATE TABLE orders (id int PRIMARY KEY, item_id int REFERENCES items (id))")
            cur.execute("INSERT INTO items SELECT g, %s || '-' || g FROM generate_series(1, %s) g", (flavour, rows))
            cur.execute("INSERT INTO orders VALUES (1, 1)")
            cur.execute("CREATE VIEW v_items AS SELECT id, name FROM items WHERE id > 0")
    finally:
        conn.close()


def pg_snapshot(db: str) -> dict:
    conn = pg_conn(db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') ORDER BY 1")
            rels = cur.fetchall()
            out = {"relations": rels}
            for name, _kind in rels:
                cur.execute(f"SELECT * FROM {quote_pg(name)} ORDER BY 1")
                out[name] = cur.fetchall()
            cur.execute("SELECT datallowconn FROM pg_database WHERE datname = current_database()")
            out["allow"] = cur.fetchone()[0]
            return out
    finally:
        conn.close()


@pytest.fixture
def pg_cleanup():
    made: list[str] = []
    yield made
    pg_drop(*made)


def pg_setup(style: str, made: list, *, with_original: bool = True):
    o, r, a, _ = names("PostgreSQL", style)
    made += [o, r, a, _Postgres.helper_name(a)]
    if with_original:
        build_pg(o, "live", 5)
    build_pg(r, "restored", 7)
    return o, r, a


@contextlib.contextmanager
def sessions_on(*dbs: str):
    """Idle sessions and one inside an open transaction on each database; yields them to check they were ended."""
    conns = []
    for db in dbs:
        idle = pg_conn(db)
        busy = psycopg2.connect(host=PG.host, port=PG.port, user=PG.user, password=PG.password, dbname=db)
        with busy.cursor() as cur:
            cur.execute("SELECT count(*) FROM items")      # a transaction left open
        conns += [idle, busy]
    try:
        yield conns
    finally:
        for c in conns:
            with contextlib.suppress(Exception):
                c.close()


def ended(conn) -> bool:
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
        return False
    except psycopg2.Error:
        return True


# -- PostgreSQL tests ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("style", ["plain", "hostile", "maxlen"])
def test_pg_rename_back_ends_sessions_and_swaps(style, pg_cleanup):
    o, r, a = pg_setup(style, pg_cleanup)
    before_o, before_r = pg_snapshot(o), pg_snapshot(r)
    with sessions_on(o, r) as conns:
        result = rename_back(PG, o, r, a)
        assert all(ended(c) for c in conns)
    assert result.status == "Done" and result.aside_kept is True
    assert pg_snapshot(o) == before_r and pg_snapshot(a) == before_o and not pg_exists(r)
    assert rename_back(PG, o, r, a).aside_kept is True
    with pytest.raises(Conflict):
        roll_back(PG, o, r, a)


def test_pg_a_session_that_keeps_reconnecting_does_not_stop_the_rename(pg_cleanup):
    o, r, a = pg_setup("plain", pg_cleanup)
    stop = threading.Event()

    def pester():
        while not stop.is_set():
            with contextlib.suppress(Exception):
                c = pg_conn(o)
                c.cursor().execute("SELECT pg_sleep(0.05)")
                c.close()

    t = threading.Thread(target=pester, daemon=True)
    t.start()
    try:
        assert rename_back(PG, o, r, a).status == "Done"
    finally:
        stop.set()
        t.join(5)
    assert pg_exec("SELECT datallowconn FROM pg_database WHERE datname = %s", (a,)) == [(True,)]
    assert pg_exec("SELECT datallowconn FROM pg_database WHERE datname = %s", (o,)) == [(True,)]


def test_pg_original_missing(pg_cleanup):
    o, r, a = pg_setup("hostile", pg_cleanup, with_original=False)
    before_r = pg_snapshot(r)
    result = rename_back(PG, o, r, a)
    assert result.status == "Done" and result.aside_kept is False
    assert pg_snapshot(o) == before_r and not pg_exists(r)
    assert pg_exec("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                   (a,)) == [(PG_MARKER_COMMENT,)]
    assert rename_back(PG, o, r, a).aside_kept is False


def test_pg_restored_missing_raises_and_touches_nothing(pg_cleanup):
    o, r, a = pg_setup("plain", pg_cleanup)
    pg_drop(r)
    before = pg_snapshot(o)
    with pytest.raises(NotFound):
        rename_back(PG, o, r, a)
    assert pg_snapshot(o) == before and not pg_exists(a) and not pg_exists(r)


def test_pg_an_aside_that_is_not_ours_is_refused(pg_cleanup):
    o, r, a = pg_setup("plain", pg_cleanup)
    build_pg(a, "other", 1)
    with pytest.raises(Conflict):
        rename_back(PG, o, r, a)
    assert pg_snapshot(o)["items"][0][1] == "live-1" and pg_snapshot(r)["items"][0][1] == "restored-1"


def test_mysql_objects_keep_their_sql_mode_and_qualifiers_in_that_mode_are_rewritten(my_cleanup):
    o, r, a = my_setup("hostile", my_cleanup)
    dq = '"' + r.replace('"', '""') + '"'
    my_exec("SET SESSION sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES'", f"USE {quote_mysql(r)}",
            "CREATE TRIGGER trg_ansi BEFORE INSERT ON orders FOR EACH ROW "
            f"INSERT INTO {dq}.audit (note) VALUES ('ansi \\')")
    rename_back(MY, o, r, a)
    row = my_exec(f"SHOW CREATE TRIGGER {quote_mysql(o)}.trg_ansi")[0]
    assert "ANSI_QUOTES" in row[1] and "NO_BACKSLASH_ESCAPES" in row[1]
    assert f"INSERT INTO {quote_mysql(o)}.audit" in row[2]
    my_exec(f"INSERT INTO {quote_mysql(o)}.orders VALUES (50, 1)")
    assert my_exec(f"SELECT note FROM {quote_mysql(o)}.audit ORDER BY id DESC LIMIT 1")[0][0] == "ansi \\"
