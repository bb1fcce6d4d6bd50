"""Renaming restored SQL Server databases back into place, over the TDS wire to the local SQL Server stand-in
(localcloud.mssql: the real protocol and the unmodified pytds client, a JSON catalog instead of an engine).

What this verifies: the statements, their quoting and order, the crash-safety of the sequence, the error numbers
acted on. What it cannot: how a real SQL Server (or the RDS privileged account) executes them."""
from __future__ import annotations

import uuid

import pytest

from localcloud.mssql import Catalog, MssqlServer
from nestbackup.adapters.databases import DbServer, rename_back, roll_back, row_counts
from nestbackup.adapters.databases.sqlserver import _SqlServer
from nestbackup.adapters.databases.values import MSSQL_MARK_TABLE
from nestbackup.decisions.dbnames import aside_name, literal_mssql, quote_mssql, restored_name
from nestbackup.errors import Conflict, NotFound
from tests.adapters.test_dbrename_crash import Crash, crash_at, crashed, statements
from tests.support import mssql_connect, mssql_run

ENGINE = "SQLServer"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = MssqlServer(Catalog(tmp_path_factory.mktemp("mssql") / "catalog.json"), user="sa", password="pw")
    port = srv.start()
    yield DbServer(ENGINE, "127.0.0.1", port, "sa", "pw", maintenance_db="master")
    srv.close()


def connect(server: DbServer, database: str = "master"):
    return mssql_connect(server.port, database, server.user, server.password)


def run(server: DbServer, *sqls: str) -> list:
    return mssql_run(server.port, *sqls, user=server.user, password=server.password)


def exists(server: DbServer, name: str) -> bool:
    return bool(run(server, f"SELECT name FROM sys.databases WHERE name = {literal_mssql(name)}"))


def snapshot(server: DbServer, db: str) -> dict:
    """What a database holds: its user access and every table's row count."""
    access = run(server, f"SELECT name, user_access_desc FROM sys.databases WHERE name = {literal_mssql(db)}")
    return {"access": access[0][1], "tables": row_counts(server, db)}


def build(server: DbServer, db: str, rows: int, table: str = "orders") -> None:
    t = f"{quote_mssql(db)}.[dbo].{quote_mssql(table)}"
    run(server, f"CREATE DATABASE {quote_mssql(db)}", f"CREATE TABLE {t} ([id] INT NOT NULL, [note] NVARCHAR(50))",
        *[f"INSERT INTO {t} VALUES ({i}, N'row ''{i}''')" for i in range(rows)])


def names(style: str = "plain") -> tuple[str, str, str]:
    tag = uuid.uuid4().hex[:10]
    rid = f"restore-{uuid.uuid4().hex[:20]}"
    original = {"plain": f"nbt{tag}_shop", "hostile": f"nbt{tag} ]]q\"'; DROP DATABASE x; -- é中",
                "maxlen": f"nbt{tag}" + "é" * (128 - 3 - len(tag))}[style]
    return original, restored_name(original, rid, ENGINE), aside_name(original, rid, ENGINE)


@pytest.fixture
def made(server):
    made: list[str] = []
    yield made
    for name in made:
        if exists(server, name):
            run(server, f"ALTER DATABASE {quote_mssql(name)} SET MULTI_USER", f"DROP DATABASE {quote_mssql(name)}")


def setup(server, made, style="hostile", with_original=True, table="t]\"; --") -> tuple[str, str, str]:
    o, r, a = names(style)
    made += [o, r, a, _SqlServer.helper_name(a)]
    if with_original:
        build(server, o, 3, table)
    build(server, r, 5, table)
    return o, r, a


@pytest.mark.parametrize("style", ["plain", "hostile", "maxlen"])
def test_rename_back_swaps_the_databases_and_keeps_the_live_one_aside(server, made, style):
    o, r, a = setup(server, made, style)
    before_o, before_r = snapshot(server, o), snapshot(server, r)
    bystander = f"nbt{uuid.uuid4().hex[:10]}_other"
    made.append(bystander)
    build(server, bystander, 2)
    result = rename_back(server, o, r, a)
    assert result.status == "Done" and result.aside_kept
    assert snapshot(server, o) == before_r and snapshot(server, a) == before_o and not exists(server, r)
    assert snapshot(server, bystander)["tables"] == {"dbo.orders": 2}
    again = rename_back(server, o, r, a)                     # a re-run finds it done
    assert again.status == "Done" and again.aside_kept and "already done" in again.details[0]


