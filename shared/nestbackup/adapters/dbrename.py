"""Renaming restored databases back into place, over SQL (pymysql / psycopg2 / pytds).

After RestoreTable, the restored copy of database `original` sits next to it under `restored`. `rename_back` moves
the live `original` aside (under `aside`) and `restored` into `original`; `roll_back` returns to the names of
before. Both derive where an earlier, interrupted run stopped from the database state itself, so either may be run
again after a crash between any two statements. Rows are never copied: the work is O(objects), not O(data). Nothing
that holds data is ever dropped: a database is dropped only when verified empty (MySQL `restored` at the end, the
empty helper databases of PostgreSQL's original-missing case); tables are only renamed.

MySQL / MariaDB (there is no RENAME DATABASE):

1. Create `aside` (character set and collation of `original`) holding the journal table
   ``aside._nestbackup_rename_pre`` (see JOURNAL_COMMENT); if `original` does not exist, create it empty with the
   character set of `restored`.
2. Copy the definition of every trigger, view, stored procedure, function and event of `original` and `restored`
   (``SHOW CREATE …``) into the journal, then drop the object (triggers must go before a table changes schema,
   ERROR 1435; views, routines and events cannot move at all, ERROR 1450). Definitions are saved before the drop,
   one object at a time.
3. One atomic ``RENAME TABLE original.t TO aside.t, …, restored.t TO original.t, …,
   aside._nestbackup_rename_pre TO aside._nestbackup_rename_swapped``: the tables swap and the journal's name records
   that they did, in the same statement.
4. Give `original` the character set of `restored`; recreate every journalled object in its new schema (routines,
   views, triggers in their firing order, events), with the session's sql_mode / time zone / collation of the
   object, and schema qualifiers naming the old schema rewritten to the new one (views: not rewritten, they are
   read with their schema as the current database, so ``SHOW CREATE VIEW`` leaves their own schema out).
5. Drop `restored` once verified empty, then the journal. If `original` did not exist, the journal stays as
   ``aside._nestbackup_rename_done``: the mark that the rename was done (without it, "done" and "never restored"
   look alike); `aside` holds nothing else and may be dropped whenever.

DEFINER: kept. If the account may not name another definer (ERROR 1227: no SUPER / SET USER), the object is
recreated without the DEFINER clause, i.e. with the running account as definer (SQL SECURITY is unchanged); the
result's details name every such object. Not carried over: table- and routine-level grants (schema-level grants
stay with the schema names), which MySQL keys by schema name.

PostgreSQL: from `maintenance_db`, ``ALTER DATABASE original RENAME TO aside`` then ``ALTER DATABASE restored RENAME
TO original``, each after ``ALLOW_CONNECTIONS false`` and ending every other session on it (``pg_terminate_backend``,
retried while the server still counts them); ALLOW_CONNECTIONS goes back to its previous value after the rename. If
`original` does not exist, an empty database is created as `aside` (first under a helper name, commented
PG_MARKER_COMMENT, then renamed; the same "done" mark). A crash after ALLOW_CONNECTIONS false and before the
rename leaves that database refusing connections: the re-run makes `original` (the live database) accept them;
`aside`/`restored` are left as found, and the details say so.

SQL Server (pytds, from `maintenance_db`, normally `master`): the PostgreSQL sequence in T-SQL. Each move is
``ALTER DATABASE src SET SINGLE_USER WITH ROLLBACK IMMEDIATE`` (ends the other sessions), ``ALTER DATABASE src
MODIFY NAME = dst`` (retried while the server cannot lock it exclusively, error 5030), ``ALTER DATABASE dst SET
MULTI_USER``. The original-missing mark is an empty database holding only the table
``dbo._nestbackup_rename_done`` (made under a helper name, then renamed to `aside`). A crash between SINGLE_USER and
MULTI_USER leaves that database single-user: the re-run puts `original` back to MULTI_USER and names the others.
Whether the RDS privileged account may run ALTER DATABASE … MODIFY NAME (rather than an RDS procedure) is
UNCONFIRMED; the statements are in `_SqlServer.move` only.

Concurrency: one run per database at a time (the restore holds the instance's lock). Applications should be
quiesced: MySQL's RENAME TABLE waits for open transactions on the tables (up to `lock_wait_seconds`).
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..decisions.dbnames import (
    MYSQL,
    POSTGRESQL,
    SQLSERVER,
    engine_of,
    literal_mssql,
    quote_mssql,
    quote_mysql,
    quote_pg,
    rewrite_schema_qualifiers,
    strip_definer,
    validate_name,
)
from ..errors import Conflict, NestBackupError, NotFound, ValidationError

JOURNAL_PREFIX = "_nestbackup_rename_"
PRE, SWAPPED, DONE = "pre", "swapped", "done"
JOURNAL_COMMENT = ("nestbackup rename journal: definitions of the triggers, views, routines and events being moved "
                   "between the live, restored and aside databases; dropped when the rename completes")
PG_MARKER_COMMENT = ("nestbackup: no live database existed when the restored one was renamed into place; "
                     "this empty database only marks that rename as done and may be dropped")
MSSQL_MARK_TABLE = "_nestbackup_rename_done"
MOVABLE_KINDS = ("TRIGGER", "VIEW", "PROCEDURE", "FUNCTION", "EVENT")
RECREATE_ORDER = ("FUNCTION", "PROCEDURE", "VIEW", "TRIGGER", "EVENT")

Hook = Callable[[str], None]
_CHARSET = re.compile(r"[A-Za-z0-9_]+")


class DbRenameError(NestBackupError):
    """A statement of the rename failed on the database server; the step may be run again."""

    def __init__(self, message: str, *, code: int | str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DbServer:
    engine: str                       # "MySQL" | "PostgreSQL" | "SQLServer"
    host: str
    port: int
    user: str
    password: str = field(default="", repr=False)
    maintenance_db: str = "postgres"  # PostgreSQL / SQL Server (master): the database connected to, never renamed
    connect_timeout: int = 10


@dataclass(frozen=True)
class RenameResult:
    status: str                       # "Done" | "RolledBack"
    aside_kept: bool                  # a live database existed and is now under `aside`
    details: tuple[str, ...] = ()


def rename_back(server: DbServer, original: str, restored: str, aside: str, *,
                on_statement: Hook | None = None, lock_wait_seconds: int = 30) -> RenameResult:
    """Put `restored` under the name `original`, the live `original` under `aside`; idempotent and resumable.

    Raises NotFound (touching nothing) when `restored` does not exist and the rename was not already done, Conflict
    when the databases are in a state no run of this step leaves, DbRenameError when a statement fails.
    `on_statement(label)` is called after every statement that changes something (tests crash there)."""
    with _connect(server, original, restored, aside, on_statement, lock_wait_seconds) as db:
        return db.forward(original, restored, aside)


def roll_back(server: DbServer, original: str, restored: str, aside: str, *,
              on_statement: Hook | None = None, lock_wait_seconds: int = 30) -> RenameResult:
    """Undo an interrupted `rename_back`: the live data back under `original`, the restored data under `restored`,
    `aside` gone. Idempotent and resumable. A rename that completed is not undone here (Conflict); to undo it, run
    `rename_back(server, original, restored=aside, aside=<a new name>)`."""
    with _connect(server, original, restored, aside, on_statement, lock_wait_seconds) as db:
        return db.backward(original, restored, aside)


def _connect(server: DbServer, original: str, restored: str, aside: str, on_statement: Hook | None,
             lock_wait_seconds: int):
    """The engine's rename session, once the three names are checked (nothing is reached before)."""
    engine = _check(server, original, restored, aside)
    if engine == MYSQL:
        return _MySQL(server, on_statement, lock_wait_seconds)
    return (_SqlServer if engine == SQLSERVER else _Postgres)(server, on_statement)


