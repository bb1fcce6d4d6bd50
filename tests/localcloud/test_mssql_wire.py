"""The local SQL Server stand-in through the unmodified pytds client over TCP: the real TDS wire protocol."""
from __future__ import annotations

import json
import socket
import time
from decimal import Decimal

import pytds
import pytest

from localcloud.mssql import Catalog, MssqlServer, SqlError
from tests.support import wait_until

USER, PASSWORD = "sa", "Local#Secret1"
SYSTEM = ["master", "tempdb", "model", "msdb"]
HOSTILE_DB = "we]ird'; DROP DATABASE x;--"
HOSTILE_TABLE = 't]"; --'
# A protocol bug shows up as a client waiting forever: fail fast instead.
pytestmark = pytest.mark.timeout(10)

LONG_NAME = "长" * 64 + "n" * 63 + "]"  # 128 characters, unicode and a closing bracket


def qid(name: str) -> str:
    return "[" + name.replace("]", "]]") + "]"


def qstr(value: str) -> str:
    return "N'" + value.replace("'", "''") + "'"


@pytest.fixture
def server(tmp_path):
    srv = MssqlServer(Catalog(tmp_path / "mssql.json"), user=USER, password=PASSWORD)
    srv.start()
    yield srv
    srv.close()


def connect(server: MssqlServer, database: str = "master", password: str = PASSWORD, **kw):
    return pytds.connect(dsn="127.0.0.1", port=server.port, user=USER, password=password, database=database,
                         autocommit=True, login_timeout=5, **kw)


def run(conn, sql: str):
    """Execute a batch; return the rows of its first result set, or its row count."""
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall() if cur.description else cur.rowcount


def error_number(conn, sql: str) -> int:
    with pytest.raises(pytds.Error) as info:
        run(conn, sql)
    return info.value.number


def databases(conn) -> list[tuple[str, str]]:
    return run(conn, "SELECT name, user_access_desc FROM sys.databases")


# ---------------------------------------------------------------------------------------------- login
def test_login_and_version(server):
    with connect(server) as conn:
        [(version,)] = run(conn, "SELECT @@VERSION")
    assert version.startswith("Microsoft SQL Server") and "stand-in" in version


@pytest.mark.parametrize("user,password", [(USER, "wrong"), ("nobody", PASSWORD)])
def test_wrong_credentials_fail_with_18456(server, user, password):
    started = time.monotonic()
    with pytest.raises(pytds.Error) as info:
        pytds.connect(dsn="127.0.0.1", port=server.port, user=user, password=password, database="master",
                      autocommit=True, login_timeout=5)
    assert info.value.number == 18456
    assert f"Login failed for user '{user}'" in str(info.value)
    assert time.monotonic() - started < 2  # 18456 is final for pytds: no retries until the login timeout
    assert server.engine.sessions() == []


def test_login_database_is_applied_and_checked(server):
    with connect(server) as conn:
        run(conn, "CREATE DATABASE shop")
    with connect(server, database="SHOP") as conn:  # case-insensitive, current database keeps its spelling
        run(conn, "CREATE TABLE t (id INT)")
        assert server.catalog.database_info("shop")["Tables"] == {"dbo.t": 0}
        # the first connection's session ends when the server reads its close, which may come after this login
        wait_until(lambda: [s.database for s in server.engine.sessions()] == ["shop"], timeout=5)
    with pytest.raises(pytds.Error) as info:
        connect(server, database="nowhere")
    assert info.value.number == 18456
    assert 'Cannot open database "nowhere" requested by the login' in str(info.value)


def test_transaction_requests_are_answered_when_autocommit_is_off(server):
    conn = pytds.connect(dsn="127.0.0.1", port=server.port, user=USER, password=PASSWORD, database="master",
                         autocommit=False, login_timeout=5)
    with conn:
        run(conn, "CREATE DATABASE tx")
        conn.commit()
        conn.rollback()  # no transactions behind it: the database stays
        assert run(conn, "SELECT name FROM sys.databases WHERE name = N'tx'") == [("tx",)]


