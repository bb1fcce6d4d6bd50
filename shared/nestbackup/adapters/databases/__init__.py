"""The SQL databases of one RDS instance: renaming restored databases back into place over SQL (pymysql /
psycopg2 / pytds), and counting their rows. The public API is here; the engines are in mysql.py, postgres.py and
sqlserver.py, the shared whole-database swap in swap.py, row counts in counts.py, what an account holds for the swap
(the doctor's check) in privileges.py, the gateway port in gateway.py.

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

from ...decisions.dbnames import validate_name
from ...errors import Conflict, NotFound, ValidationError
from ...model.engines import MYSQL, POSTGRESQL, SQLSERVER, Engine, engine_of
from .counts import row_counts
from .mysql import _MySQL
from .postgres import _Postgres
from .sqlserver import _SqlServer
from .values import DbRenameError, DbServer, Hook, RenameResult

__all__ = ["Conflict", "DbRenameError", "DbServer", "NotFound", "RenameResult", "ValidationError", "rename_back",
           "roll_back", "row_counts"]


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
    if engine is MYSQL:
        return _MySQL(server, on_statement, lock_wait_seconds)
    return {POSTGRESQL: _Postgres, SQLSERVER: _SqlServer}[engine](server, on_statement)


def _check(server: DbServer, original: str, restored: str, aside: str) -> Engine:
    engine = engine_of(server.engine)
    for name in (original, restored, aside):
        validate_name(name, engine.name)
    keys = {n if engine.case_sensitive_names else n.lower() for n in (original, restored, aside)}
    if len(keys) != 3:
        raise ValidationError(f"original, restored and aside must be three different names: "
                              f"{original!r}, {restored!r}, {aside!r}")
    if engine.maintenance_db and server.maintenance_db.lower() in {n.lower() for n in (original, restored, aside)}:
        raise ValidationError(f"the maintenance database {server.maintenance_db!r} cannot be one being renamed")
    return engine
