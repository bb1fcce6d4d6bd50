"""The database gateway's contract, for the in-memory gateway and the real one on this machine's PostgreSQL and
MariaDB (slow): what the restore's rename step and its verification rely on. Row counts are compared per table name
(PostgreSQL's are schema-qualified); the aside database may hold the real gateway's journal tables too."""
from __future__ import annotations

import uuid

import pytest

from nestbackup.adapters.databases.gateway import SqlDatabases
from nestbackup.decisions.dbnames import aside_name, quote_mysql, quote_pg, restored_name
from nestbackup.errors import CloudError, Conflict, NotFound
from tests.support.memory.gateway import MemoryDatabaseGateway

ENGINES = [pytest.param("memory"), pytest.param("PostgreSQL", marks=pytest.mark.slow),
           pytest.param("MySQL", marks=pytest.mark.slow)]


class Server:
    """One database server and its gateway: databases of one table `t` with a number of rows."""

    def __init__(self, kind: str) -> None:
        self.kind, self.made = kind, []
        if kind == "memory":
            self.databases: dict[str, dict[str, list]] = {}
            self.gateway = MemoryDatabaseGateway(self.databases)
            return
        from tests.adapters.test_dbrename import MY, PG
        server = PG if kind == "PostgreSQL" else MY
        self.gateway = SqlDatabases(server)

    def names(self) -> tuple[str, str, str]:
        original, rid = f"nbc{uuid.uuid4().hex[:10]}", f"restore-{uuid.uuid4().hex[:20]}"
        engine = "MySQL" if self.kind == "memory" else self.kind
        names = original, restored_name(original, rid, engine), aside_name(original, rid, engine)
        self.made += names
        return names

    def make(self, name: str, rows: int) -> None:
        if self.kind == "memory":
            self.databases[name] = {"t": list(range(rows))}
            return
        values = ", ".join(f"({i})" for i in range(rows))
        if self.kind == "PostgreSQL":
            from tests.adapters.test_dbrename import pg_exec
            pg_exec(f"CREATE DATABASE {quote_pg(name)}")
            pg_exec("CREATE TABLE t (id int)", db=name)
            if rows:
                pg_exec(f"INSERT INTO t VALUES {values}", db=name)
        else:
            from tests.adapters.test_dbrename import my_exec
            my_exec(f"CREATE DATABASE {quote_mysql(name)}", f"CREATE TABLE {quote_mysql(name)}.t (id INT)",
                    *([f"INSERT INTO {quote_mysql(name)}.t VALUES {values}"] if rows else []))

    def rows(self, name: str) -> int | None:
        """The rows of table `t` in database `name`; None when the database does not exist."""
        try:
            counts = self.gateway.row_counts(name)
        except CloudError as err:
            assert err.code == "DatabaseUnreachable"
            return None
        return {table.split(".")[-1]: n for table, n in counts.items()}.get("t")

    def clean(self) -> None:
        if self.kind == "PostgreSQL":
            from nestbackup.adapters.databases.postgres import _Postgres
            from tests.adapters.test_dbrename import pg_drop
            pg_drop(*self.made, *(_Postgres.helper_name(n) for n in self.made))
        elif self.kind == "MySQL":
            from tests.adapters.test_dbrename import my_drop
            my_drop(*self.made)


@pytest.fixture(params=ENGINES)
def server(request):
    made = Server(request.param)
    yield made
    made.clean()


def test_row_counts_are_exact_and_an_unknown_database_is_unreachable(server):
    original, _, _ = server.names()
    server.make(original, 3)
    assert server.rows(original) == 3
    with pytest.raises(CloudError) as err:
        server.gateway.row_counts(f"nbc{uuid.uuid4().hex[:10]}_none")
    assert err.value.code == "DatabaseUnreachable"


def test_a_swap_sets_the_live_database_aside_and_running_it_again_changes_nothing(server):
    original, restored, aside = server.names()
    server.make(original, 2)
    server.make(restored, 3)
    assert server.gateway.rename_back(original, restored, aside) is True
    assert (server.rows(original), server.rows(aside), server.rows(restored)) == (3, 2, None)
    assert server.gateway.rename_back(original, restored, aside) is True         # a re-run after a crash
    assert (server.rows(original), server.rows(aside), server.rows(restored)) == (3, 2, None)


def test_with_no_live_database_the_restored_one_takes_its_name_and_running_it_again_says_so(server):
    original, restored, aside = server.names()
    server.make(restored, 3)
    assert server.gateway.rename_back(original, restored, aside) is False
    assert (server.rows(original), server.rows(restored)) == (3, None)
    assert server.gateway.rename_back(original, restored, aside) is False


def test_a_swap_is_undone_by_swapping_back(server):
    """What the rename step does when another database of the restore could not be swapped."""
    original, restored, aside = server.names()
    server.make(original, 2)
    server.make(restored, 3)
    server.gateway.rename_back(original, restored, aside)
    assert server.gateway.rename_back(original, aside, restored) is True
    assert (server.rows(original), server.rows(restored)) == (2, 3)


def test_a_missing_restored_database_is_not_found_and_nothing_is_touched(server):
    original, restored, aside = server.names()
    server.make(original, 2)
    with pytest.raises(NotFound):
        server.gateway.rename_back(original, restored, aside)
    server.gateway.roll_back(original, restored, aside)                          # nothing to undo
    assert (server.rows(original), server.rows(aside)) == (2, None)


def test_an_aside_name_in_use_is_refused_and_nothing_is_touched(server):
    original, restored, aside = server.names()
    server.make(original, 2)
    server.make(restored, 3)
    server.make(aside, 1)
    with pytest.raises(Conflict):
        server.gateway.rename_back(original, restored, aside)
    assert (server.rows(original), server.rows(restored), server.rows(aside)) == (2, 3, 1)


def test_a_finished_swap_is_not_rolled_back(server):
    """roll_back undoes an interrupted swap only; a finished one is undone by swapping back."""
    original, restored, aside = server.names()
    server.make(original, 2)
    server.make(restored, 3)
    server.gateway.rename_back(original, restored, aside)
    with pytest.raises(Conflict):
        server.gateway.roll_back(original, restored, aside)
    assert (server.rows(original), server.rows(aside)) == (3, 2)
