"""An RDS PostgreSQL instance's real server: psycopg2 for catalog queries and DDL, pg_dump --format=custom for a
backup, pg_restore --single-transaction for a restore into a new database."""
from __future__ import annotations

from pathlib import Path

from .base import Engine, EngineError
from .tools import run, tool

PG_SYSTEM = frozenset({"postgres", "template0", "template1"})


def _pg_conninfo_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class PgEngine(Engine):
    engine = "PostgreSQL"
    system = PG_SYSTEM
    max_name = 63  # bytes, checked below

    def check_name(self, name: str) -> str | None:
        why = super().check_name(name)
        if why:
            return why
        if len(name.encode()) > 63:
            return "a PostgreSQL database name has at most 63 bytes"
        return None

    def connect(self, dbname: str | None = None):
        import psycopg2
        try:
            conn = psycopg2.connect(host=self.dsn.host, port=self.dsn.port, user=self.dsn.user,
                                    password=self.dsn.password or None, dbname=dbname or self.dsn.dbname,
                                    connect_timeout=5, application_name="localcloud-rds")
        except psycopg2.Error as err:
            raise EngineError(f"cannot connect to PostgreSQL at {self.dsn.host}:{self.dsn.port}: "
                              f"{str(err).strip()}") from None
        conn.autocommit = True
        return conn

    def _query(self, sql, args=(), dbname: str | None = None) -> list[tuple]:
        import psycopg2
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return cur.fetchall() if cur.description else []
        except psycopg2.Error as err:
            raise EngineError(str(err).strip()) from None
        finally:
            conn.close()

    def _exec(self, statement, dbname: str | None = None) -> None:
        import psycopg2
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(statement)
        except psycopg2.Error as err:
            raise EngineError(str(err).strip()) from None
        finally:
            conn.close()

    def _env(self, dbname: str | None = None) -> dict[str, str]:
        env = {"PGHOST": self.dsn.host, "PGPORT": str(self.dsn.port), "PGUSER": self.dsn.user,
               "PGCONNECT_TIMEOUT": "10", "PGAPPNAME": "localcloud-rds"}
        if self.dsn.password:
            env["PGPASSWORD"] = self.dsn.password
        if dbname is not None:
            env["PGDATABASE"] = dbname  # never expanded as a connection string, unlike -d
        return env

    def version(self) -> str:
        num = int(self._query("SHOW server_version_num")[0][0])
        return f"{num // 10000}.{num % 10000}" if num >= 100000 else f"{num // 10000}.{num // 100 % 100}"

    def all_databases(self) -> list[str]:
        rows = self._query("SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY oid")
        return [r[0] for r in rows]

    def describe(self, names: list[str]) -> dict[str, dict]:
        rows = self._query("SELECT datname, pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database"
                           " WHERE datname = ANY(%s)", (list(names),))
        return {r[0]: {"CharacterSetName": r[1], "Collate": r[2], "Ctype": r[3]} for r in rows}

    def used_bytes(self, names: list[str]) -> int:
        """What the databases take on disk (pg_database_size)."""
        rows = self._query("SELECT COALESCE(SUM(pg_database_size(datname)), 0) FROM pg_database"
                           " WHERE datname = ANY(%s)", (list(names),))
        return int(rows[0][0] or 0)

    def tables(self, db: str) -> list[str]:
        rows = self._query("SELECT table_schema || '.' || table_name FROM information_schema.tables"
                           " WHERE table_type = 'BASE TABLE'"
                           " AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1", dbname=db)
        return [r[0] for r in rows]

    def dump(self, db: str, path: Path, stopping) -> dict:
        info = self.describe([db]).get(db)
        if info is None:
            raise EngineError(f"database {db!r} does not exist")
        tables = self.tables(db)
        run([tool("pg_dump"), "--format=custom", "--file", str(path)], self._env(db), stopping=stopping)
        return {**info, "Tables": tables, "Size": path.stat().st_size}

    def create_database(self, name: str, meta: dict) -> None:
        from psycopg2 import sql
        stmt = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
        if meta.get("CharacterSetName"):
            stmt = sql.SQL("{} ENCODING {} LC_COLLATE {} LC_CTYPE {}").format(
                stmt, sql.Literal(meta["CharacterSetName"]), sql.Literal(meta.get("Collate") or "C"),
                sql.Literal(meta.get("Ctype") or "C"))
        self._exec(stmt)

    def restore_database(self, file: Path, name: str, stopping) -> None:
        run([tool("pg_restore"), "--exit-on-error", "--single-transaction", "--no-password",
             "--dbname", "dbname=" + _pg_conninfo_value(name), str(file)], self._env(), stopping=stopping)

    def drop_database(self, db: str) -> None:
        from psycopg2 import sql
        self._exec(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