def test_sessions_on_the_live_database_are_ended(server, made):
    o, r, a = setup(server, made, "plain")
    app = connect(server, o)                                 # an application still connected to the live database
    rename_back(server, o, r, a)
    with pytest.raises(Exception):  # noqa: B017 - the closed connection fails with whatever the driver meets first
        with app.cursor() as cur:
            cur.execute("SELECT @@VERSION")
            cur.fetchall()
    assert row_counts(server, o) == {'dbo.t]"; --': 5}


def test_original_missing_leaves_a_marked_empty_aside(server, made):
    o, r, a = setup(server, made, with_original=False)
    result = rename_back(server, o, r, a)
    assert result.status == "Done" and not result.aside_kept
    assert row_counts(server, o) == {'dbo.t]"; --': 5}
    assert row_counts(server, a) == {f"dbo.{MSSQL_MARK_TABLE}": 1}
    with pytest.raises(Conflict, match="completed"):
        roll_back(server, o, r, a)


def test_restored_missing_raises_and_touches_nothing(server, made):
    o, r, a = setup(server, made)
    run(server, f"DROP DATABASE {quote_mssql(r)}")
    before = snapshot(server, o)
    with pytest.raises(NotFound):
        rename_back(server, o, r, a)
    assert snapshot(server, o) == before and not exists(server, a)


def test_an_aside_that_is_not_ours_is_refused(server, made):
    o, r, a = setup(server, made)
    build(server, a, 1)
    with pytest.raises(Conflict, match="all exist"):
        rename_back(server, o, r, a)
    assert row_counts(server, a) == {"dbo.orders": 1}


def forward_labels(server, with_original: bool) -> list[str]:
    made: list[str] = []
    try:
        o, r, a = setup(server, made, with_original=with_original)
        return statements(rename_back, server, o, r, a)
    finally:
        for name in made:
            if exists(server, name):
                run(server, f"ALTER DATABASE {quote_mssql(name)} SET MULTI_USER", f"DROP DATABASE {quote_mssql(name)}")


@pytest.mark.parametrize("with_original", [True, False])
def test_crash_after_every_statement_then_re_run_or_roll_back(server, with_original):
    labels = forward_labels(server, with_original)
    assert len(labels) == (6 if with_original else 9)
    for i, label in enumerate(labels, 1):
        for then in ("re-run", "roll back"):
            made: list[str] = []
            try:
                o, r, a = setup(server, made, with_original=with_original)
                before_o = row_counts(server, o) if with_original else None
                before_r = row_counts(server, r)
                assert crashed(rename_back, server, o, r, a, at=i) == label
                complete = i >= labels.index("rename <R> to <O>") + 1
                if then == "roll back" and complete:
                    with pytest.raises(Conflict, match="completed"):
                        roll_back(server, o, r, a)
                if then == "re-run" or complete:
                    result = rename_back(server, o, r, a)
                    assert result.status == "Done" and result.aside_kept is with_original
                    assert snapshot(server, o) == {"access": "MULTI_USER", "tables": before_r}
                    assert not exists(server, r)
                    if with_original:
                        assert row_counts(server, a) == before_o
                else:
                    assert roll_back(server, o, r, a).status == "RolledBack"
                    assert not exists(server, a) and row_counts(server, r) == before_r
                    if with_original:
                        assert snapshot(server, o) == {"access": "MULTI_USER", "tables": before_o}
                    else:
                        assert not exists(server, o)
            except Exception as err:
                raise AssertionError(f"crash after statement {i} ({label}), then {then}: {err!r}") from err
            finally:
                for name in made:
                    if exists(server, name):
                        run(server, f"ALTER DATABASE {quote_mssql(name)} SET MULTI_USER",
                            f"DROP DATABASE {quote_mssql(name)}")


def test_a_crash_is_a_crash_not_a_rename_error(server, made):
    o, r, a = setup(server, made)
    with pytest.raises(Crash):
        rename_back(server, o, r, a, on_statement=crash_at(1))


def test_the_privilege_check_reads_the_login_and_its_permissions_over_tds(server):
    """The doctor's check on SQL Server: SUSER_SNAME() and HAS_PERMS_BY_NAME over the wire. The stand-in's one login
    is a sysadmin (it has no permission model), so nothing is missing; what is missing for a login without
    dbcreator is decided by decisions/privileges.sqlserver_gaps (tests/unit/test_privileges.py)."""
    from nestbackup.adapters.databases.privileges import missing_privileges
    original, _, _ = names()
    build(server, original, 1)
    assert run(server, "SELECT SUSER_SNAME(), HAS_PERMS_BY_NAME(NULL, NULL, N'CREATE ANY DATABASE')") == [("sa", 1)]
    assert run(server, "SELECT HAS_PERMS_BY_NAME(N'nbt_none', N'DATABASE', N'ALTER')") == [(None,)]
    assert missing_privileges(server, [original]) == []
