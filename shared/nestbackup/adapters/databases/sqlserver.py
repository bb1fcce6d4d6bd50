"""SQL Server: the primitives of the whole-database swap (rename in single-user mode, the mark table)."""
from __future__ import annotations

import time

from ...decisions.dbnames import (
    literal_mssql,
    quote_mssql,
)
from ...errors import Conflict
from .swap import _DatabaseSwap
from .values import (
    MSSQL_MARK_TABLE,
    PG_MARKER_COMMENT,
    DbRenameError,
    DbServer,
    Hook,
)


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