def _check(server: DbServer, original: str, restored: str, aside: str) -> str:
    engine = engine_of(server.engine)
    for name in (original, restored, aside):
        validate_name(name, engine)
    keys = {n if engine == POSTGRESQL else n.lower() for n in (original, restored, aside)}
    if len(keys) != 3:
        raise ValidationError(f"original, restored and aside must be three different names: "
                              f"{original!r}, {restored!r}, {aside!r}")
    if engine != MYSQL and server.maintenance_db.lower() in {n.lower() for n in (original, restored, aside)}:
        raise ValidationError(f"the maintenance database {server.maintenance_db!r} cannot be one being renamed")
    return engine


# -- MySQL / MariaDB ------------------------------------------------------------------------------------------------

@dataclass
class _Entry:
    k: int
    role: str            # "original" (moves original -> aside) | "restored" (moves restored -> original)
    kind: str            # TRIGGER | VIEW | PROCEDURE | FUNCTION | EVENT
    name: str
    definition: str
    sql_mode: str | None
    time_zone: str | None
    collation: str | None
    note: str | None


class _MySQL:
    def __init__(self, server: DbServer, hook: Hook | None, lock_wait_seconds: int) -> None:
        import pymysql

        self._pymysql = pymysql
        try:
            self.conn = pymysql.connect(host=server.host, port=int(server.port), user=server.user,
                                        password=server.password, charset="utf8mb4", autocommit=True,
                                        connect_timeout=server.connect_timeout)
        except pymysql.MySQLError as err:
            raise DbRenameError(f"cannot connect to MySQL {server.host}:{server.port}: {err}",
                                code=err.args[0] if err.args else None) from err
        self.hook = hook
        self.details: list[str] = []
        self._names: dict[tuple[str, str], tuple[set, set]] = {}
        self.fold = int(self.scalar("SELECT @@lower_case_table_names")) > 0
        self.base_mode = self.scalar("SELECT @@SESSION.sql_mode")
        self.base_tz = self.scalar("SELECT @@SESSION.time_zone")
        self.base_collation = self.scalar("SELECT @@SESSION.collation_connection")
        self.read(f"SET SESSION lock_wait_timeout = {int(lock_wait_seconds)}")

    def __enter__(self) -> "_MySQL":
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - closing a dead connection
            pass

    # -- statements
    def read(self, sql: str, args: tuple | None = None) -> list[tuple]:
        """A statement that changes nothing persistent. Identifiers never go into a statement with `args`."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        except self._pymysql.MySQLError as err:
            raise DbRenameError(f"{sql[:200]}: {err}", code=err.args[0] if err.args else None) from err

    def scalar(self, sql: str, args: tuple | None = None):
        rows = self.read(sql, args)
        return rows[0][0] if rows else None

    def do(self, sql: str, label: str) -> None:
        """A statement that changes the databases; the hook runs after it. Values are inlined with lit()."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
        except self._pymysql.MySQLError as err:
            raise DbRenameError(f"{label}: {err}", code=err.args[0] if err.args else None) from err
        if self.hook:
            self.hook(label)

    def lit(self, value: str | None) -> str:
        return "NULL" if value is None else self.conn.escape(value)

    def use(self, schema: str) -> None:
        self.read("USE " + quote_mysql(schema))

    def same(self, a: str, b: str) -> bool:
        return a.lower() == b.lower() if self.fold else a == b

    # -- what is there
    def schema(self, name: str) -> tuple[str, str] | None:
        """(character set, collation) of schema `name`, None if it does not exist."""
        rows = self.read("SELECT schema_name, default_character_set_name, default_collation_name "
                         "FROM information_schema.schemata WHERE schema_name = %s", (name,))
        found = next(((r[1], r[2]) for r in rows if self.same(r[0], name)), None)
        if found and not all(_CHARSET.fullmatch(x or "") for x in found):
            raise Conflict(f"unexpected character set / collation {found!r} of {name!r}")
        return found

    def _rows(self, sql: str, schema: str) -> list[tuple]:
        return [r[1:] for r in self.read(sql, (schema,)) if self.same(r[0], schema)]

    def tables(self, schema: str) -> list[str]:
        """Everything RENAME TABLE moves: base tables, sequences, system-versioned tables (not views)."""
        return sorted(r[0] for r in self._rows(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables WHERE table_schema = %s",
            schema) if r[1] not in ("VIEW", "TEMPORARY"))

    def objects(self, schema: str) -> list[tuple[str, str]]:
        """(kind, name) of the views, triggers (in firing order), routines and events of `schema`."""
        out = [("VIEW", r[0]) for r in sorted(self._rows(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_type = 'VIEW'", schema))]
        out += [("TRIGGER", r[0]) for r in self._rows(
            "SELECT trigger_schema, trigger_name FROM information_schema.triggers WHERE trigger_schema = %s "
            "ORDER BY event_object_table, action_timing, event_manipulation, action_order", schema)]
        out += [(r[1], r[0]) for r in sorted(self._rows(
            "SELECT routine_schema, routine_name, routine_type FROM information_schema.routines "
            "WHERE routine_schema = %s", schema))]
        out += [("EVENT", r[0]) for r in sorted(self._rows(
            "SELECT event_schema, event_name FROM information_schema.events WHERE event_schema = %s", schema))]
        return out

    def exists(self, schema: str, kind: str, name: str) -> bool:
        return any(k == kind and self.same(n, name) for k, n in self.objects(schema))

    def contents(self, schema: str) -> list[str]:
        return [f"table {t}" for t in self.tables(schema)] + [f"{k.lower()} {n}" for k, n in self.objects(schema)]

    def journal(self, aside: str) -> tuple[str | None, str | None]:
        """(phase, table name) of the journal in `aside`; (None, None) if there is none."""
        found = [t for t in self.tables(aside) if t.startswith(JOURNAL_PREFIX)
                 and t[len(JOURNAL_PREFIX):] in (PRE, SWAPPED, DONE)]
        if len(found) > 1:
            raise Conflict(f"{aside!r} holds several rename journals ({', '.join(found)}): resolve by hand")
        return (found[0][len(JOURNAL_PREFIX):], found[0]) if found else (None, None)

    def entries(self, aside: str, table: str) -> tuple[dict | None, list[_Entry]]:
        rows = self.read("SELECT k, role, kind, name, definition, sql_mode, time_zone, collation_connection, note "
                         f"FROM {quote_mysql(aside)}.{quote_mysql(table)} ORDER BY k")
        meta = next((json.loads(r[4]) for r in rows if r[1] == "meta"), None)
        return meta, [_Entry(*r) for r in rows if r[1] != "meta"]

    # -- forward
    def forward(self, original: str, restored: str, aside: str) -> RenameResult:
        orig, R, A = original, restored, aside
        a_schema = self.schema(A)
        phase, journal = self.journal(A) if a_schema else (None, None)
        if phase == DONE:
            return RenameResult("Done", False, (f"already done: {orig!r} did not exist; {R!r} is now {orig!r}",))
        if a_schema is None:
            if self.schema(R) is None:
                raise NotFound(f"restored database {R!r} does not exist and {orig!r} was not renamed from it: "
                               "nothing was changed")
            self.precheck(orig, R, A)
            o_schema = self.schema(orig)
            charset = o_schema or self.schema(R)
            assert charset is not None          # R exists (checked above)
            cs, coll = charset
            self.do(f"CREATE DATABASE {quote_mysql(A)} CHARACTER SET {cs} COLLATE {coll}", "create aside")
            a_schema = (cs, coll)
        elif phase is None:
            if self.schema(R) is None:
                if self.schema(orig) is not None:
                    return RenameResult("Done", True, (f"already done: {R!r} is {orig!r}, the live data under {A!r}",))
                raise Conflict(f"{A!r} exists but neither {orig!r} nor {R!r} does: nothing to rename")
            if self.contents(A):
                raise Conflict(f"{A!r} already exists and is not empty: it is not this restore's aside database")
            self.precheck(orig, R, A)
        if phase is None:
            journal = JOURNAL_PREFIX + PRE
            self.do(f"CREATE TABLE IF NOT EXISTS {quote_mysql(A)}.{quote_mysql(journal)} ("
                    "k INT AUTO_INCREMENT PRIMARY KEY, role VARCHAR(16) NOT NULL, kind VARCHAR(16) NOT NULL, "
                    "name VARCHAR(64) NOT NULL, definition LONGTEXT NOT NULL, sql_mode TEXT NULL, "
                    "time_zone VARCHAR(64) NULL, collation_connection VARCHAR(64) NULL, note TEXT NULL, "
                    "UNIQUE KEY one_object (role, kind, name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
                    f"COLLATE=utf8mb4_bin COMMENT={self.lit(JOURNAL_COMMENT)}", "create journal")
            phase = PRE
        assert journal is not None
        meta, _ = self.entries(A, journal)
        if meta is None:            # nothing has moved before the meta row is written
            if phase != PRE:
                raise Conflict(f"the rename journal {A!r}.{journal!r} has lost its meta row: resolve by hand")
            o_schema, r_schema = self.schema(orig), self.schema(R)
            assert r_schema is not None         # the restored database is checked before the journal is made
            meta = {"original_existed": o_schema is not None, "original_charset": list(o_schema or a_schema),
                    "restored_charset": list(r_schema), "original": orig, "restored": R}
            self.do(f"INSERT INTO {quote_mysql(A)}.{quote_mysql(journal)} (role, kind, name, definition) VALUES "
                    f"('meta', 'meta', '', {self.lit(json.dumps(meta))})", "journal meta")
        if phase == PRE:
            self.before_swap(orig, R, A, journal, meta)
            journal = JOURNAL_PREFIX + SWAPPED
        return self.after_swap(orig, R, A, journal, meta)

    def precheck(self, orig: str, R: str, A: str) -> None:
        """Refuse, before changing anything, what could not be moved back and forth."""
        problems = []
        for role, schema in (("original", orig), ("restored", R)):
            if self.schema(schema) is None:
                continue
            for t in self.tables(schema):
                if t.startswith(JOURNAL_PREFIX):
                    problems.append(f"{schema!r} has a table {t!r}, a name the rename journal uses")
            for kind, name in self.objects(schema):
                if kind not in MOVABLE_KINDS:
                    problems.append(f"{schema!r}: {kind.lower()} {name!r} cannot be moved")
                    continue
                try:
                    self.definition(schema, kind, name)
                    if kind == "VIEW":
                        self.read(f"SHOW COLUMNS FROM {quote_mysql(schema)}.{quote_mysql(name)}")
                except (DbRenameError, Conflict) as err:
                    problems.append(f"{schema!r}: {kind.lower()} {name!r} is not usable: {err}")
        if problems:
            raise Conflict("cannot rename: " + "; ".join(problems))

    def definition(self, schema: str, kind: str, name: str) -> dict:
        """What recreating the object takes: its definition and the session settings it was defined under."""
        self.use(schema)
        row = self.read(f"SHOW CREATE {kind} {quote_mysql(name)}")
        if not row:
            raise Conflict(f"{kind.lower()} {schema!r}.{name!r} vanished")
        first = row[0]
        if kind == "VIEW":
            out = {"definition": first[1], "sql_mode": None, "time_zone": None, "collation": first[3]}
        elif kind == "EVENT":
            out = {"definition": first[3], "sql_mode": first[1], "time_zone": first[2], "collation": first[5]}
        else:   # TRIGGER, PROCEDURE, FUNCTION
            out = {"definition": first[2], "sql_mode": first[1], "time_zone": None, "collation": first[4]}
        if not out["definition"]:
            raise Conflict(f"the definition of {kind.lower()} {schema!r}.{name!r} is not readable by this account")
        return out

    def before_swap(self, orig: str, R: str, A: str, journal: str, meta: dict) -> None:
        if self.schema(R) is None:
            raise Conflict(f"restored database {R!r} vanished in the middle of the rename: run roll_back")
        if self.schema(orig) is None:
            if meta["original_existed"]:
                raise Conflict(f"{orig!r} vanished in the middle of the rename: resolve by hand")
            cs, coll = meta["restored_charset"]
            self.do(f"CREATE DATABASE {quote_mysql(orig)} CHARACTER SET {cs} COLLATE {coll}", "create original")
        self.journal_and_drop({"original": orig, "restored": R}, A, journal)
        moves = [(orig, t, A, t) for t in self.tables(orig)] + [(R, t, orig, t) for t in self.tables(R)]
        moves.append((A, journal, A, JOURNAL_PREFIX + SWAPPED))
        self.do("RENAME TABLE " + ", ".join(f"{quote_mysql(s)}.{quote_mysql(t)} TO {quote_mysql(d)}.{quote_mysql(u)}"
                                            for s, t, d, u in moves), "swap tables")
        self.details.append(f"moved {len(moves) - 1} tables in one RENAME TABLE")

    def journal_and_drop(self, schemas: dict[str, str], A: str, journal: str, kinds=MOVABLE_KINDS) -> None:
        """Save the definition of every object of `schemas` (role -> schema) in the journal, then drop it; one
        object at a time, triggers in firing order (the journal's order is the order they are recreated in)."""
        qj = f"{quote_mysql(A)}.{quote_mysql(journal)}"
        for role, schema in schemas.items():
            for kind, name in self.objects(schema):
                if kind not in kinds:
                    continue
                d = self.definition(schema, kind, name)
                self.do(f"INSERT INTO {qj} (role, kind, name, definition, sql_mode, time_zone, collation_connection)"
                        f" VALUES ({self.lit(role)}, {self.lit(kind)}, {self.lit(name)}, {self.lit(d['definition'])},"
                        f" {self.lit(d['sql_mode'])}, {self.lit(d['time_zone'])}, {self.lit(d['collation'])}) "
                        "ON DUPLICATE KEY UPDATE definition = VALUES(definition), sql_mode = VALUES(sql_mode), "
                        "time_zone = VALUES(time_zone), collation_connection = VALUES(collation_connection)",
                        f"journal {kind.lower()} {name}")
                self.do(f"DROP {kind} {quote_mysql(schema)}.{quote_mysql(name)}", f"drop {kind.lower()} {name}")

    def after_swap(self, orig: str, R: str, A: str, journal: str, meta: dict) -> RenameResult:
        cs, coll = meta["restored_charset"]
        if self.schema(orig) != (cs, coll):
            self.do(f"ALTER DATABASE {quote_mysql(orig)} CHARACTER SET {cs} COLLATE {coll}", "charset of original")
        _, entries = self.entries(A, journal)
        self.recreate(entries, {"original": (orig, A), "restored": (R, orig)}, A, journal)
        if self.schema(R) is not None:
            left = self.contents(R)
            if left:
                raise Conflict(f"{R!r} is not empty after the move ({', '.join(left[:10])}): it was not dropped")
            self.do(f"DROP DATABASE {quote_mysql(R)}", "drop restored")
        qj = f"{quote_mysql(A)}.{quote_mysql(journal)}"
        if meta["original_existed"]:
            self.do(f"DROP TABLE {qj}", "drop journal")
            self.details.append(f"{R!r} is now {orig!r}; the live data of before is under {A!r}")
        else:
            self.do(f"RENAME TABLE {qj} TO {quote_mysql(A)}.{quote_mysql(JOURNAL_PREFIX + DONE)}", "journal done")
            self.details.append(f"{orig!r} did not exist; {R!r} is now {orig!r} ({A!r} only marks the rename as done)")
        return RenameResult("Done", bool(meta["original_existed"]), tuple(self.details))

    def recreate(self, entries: list[_Entry], where: dict[str, tuple[str, str]], A: str, journal: str) -> None:
        """Create every journalled object missing from its target schema (`where`: role -> (source, target))."""
        pending = [e for kind in RECREATE_ORDER for e in entries if e.kind == kind and e.note != "expired"]
        present: dict[str, set] = {}
        for target in {t for _, t in where.values()}:
            present[target] = {(k, n.lower() if self.fold else n) for k, n in self.objects(target)}
        views_failed: list[tuple[_Entry, DbRenameError]] = []
        made = 0
        for e in pending:
            source, target = where[e.role]
            if (e.kind, e.name.lower() if self.fold else e.name) in present[target]:
                continue
            if e.kind == "VIEW":
                try:
                    self.create(e, source, target, entries)
                    made += 1
                except DbRenameError as err:      # may depend on a view not yet created: after the others
                    views_failed.append((e, err))
                continue
            if views_failed and e.kind != "VIEW":
                self.retry_views(views_failed, where, entries)
                views_failed = []
            self.create(e, source, target, entries)
            made += 1
            if e.kind == "EVENT" and not self.exists(target, "EVENT", e.name):
                self.do(f"UPDATE {quote_mysql(A)}.{quote_mysql(journal)} SET note = 'expired' WHERE k = {int(e.k)}",
                        f"event {e.name} expired")
                self.details.append(f"event {e.name!r} expired when recreated (schedule in the past, "
                                    "ON COMPLETION NOT PRESERVE)")
        if views_failed:
            self.retry_views(views_failed, where, entries)
        if made:
            self.details.append(f"recreated {made} views/triggers/routines/events")

    def retry_views(self, failed: list, where: dict, entries: list[_Entry]) -> None:
        while failed:
            still = []
            for e, err in failed:
                source, target = where[e.role]
                try:
                    self.create(e, source, target, entries)
                except DbRenameError as again:
                    still.append((e, again))
            if len(still) == len(failed):
                e, err = still[0]
                raise DbRenameError(f"view {e.name!r} cannot be recreated: {err}", code=err.code)
            failed = still

    def create(self, e: _Entry, source: str, target: str, entries: list[_Entry]) -> None:
        mode = e.sql_mode if e.sql_mode is not None else self.base_mode
        text = e.definition
        if e.kind != "VIEW" and not self.same(source, target):
            key = (e.role, target)
            if key not in self._names:      # the tables and views of the object's schema, and its routines
                self._names[key] = (set(self.tables(target)) | {x.name for x in entries
                                                               if x.role == e.role and x.kind == "VIEW"},
                                    {x.name for x in entries if x.role == e.role and x.kind in ("PROCEDURE",
                                                                                                "FUNCTION")})
            names, routines = self._names[key]
            text = rewrite_schema_qualifiers(text, source, target, ansi_quotes="ANSI_QUOTES" in mode.upper(),
                                             backslash_escapes="NO_BACKSLASH_ESCAPES" not in mode.upper(),
                                             fold_case=self.fold, schema_tables=names,
                                             schema_objects=names | routines)
        self.use(target)
        self.read(f"SET SESSION sql_mode = {self.lit(mode)}, "
                  f"time_zone = {self.lit(e.time_zone or self.base_tz)}, "
                  f"collation_connection = {self.lit(e.collation or self.base_collation)}")
        label = f"create {e.kind.lower()} {e.name} in {target}"
        try:
            try:
                self.do(text, label)
            except DbRenameError as err:
                stripped = strip_definer(text)
                if err.code != 1227 or stripped == text:
                    raise
                self.do(stripped, label)
                self.details.append(f"{e.kind.lower()} {target!r}.{e.name!r} recreated without its DEFINER "
                                    "(this account may not name another definer); its definer is now this account")
        finally:
            self.read(f"SET SESSION sql_mode = {self.lit(self.base_mode)}, time_zone = {self.lit(self.base_tz)}, "
                      f"collation_connection = {self.lit(self.base_collation)}")

    # -- backward
    def backward(self, original: str, restored: str, aside: str) -> RenameResult:
        orig, R, A = original, restored, aside
        if self.schema(A) is None:
            return RenameResult("RolledBack", False, (f"nothing to undo: {A!r} does not exist",))
        phase, journal = self.journal(A)
        if phase == DONE or (phase is None and self.schema(R) is None and self.schema(orig) is not None):
            raise Conflict(f"the rename of {R!r} into {orig!r} completed: roll_back does not undo it; run "
                           f"rename_back({orig!r}, restored={A!r}, aside=<new name>) to swap back")
        if phase is None:
            left = self.contents(A)
            if left:
                raise Conflict(f"{A!r} exists, is not empty and has no rename journal: resolve by hand")
            self.do(f"DROP DATABASE {quote_mysql(A)}", "drop aside")
            return RenameResult("RolledBack", False, (f"dropped the empty {A!r}",))
        assert journal is not None              # a phase is only read from a journal
        meta, entries = self.entries(A, journal)
        if meta is None:
            self.do(f"DROP TABLE {quote_mysql(A)}.{quote_mysql(journal)}", "drop journal")
            self.do(f"DROP DATABASE {quote_mysql(A)}", "drop aside")
            return RenameResult("RolledBack", False, ("nothing had moved",))
        if phase == SWAPPED:
            if self.schema(R) is None:
                cs, coll = meta["restored_charset"]
                self.do(f"CREATE DATABASE {quote_mysql(R)} CHARACTER SET {cs} COLLATE {coll}", "create restored")
            where = {"original": A, "restored": orig}
            for kind in ("TRIGGER", "EVENT", "VIEW", "PROCEDURE", "FUNCTION"):
                for e in entries:
                    if e.kind == kind and self.exists(where[e.role], kind, e.name):
                        self.do(f"DROP {kind} {quote_mysql(where[e.role])}.{quote_mysql(e.name)}",
                                f"drop {kind.lower()} {e.name} from {where[e.role]}")
            if self.tables(R):
                raise Conflict(f"{R!r} has tables again: cannot move the restored tables back into it")
            moves = [(orig, t, R, t) for t in self.tables(orig)]
            moves += [(A, t, orig, t) for t in self.tables(A) if t != journal]
            moves.append((A, journal, A, JOURNAL_PREFIX + PRE))
            self.do("RENAME TABLE " + ", ".join(
                f"{quote_mysql(s)}.{quote_mysql(t)} TO {quote_mysql(d)}.{quote_mysql(u)}" for s, t, d, u in moves),
                "swap tables back")
            journal = JOURNAL_PREFIX + PRE
        if self.schema(R) is None:
            cs, coll = meta["restored_charset"]
            self.do(f"CREATE DATABASE {quote_mysql(R)} CHARACTER SET {cs} COLLATE {coll}", "create restored")
        if meta["original_existed"]:
            cs, coll = meta["original_charset"]
            if self.schema(orig) is None:
                raise Conflict(f"{orig!r} vanished in the middle of the rename: resolve by hand")
            if self.schema(orig) != (cs, coll):
                self.do(f"ALTER DATABASE {quote_mysql(orig)} CHARACTER SET {cs} COLLATE {coll}", "charset of original")
        # triggers still on their tables would fire before those recreated from the journal: journal them too,
        # so that all are recreated in their first order
        schemas = {"original": orig, "restored": R} if meta["original_existed"] else {"restored": R}
        self.journal_and_drop(schemas, A, journal, kinds=("TRIGGER",))
        _, entries = self.entries(A, journal)
        self.recreate(entries, {"original": (orig, orig), "restored": (R, R)}, A, journal)
        if not meta["original_existed"] and self.schema(orig) is not None:
            left = self.contents(orig)
            if left:
                raise Conflict(f"{orig!r} did not exist before the rename but now holds {', '.join(left[:10])}: "
                               "it was not dropped")
            self.do(f"DROP DATABASE {quote_mysql(orig)}", "drop created original")
        self.do(f"DROP TABLE {quote_mysql(A)}.{quote_mysql(journal)}", "drop journal")
        left = self.contents(A)
        if left:
            raise Conflict(f"{A!r} is not empty after the roll-back ({', '.join(left[:10])}): it was not dropped")
        self.do(f"DROP DATABASE {quote_mysql(A)}", "drop aside")
        self.details.append(f"back to before: the live data under {orig!r}, the restored data under {R!r}")
        return RenameResult("RolledBack", False, tuple(self.details))


# -- PostgreSQL and SQL Server: whole databases are renamed -----------------------------------------------------------

class _DatabaseSwap:
    """`forward` / `backward` for engines that rename whole databases (see the module docstring). Subclasses give the
    primitives: `exists`, `is_mark` (the database is the original-missing mark), `mark` (make it one; idempotent),
    `create_marked`, `move` (rename, ending other sessions), `reopen` (undo what an interrupted `move` left
    blocking sessions), `note_closed` (say so in the details instead), `drop_mark` (drop a mark, verified empty)."""

    details: list[str]
    conn: Any

    # -- the primitives each engine gives
    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def is_mark(self, name: str) -> bool:
        raise NotImplementedError

    def mark(self, name: str) -> None:
        raise NotImplementedError

    def create_marked(self, name: str) -> None:
        raise NotImplementedError

    def drop_mark(self, name: str, label: str) -> None:
        raise NotImplementedError

    def move(self, src: str, dst: str, fresh: bool = False) -> None:
        raise NotImplementedError

    def reopen(self, name: str) -> None:
        raise NotImplementedError

    def note_closed(self, name: str) -> None:
        raise NotImplementedError

    def __enter__(self) -> "_DatabaseSwap":
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - closing a connection the server may already have ended
            pass

    @staticmethod
    def helper_name(aside: str) -> str:
        """The database the original-missing mark is made under before it is renamed to `aside`."""
        return "nestbackup_mark_" + hashlib.sha256(aside.encode("utf-8")).hexdigest()[:24]

    def forward(self, original: str, restored: str, aside: str) -> RenameResult:
        orig, R, A, M = original, restored, aside, self.helper_name(aside)
        if self.exists(M):                  # the original-missing mark was being made
            if self.exists(orig) or self.exists(A):
                raise Conflict(f"helper database {M!r} exists next to {orig!r}/{A!r}: resolve by hand")
            self.mark(M)
            self.move(M, A, fresh=True)
        o, r, a = self.exists(orig), self.exists(R), self.exists(A)
        if not r:
            if o and a:
                self.reopen(orig)
                kept = not self.is_mark(A)
                if kept:
                    self.note_closed(A)
                return RenameResult("Done", kept, (f"already done: {R!r} is {orig!r}",) + tuple(self.details))
            raise NotFound(f"restored database {R!r} does not exist and {orig!r} was not renamed from it: "
                           "nothing was changed")
        if o and a:
            raise Conflict(f"{orig!r}, {R!r} and {A!r} all exist: {A!r} is not this restore's aside database")
        if o:
            self.move(orig, A)
        elif not a:
            self.create_marked(M)
            self.move(M, A, fresh=True)
        self.move(R, orig)
        self.reopen(orig)
        kept = not self.is_mark(A)
        if kept:
            self.note_closed(A)
        self.details.append(f"{R!r} is now {orig!r}; " + (f"the live data of before is under {A!r}" if kept else
                            f"{orig!r} did not exist ({A!r} only marks the rename as done)"))
        return RenameResult("Done", kept, tuple(self.details))

    def backward(self, original: str, restored: str, aside: str) -> RenameResult:
        orig, R, A, M = original, restored, aside, self.helper_name(aside)
        if self.exists(M):
            self.drop_mark(M, "drop helper")
        o, r, a = self.exists(orig), self.exists(R), self.exists(A)
        if not a:
            if o:
                self.reopen(orig)
            if r:
                self.note_closed(R)
            return RenameResult("RolledBack", False, (f"nothing to undo: {A!r} does not exist",) + tuple(self.details))
        if o:
            if not r:
                raise Conflict(f"the rename of {R!r} into {orig!r} completed: roll_back does not undo it; run "
                               f"rename_back({orig!r}, restored={A!r}, aside=<new name>) to swap back")
            raise Conflict(f"{orig!r}, {R!r} and {A!r} all exist: resolve by hand")
        if self.is_mark(A):
            self.drop_mark(A, "drop helper aside")
        else:
            self.move(A, orig)
            self.reopen(orig)
        if r:
            self.note_closed(R)
        self.details.append(f"back to before: the live data under {orig!r}, the restored data under {R!r}")
        return RenameResult("RolledBack", False, tuple(self.details))


class _Postgres(_DatabaseSwap):
    TERMINATE_TRIES = 5

    def __init__(self, server: DbServer, hook: Hook | None) -> None:
        import psycopg2

        self._pg = psycopg2
        self.server = server
        try:
            self.conn = psycopg2.connect(host=server.host, port=int(server.port), user=server.user,
                                         password=server.password, dbname=server.maintenance_db,
                                         connect_timeout=server.connect_timeout)
        except psycopg2.Error as err:
            raise DbRenameError(f"cannot connect to PostgreSQL {server.host}:{server.port}: {err}",
                                code=getattr(err, "pgcode", None)) from err
        self.conn.autocommit = True
        self.hook = hook
        self.details: list[str] = []

    def read(self, sql: str, args: tuple | None = None) -> list[tuple]:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall()) if cur.description else []
        except self._pg.Error as err:
            raise DbRenameError(f"{sql[:200]}: {err}", code=err.pgcode) from err

    def do(self, sql: str, label: str, args: tuple | None = None) -> None:
        """`args` only with statements that hold no identifier (psycopg2 would read a % in a name)."""
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
        except self._pg.Error as err:
            raise DbRenameError(f"{label}: {err}", code=err.pgcode) from err
        if self.hook:
            self.hook(label)

    def db(self, name: str) -> dict | None:
        rows = self.read("SELECT datname, datallowconn, shobj_description(oid, 'pg_database') FROM pg_database "
                         "WHERE datname = %s", (name,))
        return {"allow": rows[0][1], "comment": rows[0][2]} if rows else None

    def comment(self, name: str, text: str) -> str:
        from psycopg2 import sql as pgsql
        return f"COMMENT ON DATABASE {quote_pg(name)} IS " + pgsql.Literal(text).as_string(self.conn)

    def empty(self, name: str) -> bool:
        """No relation outside the system schemas (connects to the database)."""
        s = self.server
        try:
            conn = self._pg.connect(host=s.host, port=int(s.port), user=s.user, password=s.password, dbname=name,
                                    connect_timeout=s.connect_timeout)
        except self._pg.Error:
            return False
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                            "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'")
                return cur.fetchone()[0] == 0
        finally:
            conn.close()

    def move(self, src: str, dst: str, fresh: bool = False) -> None:
        """ALTER DATABASE src RENAME TO dst, after ending every other session on src (and, unless `fresh`, i.e. made
        by this step, refusing new ones meanwhile)."""
        before = self._db(src)
        blocked = False
        if fresh:
            pass
        elif before["allow"]:
            try:
                self.do(f"ALTER DATABASE {quote_pg(src)} ALLOW_CONNECTIONS false", f"block connections to {src}")
                blocked = True
            except DbRenameError as err:
                if err.code != "42501":           # insufficient privilege: go on without blocking
                    raise
                self.details.append(f"could not block new connections to {src!r}: {err}")
        else:
            self.details.append(f"{src!r} did not accept connections (ALLOW_CONNECTIONS false); left so")
        for attempt in range(self.TERMINATE_TRIES):
            self.do("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()", f"end sessions on {src}", (src,))
            try:
                self.do(f"ALTER DATABASE {quote_pg(src)} RENAME TO {quote_pg(dst)}", f"rename {src} to {dst}")
                break
            except DbRenameError as err:
                if err.code != "55006" or attempt == self.TERMINATE_TRIES - 1:   # object_in_use
                    raise
                time.sleep(0.2 * (attempt + 1))
        if blocked:
            self.do(f"ALTER DATABASE {quote_pg(dst)} ALLOW_CONNECTIONS true", f"allow connections to {dst}")
        self.details.append(f"renamed {src!r} to {dst!r}")

    def exists(self, name: str) -> bool:
        return self.db(name) is not None

    def is_mark(self, name: str) -> bool:
        return self._db(name)["comment"] == PG_MARKER_COMMENT

    def _db(self, name: str) -> dict:
        """A database that must exist (the swap checked it a statement before)."""
        found = self.db(name)
        if found is None:
            raise Conflict(f"database {name!r} vanished in the middle of the rename: run the step again")
        return found

    def mark(self, name: str) -> None:
        if not self.is_mark(name):
            self.do(self.comment(name, PG_MARKER_COMMENT), "mark helper")

    def create_marked(self, name: str) -> None:
        self.do(f"CREATE DATABASE {quote_pg(name)} TEMPLATE template0", "create helper")
        self.mark(name)

    def drop_mark(self, name: str, label: str) -> None:
        self.reopen(name)
        if not self.empty(name):
            raise Conflict(f"{name!r} is marked as an empty helper but is not empty: resolve by hand")
        self.do(f"DROP DATABASE {quote_pg(name)}", label)

    def reopen(self, name: str) -> None:
        info = self.db(name)
        if info and not info["allow"]:
            self.do(f"ALTER DATABASE {quote_pg(name)} ALLOW_CONNECTIONS true", f"allow connections to {name}")
            self.details.append(f"{name!r} accepts connections again (an interrupted run had blocked them)")

    def note_closed(self, name: str) -> None:
        info = self.db(name)
        if info and not info["allow"]:
            self.details.append(f"{name!r} does not accept connections (ALLOW_CONNECTIONS false), maybe left so by "
                                f"an interrupted run: ALTER DATABASE … ALLOW_CONNECTIONS true to use it")


# -- SQL Server -----------------------------------------------------------------------------------------------------

class _SqlServer(_DatabaseSwap):
    """The whole-database swap in T-SQL (see the module docstring). Names compare case-insensitively, as in SQL
    Server's default collation; every identifier is bracket-quoted and every name in a literal is N'…'-quoted."""
    LOCK_TRIES = 5
    LOCKED = (5030, 5061, 924)      # cannot lock exclusively / ALTER failed because a lock … / already open

    def __init__(self, server: DbServer, hook: Hook | None) -> None:
        import pytds

        self._tds = pytds
        try:
            self.conn = pytds.connect(dsn=server.host, port=int(server.port), user=server.user,
                                      password=server.password, database=server.maintenance_db, autocommit=True,
                                      login_timeout=server.connect_timeout, timeout=120)
        except (pytds.Error, OSError) as err:
            raise DbRenameError(f"cannot connect to SQL Server {server.host}:{server.port}: {err}",
                                code=getattr(err, "number", None)) from err
        self.hook = hook
        self.details: list[str] = []

    def read(self, sql: str) -> list[tuple]:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
                return [tuple(row) for row in cur.fetchall()] if cur.description else []
        except (self._tds.Error, OSError) as err:
            raise DbRenameError(f"{sql[:200]}: {err}", code=getattr(err, "number", None)) from err

    def do(self, sql: str, label: str) -> None:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
        except (self._tds.Error, OSError) as err:
            raise DbRenameError(f"{label}: {err}", code=getattr(err, "number", None)) from err
        if self.hook:
            self.hook(label)

    def db(self, name: str) -> dict | None:
        rows = self.read(f"SELECT name, user_access_desc FROM sys.databases WHERE name = {literal_mssql(name)}")
        return {"name": rows[0][0], "single": rows[0][1] == "SINGLE_USER"} if rows else None

    def exists(self, name: str) -> bool:
        return self.db(name) is not None

    def tables(self, name: str) -> set[tuple[str, str]]:
        q = quote_mssql(name)
        return {tuple(r) for r in self.read(f"SELECT s.name, t.name FROM {q}.sys.tables AS t "
                                            f"JOIN {q}.sys.schemas AS s ON s.schema_id = t.schema_id")}

    def is_mark(self, name: str) -> bool:
        """`name` holds the original-missing mark and nothing else."""
        return self.tables(name) == {("dbo", MSSQL_MARK_TABLE)}

    def mark(self, name: str) -> None:
        table = f"{quote_mssql(name)}.[dbo].{quote_mssql(MSSQL_MARK_TABLE)}"
        if ("dbo", MSSQL_MARK_TABLE) not in self.tables(name):
            self.do(f"CREATE TABLE {table} ([note] NVARCHAR(400))", "mark helper")
            self.do(f"INSERT INTO {table} VALUES ({literal_mssql(PG_MARKER_COMMENT)})", "note in helper")

    def create_marked(self, name: str) -> None:
        self.do(f"CREATE DATABASE {quote_mssql(name)}", "create helper")
        self.mark(name)

    def drop_mark(self, name: str, label: str) -> None:
        self.reopen(name)
        if self.tables(name) - {("dbo", MSSQL_MARK_TABLE)}:
            raise Conflict(f"{name!r} is marked as an empty helper but is not empty: resolve by hand")
        self.do(f"DROP DATABASE {quote_mssql(name)}", label)

    def move(self, src: str, dst: str, fresh: bool = False) -> None:
        """Rename `src` to `dst`, ending the other sessions on it first; it is multi-user again afterwards (so
        `fresh` changes nothing here)."""
        for attempt in range(self.LOCK_TRIES):
            self.do(f"ALTER DATABASE {quote_mssql(src)} SET SINGLE_USER WITH ROLLBACK IMMEDIATE",
                    f"end sessions on {src}")
            try:
                self.do(f"ALTER DATABASE {quote_mssql(src)} MODIFY NAME = {quote_mssql(dst)}",
                        f"rename {src} to {dst}")
                break
            except DbRenameError as err:
                if err.code not in self.LOCKED or attempt == self.LOCK_TRIES - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        self.do(f"ALTER DATABASE {quote_mssql(dst)} SET MULTI_USER", f"allow sessions on {dst}")
        self.details.append(f"renamed {src!r} to {dst!r}")

    def reopen(self, name: str) -> None:
        info = self.db(name)
        if info and info["single"]:
            self.do(f"ALTER DATABASE {quote_mssql(name)} SET MULTI_USER", f"allow sessions on {name}")
            self.details.append(f"{name!r} is multi-user again (an interrupted run had left it single-user)")

    def note_closed(self, name: str) -> None:
        info = self.db(name)
        if info and info["single"]:
            self.details.append(f"{name!r} is SINGLE_USER, maybe left so by an interrupted run: "
                                f"ALTER DATABASE … SET MULTI_USER to use it")