# ---------------------------------------------------------------------------------------------- data
def test_create_insert_count_select_delete(server):
    with connect(server) as conn:
        run(conn, "CREATE DATABASE shop; USE shop -- comment\n; "
                  "CREATE TABLE dbo.orders ([id] BIGINT NOT NULL, note NVARCHAR(50) NULL, price DECIMAL(10, 2), "
                  "CONSTRAINT pk PRIMARY KEY (id))")
        assert run(conn, "INSERT INTO orders VALUES (1, N'it''s', 9.99), (2, NULL, -3), (3, N'茶', 0.5)") == 3
        assert run(conn, "INSERT INTO shop.dbo.orders (note, id) VALUES ('partial', 4)") == 1
        assert run(conn, "SELECT COUNT_BIG(*) FROM shop.dbo.orders") == [(4,)]
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM orders")
            assert [d[0] for d in cur.description] == ["id", "note", "price"]
            rows = cur.fetchall()
        assert rows == [(1, "it's", Decimal("9.99")), (2, None, Decimal(-3)), (3, "茶", Decimal("0.5")),
                        (4, "partial", None)]
        assert all(isinstance(r[0], int) and not isinstance(r[2], float) for r in rows)
        assert run(conn, "SELECT s.name, t.name FROM shop.sys.tables AS t JOIN shop.sys.schemas AS s "
                         "ON s.schema_id = t.schema_id") == [("dbo", "orders")]
        assert error_number(conn, "SELECT s.name, t.name FROM nowhere.sys.tables AS t "
                                  "JOIN nowhere.sys.schemas AS s ON s.schema_id = t.schema_id") == 911
        assert run(conn, "DELETE FROM orders WHERE note = N'PARTIAL'") == 1  # CI collation
        assert run(conn, "DELETE FROM orders WHERE id = 99") == 0
        assert run(conn, "DELETE FROM orders WHERE id >= 3") == 1
        assert run(conn, "DELETE FROM orders WHERE note <> N'IT''S'") == 0    # NULL compares to nothing
        assert run(conn, "DELETE FROM dbo.orders") == 2
        assert run(conn, "SELECT COUNT_BIG(*) FROM orders") == [(0,)]


def test_statement_errors_carry_sql_server_numbers(server):
    with connect(server) as conn:
        run(conn, "CREATE DATABASE shop; CREATE TABLE shop.dbo.t (a INT)")
        assert error_number(conn, "CREATE DATABASE SHOP") == 1801
        assert error_number(conn, "CREATE DATABASE master") == 1801
        assert error_number(conn, "DROP DATABASE nowhere") == 911
        assert error_number(conn, "USE nowhere") == 911
        assert error_number(conn, "CREATE TABLE shop.dbo.T (b INT)") == 2714
        assert error_number(conn, "CREATE TABLE nowhere.dbo.t (b INT)") == 911
        assert error_number(conn, "INSERT INTO t (a) VALUES (1)") == 208  # current database is master
        assert error_number(conn, "INSERT INTO shop.dbo.t (nope) VALUES (1)") == 207
        with conn.cursor() as cur:  # results before a failing statement arrive; the batch stops at it
            cur.execute("SELECT COUNT_BIG(*) FROM shop.dbo.t; SELECT * FROM shop.x.t; CREATE DATABASE after")
            assert cur.fetchall() == [(0,)]
            with pytest.raises(pytds.ProgrammingError, match=r"Invalid object name 'shop\.x\.t'") as info:
                cur.nextset()
            assert info.value.number == 208
        assert "after" not in [name for name, _ in databases(conn)]
        assert error_number(conn, "CREATE DATABASE " + qid("x" * 129)) == 103
        assert error_number(conn, "CREATE DATABASE []") == 1038
        assert run(conn, "SELECT COUNT_BIG(*) FROM shop.dbo.t") == [(0,)]


def test_unsupported_statement_is_102_and_the_session_survives(server):
    with connect(server) as conn:
        with pytest.raises(pytds.ProgrammingError) as info:
            run(conn, "CREATE DATABASE early; UPDATE t SET a = 1")
        assert info.value.number == 102
        assert "Incorrect syntax near 'UPDATE'" in str(info.value)
        assert "supports only" in str(info.value)
        # the batch was rejected as a whole, as SQL Server does with syntax errors
        assert "early" not in [name for name, _ in databases(conn)]
        assert error_number(conn, "SELECT * FROM") == 102
        assert error_number(conn, "SELECT 'unterminated") == 105
        assert run(conn, "SELECT @@VERSION")[0][0].startswith("Microsoft SQL Server")


