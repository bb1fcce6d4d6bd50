"""PostgreSQL: the primitives of the whole-database swap (rename ending other sessions, the empty mark)."""
from __future__ import annotations

import time

from ...decisions.dbnames import (
    quote_pg,
)
from ...errors import Conflict
from .swap import _DatabaseSwap
from .values import (
    PG_MARKER_COMMENT,
    DbRenameError,
    DbServer,
    Hook,
)


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