def test_hostile_names_round_trip_without_touching_other_databases(server):
    with connect(server) as conn:
        run(conn, "CREATE DATABASE bystander; CREATE TABLE bystander.dbo.keep (a INT); "
                  "INSERT INTO bystander.dbo.keep VALUES (1), (2)")
        run(conn, f"CREATE DATABASE {qid(HOSTILE_DB)}")
        table = f"{qid(HOSTILE_DB)}.dbo.{qid(HOSTILE_TABLE)}"
        run(conn, f"CREATE TABLE {table} ({qid('c]ol')} NVARCHAR(10))")
        assert run(conn, f"INSERT INTO {table} VALUES ({qstr(HOSTILE_DB)}), (N'x')") == 2

        assert (HOSTILE_DB, "MULTI_USER") in databases(conn)
        assert run(conn, f"SELECT name FROM sys.databases WHERE name = {qstr(HOSTILE_DB)}") == [(HOSTILE_DB,)]
        assert run(conn, f"SELECT s.name, t.name FROM {qid(HOSTILE_DB)}.sys.tables t "
                         f"JOIN {qid(HOSTILE_DB)}.sys.schemas s ON s.schema_id = t.schema_id "
                         f"WHERE t.name = {qstr(HOSTILE_TABLE)}") == [("dbo", HOSTILE_TABLE)]
        assert run(conn, f"SELECT COUNT_BIG(*) FROM {table}") == [(2,)]
        assert run(conn, f"SELECT * FROM {table}") == [(HOSTILE_DB,), ("x",)]

        run(conn, f"ALTER DATABASE {qid(HOSTILE_DB)} MODIFY NAME = {qid(LONG_NAME)}")
        names = [name for name, _ in databases(conn)]
        assert LONG_NAME in names and HOSTILE_DB not in names
        assert run(conn, f"SELECT COUNT_BIG(*) FROM {qid(LONG_NAME)}.dbo.{qid(HOSTILE_TABLE)}") == [(2,)]
        assert server.catalog.database_info(LONG_NAME)["Tables"] == {f"dbo.{HOSTILE_TABLE}": 2}

        run(conn, f"USE {qid(LONG_NAME)}")
        run(conn, "USE master")
        run(conn, f"DROP DATABASE {qid(LONG_NAME)}")
        assert databases(conn) == [(n, "MULTI_USER") for n in SYSTEM] + [("bystander", "MULTI_USER")]
        assert run(conn, "SELECT * FROM bystander.dbo.keep") == [(1,), (2,)]
    assert server.catalog.databases() == ["bystander"]


def test_modify_name_single_user_and_multi_user(server):
    admin, holder = connect(server), connect(server)
    try:
        run(admin, "CREATE DATABASE src; CREATE DATABASE other; CREATE TABLE src.dbo.t (a INT); "
                   "INSERT INTO src.dbo.t VALUES (1), (2), (3)")
        assert error_number(admin, "ALTER DATABASE src MODIFY NAME = OTHER") == 1801
        assert error_number(admin, "ALTER DATABASE nowhere MODIFY NAME = x") == 911
        run(holder, "USE src")
        assert error_number(admin, "ALTER DATABASE src MODIFY NAME = dst") == 5030
        assert error_number(admin, "DROP DATABASE src") == 3702

        run(admin, "ALTER DATABASE src SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
        with pytest.raises((pytds.Error, OSError)):  # its socket was closed by the server
            run(holder, "SELECT @@VERSION")
        assert len(server.engine.sessions()) == 1
        assert ("src", "SINGLE_USER") in databases(admin)

        run(admin, "ALTER DATABASE src MODIFY NAME = dst")
        info = server.catalog.database_info("dst")
        assert info == {"Collation": "Chinese_PRC_CI_AS", "UserAccess": "SINGLE_USER", "Tables": {"dbo.t": 3}}
        assert server.catalog.database_info("src") is None

        first, second = connect(server), connect(server)
        try:
            run(first, "USE dst")
            assert error_number(second, "USE dst") == 924
            with pytest.raises(pytds.Error, match="already open and can only have one user"):
                connect(server, database="dst")
            run(admin, "ALTER DATABASE dst SET MULTI_USER")
            run(second, "USE dst")
            assert run(second, "SELECT COUNT_BIG(*) FROM t") == [(3,)]
            assert sorted(s.database for s in server.engine.sessions()) == ["dst", "dst", "master"]
        finally:
            first.close()
            second.close()
    finally:
        admin.close()
        holder.close()


def test_rename_follows_the_renaming_sessions_current_database(server):
    with connect(server) as conn:
        run(conn, "CREATE DATABASE a; USE a; CREATE TABLE t (x INT); ALTER DATABASE a MODIFY NAME = b")
        assert run(conn, "INSERT INTO t VALUES (7)") == 1
        assert server.catalog.database_info("b")["Tables"] == {"dbo.t": 1}
        run(conn, "ALTER DATABASE b MODIFY NAME = B")  # same database, new spelling
        assert [s.database for s in server.engine.sessions()] == ["B"]


# ---------------------------------------------------------------------------------------------- persistence
def test_data_survives_a_restart_and_export_import_round_trips(server, tmp_path):
    with connect(server) as conn:
        run(conn, "CREATE DATABASE keep; CREATE TABLE keep.dbo.t (a INT, b NVARCHAR(5), c DECIMAL(5,1)); "
                  "INSERT INTO keep.dbo.t VALUES (1, N'é', 1.5), (NULL, NULL, NULL); "
                  "ALTER DATABASE keep SET SINGLE_USER WITH ROLLBACK IMMEDIATE")
    server.close()
    assert not list(tmp_path.glob("*.tmp"))
    json.loads((tmp_path / "mssql.json").read_text())  # a complete document on disk

    catalog = Catalog(tmp_path / "mssql.json")
    again = MssqlServer(catalog, user=USER, password=PASSWORD)
    again.start()
    try:
        with connect(again) as conn:
            assert ("keep", "SINGLE_USER") in databases(conn)
            assert run(conn, "SELECT * FROM keep.dbo.t") == [(1, "é", Decimal("1.5")), (None, None, None)]
            content = catalog.export_database("KEEP")
            json.dumps(content)
            catalog.import_database("keep copy", content)
            with pytest.raises(SqlError) as info:
                catalog.import_database("Keep Copy", content)
            assert info.value.number == 1801
            assert run(conn, "SELECT COUNT_BIG(*) FROM [keep copy].dbo.t") == [(2,)]
            assert catalog.database_info("keep copy")["UserAccess"] == "MULTI_USER"
            assert catalog.databases() == ["keep", "keep copy"]
            catalog.drop_database("keep copy")
            with pytest.raises(SqlError) as info:
                catalog.drop_database("keep copy")
            assert info.value.number == 911
            with pytest.raises(SqlError) as info:
                catalog.export_database("keep copy")
            assert info.value.number == 911
    finally:
        again.close()


def test_check_name(tmp_path):
    catalog = Catalog(tmp_path / "c.json")
    assert catalog.check_name(HOSTILE_DB) is None
    assert catalog.check_name(LONG_NAME) is None
    for bad in ["", "x" * 129, "😀" * 65, "MASTER", "tempdb", "a\x00b"]:  # 65 astral chars = 130 UTF-16 units
        assert catalog.check_name(bad), bad
        with pytest.raises(SqlError):
            catalog.import_database(bad, {"tables": []})
    assert catalog.databases() == []


# ---------------------------------------------------------------------------------------------- wire
def test_large_result_and_long_batch_span_many_packets(server):
    with connect(server) as conn:
        run(conn, "CREATE DATABASE big; USE big; CREATE TABLE rows (id INT, label NVARCHAR(100))")
        batch = ";\n".join(
            "INSERT INTO rows VALUES " + ", ".join(f"({i}, N'row {i} ''quoted'' 行')" for i in range(s, s + 1000))
            for s in range(0, 5000, 1000))
        assert len(batch.encode("utf-16-le")) > 8 * 4096
        assert run(conn, batch) == 1000  # the first statement's count; all five ran
        assert run(conn, "SELECT COUNT_BIG(*) FROM rows") == [(5000,)]
        rows = run(conn, "SELECT * FROM rows")
        assert len(rows) == 5000
        assert rows[0] == (0, "row 0 'quoted' 行") and rows[-1] == (4999, "row 4999 'quoted' 行")

        long_text = "λ" * 30000  # more than NVARCHAR(4000): sent as NVARCHAR(MAX)
        run(conn, f"CREATE TABLE doc (body NVARCHAR(MAX)); INSERT INTO doc VALUES (N'{long_text}'), (NULL)")
        assert run(conn, "SELECT * FROM doc") == [(long_text,), (None,)]


def test_small_client_packet_size_and_cancelled_reads(server):
    with connect(server, blocksize=512) as conn:
        run(conn, "CREATE DATABASE p; CREATE TABLE p.dbo.t (a INT, b NVARCHAR(50)); "
                  + "INSERT INTO p.dbo.t VALUES " + ", ".join(f"({i}, N'{'x' * 40}')" for i in range(300)))
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM p.dbo.t")
            assert cur.fetchone() == (0, "x" * 40)
            # the rest is unread: pytds sends ATTENTION and waits for its acknowledgement first
            cur.execute("SELECT COUNT_BIG(*) FROM p.dbo.t")
            assert cur.fetchall() == [(300,)]


def test_close_disconnects_clients_and_stops_listening(server):
    conn = connect(server)
    started = time.monotonic()
    server.close()
    assert time.monotonic() - started < 2
    with pytest.raises((pytds.Error, OSError)):
        run(conn, "SELECT @@VERSION")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1)
