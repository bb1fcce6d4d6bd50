"""The real database servers behind RDS instances: PostgreSQL (psycopg2, pg_dump, pg_restore) and MariaDB/MySQL
(pymysql, mariadb-dump, mariadb).

Database names never pass through a shell: SQL identifiers are quoted by the drivers' own quoting (pg) or by doubling
backticks (MySQL), the command-line tools get them as single argv items or through environment variables, and
connection strings are built with libpq's quoting rules.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

PG_SYSTEM = frozenset({"postgres", "template0", "template1"})
MYSQL_SYSTEM = frozenset({"information_schema", "mysql", "performance_schema", "sys"})
# Scratch databases that a table-level MySQL restore loads a dump into; never part of an instance.
SCRATCH_PREFIX = "__rds_restore_"


class EngineError(Exception):
    """A real database server or tool refused or failed; the message is meant for a job's failure reason."""


@dataclass
class Dsn:
    scheme: str                 # "postgresql" | "mysql"
    host: str
    port: int
    user: str
    password: str | None
    dbname: str | None          # pg: the maintenance database to connect to
    databases: list[str] | None = field(default=None)  # ?databases=a,b

    @property
    def redacted(self) -> str:
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}"


def parse_dsn(dsn: str) -> Dsn:
    """postgresql://user[:password]@host:port/db?databases=a,b  or  mysql://user[:password]@host:port/?databases=a,b"""
    parts = urlsplit(dsn)
    scheme = {"postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql",
              "mariadb": "mysql"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"unsupported DSN scheme {parts.scheme!r} (use postgresql:// or mysql://)")
    if not parts.hostname:
        raise ValueError("the DSN names no host")
    try:
        port = parts.port or (5432 if scheme == "postgresql" else 3306)
    except ValueError:
        raise ValueError("the DSN's port is not a number") from None
    user = unquote(parts.username) if parts.username else ("postgres" if scheme == "postgresql" else "root")
    password = unquote(parts.password) if parts.password is not None else None
    path = unquote(parts.path.lstrip("/"))
    query = parse_qs(parts.query, keep_blank_values=True)
    databases = None
    if "databases" in query:
        databases = [d for raw in query["databases"] for d in raw.split(",") if d]
    return Dsn(scheme, parts.hostname, port, user, password,
               (path or "postgres") if scheme == "postgresql" else (path or None), databases)


def _run(argv: list[str], env: dict[str, str], *, stdin=None, stdout=None, timeout: float = 3600,
         stopping: Callable[[], bool] = lambda: False) -> str:
    """Run a client tool without a shell; kill it when the cloud stops. Returns stdout text when not redirected."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "MYSQL"))}
    full_env.update(env)
    proc = subprocess.Popen(argv, env=full_env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                            stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.PIPE)
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []

    def drain(stream, sink):
        for chunk in iter(lambda: stream.read(65536), b""):
            sink.append(chunk)

    readers = [threading.Thread(target=drain, args=(proc.stderr, err_chunks), daemon=True)]
    if stdout is None:
        readers.append(threading.Thread(target=drain, args=(proc.stdout, out_chunks), daemon=True))
    for r in readers:
        r.start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            proc.wait(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            if stopping() or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                for r in readers:
                    r.join()
                raise EngineError(f"{os.path.basename(argv[0])} was interrupted"
                                  + (" (the local cloud is stopping)" if stopping() else " (timeout)"))
    for r in readers:
        r.join()
    if proc.returncode != 0:
        err = b"".join(err_chunks).decode(errors="replace").strip()
        raise EngineError(f"{os.path.basename(argv[0])} failed (exit {proc.returncode}): {err[-2000:]}")
    return b"".join(out_chunks).decode(errors="replace")


def _tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise EngineError(f"none of the client tools {', '.join(names)} is installed")


class Engine:
    """One real database server, as reached through a DSN."""

    engine = ""
    system: frozenset[str] = frozenset()
    max_name = 64

    def __init__(self, dsn: Dsn) -> None:
        self.dsn = dsn

    # -- naming
    def check_name(self, name: str) -> str | None:
        """Why `name` cannot be a database name on this engine, or None."""
        if not name or "\x00" in name:
            return "a database name must be a non-empty string without NUL characters"
        if len(name) > self.max_name:
            return f"a database name has at most {self.max_name} characters"
        if name.startswith(SCRATCH_PREFIX):
            return f"names starting with {SCRATCH_PREFIX} are reserved"
        return None

    def user_databases(self) -> list[str]:
        return [d for d in self.all_databases() if d not in self.system and not d.startswith(SCRATCH_PREFIX)]

    # -- implemented per engine
    def version(self) -> str: ...
    def all_databases(self) -> list[str]: ...
    def describe(self, names: list[str]) -> dict[str, dict]: ...
    def dump(self, db: str, path: Path, stopping) -> dict: ...
    def drop_database(self, db: str) -> None: ...


# ---------------------------------------------------------------------------------------------------------- PostgreSQL
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
        _run([_tool("pg_dump"), "--format=custom", "--file", str(path)], self._env(db), stopping=stopping)
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
        _run([_tool("pg_restore"), "--exit-on-error", "--single-transaction", "--no-password",
              "--dbname", "dbname=" + _pg_conninfo_value(name), str(file)], self._env(), stopping=stopping)

    def drop_database(self, db: str) -> None:
        from psycopg2 import sql
        self._exec(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))


# ------------------------------------------------------------------------------------------------------ MySQL / MariaDB
def qi(name: str) -> str:
    """A MySQL identifier, quoted."""
    return "`" + name.replace("`", "``") + "`"


_CREATE_TABLE = re.compile(r"^CREATE TABLE `((?:[^`]|``)+)` \($")


class MySqlEngine(Engine):
    engine = "MySQL"
    system = MYSQL_SYSTEM
    max_name = 64

    def check_name(self, name: str) -> str | None:
        why = super().check_name(name)
        if why:
            return why
        if name.endswith(" "):
            return "a MySQL database name cannot end with a space"
        return None

    def connect(self, db: str | None = None):
        import pymysql
        try:
            return pymysql.connect(host=self.dsn.host, port=self.dsn.port, user=self.dsn.user,
                                   password=self.dsn.password or "", database=db, connect_timeout=5,
                                   autocommit=True, charset="utf8mb4")
        except pymysql.MySQLError as err:
            raise EngineError(f"cannot connect to MySQL at {self.dsn.host}:{self.dsn.port}: {err}") from None

    def _query(self, sql: str, args=None) -> list[tuple]:
        import pymysql
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall()) if cur.description else []
        except pymysql.MySQLError as err:
            raise EngineError(str(err)) from None
        finally:
            conn.close()

    def _args(self) -> list[str]:
        return ["--no-defaults", f"--host={self.dsn.host}", f"--port={self.dsn.port}", f"--user={self.dsn.user}",
                "--protocol=TCP"]

    def _env(self) -> dict[str, str]:
        return {"MYSQL_PWD": self.dsn.password} if self.dsn.password else {}

    def version(self) -> str:
        raw = self._query("SELECT VERSION()")[0][0]
        m = re.match(r"(\d+)\.(\d+)", raw)
        return f"{m[1]}.{m[2]}" if m else raw

    def all_databases(self) -> list[str]:
        return [r[0] for r in self._query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")]

    def describe(self, names: list[str]) -> dict[str, dict]:
        if not names:
            return {}
        marks = ",".join(["%s"] * len(names))
        rows = self._query("SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME"
                           f" FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ({marks})", list(names))
        return {r[0]: {"CharacterSetName": r[1], "Collate": r[2]} for r in rows}

    def objects(self, db: str) -> dict[str, list[str]]:
        q = self._query
        return {
            "Tables": sorted(r[0] for r in q("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s"
                                            " AND TABLE_TYPE='BASE TABLE'", (db,))),
            "Views": sorted(r[0] for r in q("SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA=%s",
                                           (db,))),
            "Triggers": sorted(r[0] for r in q("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS"
                                              " WHERE TRIGGER_SCHEMA=%s", (db,))),
            "Routines": sorted(r[0] for r in q("SELECT ROUTINE_NAME FROM information_schema.ROUTINES"
                                              " WHERE ROUTINE_SCHEMA=%s", (db,))),
        }

    def table_names(self, db: str) -> set[str]:
        """Tables and views of a database (the names a restored table may not take)."""
        return {r[0] for r in self._query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s",
                                          (db,))}

    def dump(self, db: str, path: Path, stopping) -> dict:
        info = self.describe([db]).get(db)
        if info is None:
            raise EngineError(f"database {db!r} does not exist")
        objects = self.objects(db)
        with open(path, "wb") as out:
            _run([_tool("mariadb-dump", "mysqldump"), *self._args(), "--single-transaction", "--routines",
                  "--triggers", "--events", "--hex-blob", "--default-character-set=utf8mb4", "--", db],
                 self._env(), stdout=out, stopping=stopping)
        # The tables of the dump itself (consistent with its data), parsed from its CREATE TABLE lines.
        tables = []
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = _CREATE_TABLE.match(line.rstrip("\n"))
                if m:
                    tables.append(m[1].replace("``", "`"))
        objects["Tables"] = sorted(tables)
        return {**info, **objects, "Size": path.stat().st_size}

    def create_database(self, name: str, meta: dict) -> None:
        stmt = f"CREATE DATABASE {qi(name)}"
        for clause, key in (("CHARACTER SET", "CharacterSetName"), ("COLLATE", "Collate")):
            value = meta.get(key)
            if value:
                if not re.fullmatch(r"[A-Za-z0-9_]+", value):
                    raise EngineError(f"unexpected {clause.lower()} {value!r} in the backup's metadata")
                stmt += f" {clause} {value}"
        self._query(stmt)

    def _load(self, file: Path, original: str, into: str, workdir: Path, stopping) -> None:
        """Load a single-database dump of `original` into the existing database `into`.

        A single-database mariadb-dump has no CREATE DATABASE/USE and writes views unqualified, so the default
        database decides where tables, views, triggers and routines land. The only statements that name the
        original database are ALTER DATABASE lines around routines; they are pointed at the new database.
        """
        rewritten = workdir / f"load-{secrets.token_hex(6)}.sql"
        alter = f"ALTER DATABASE {qi(original)} "
        try:
            with open(file, "rb") as src, open(rewritten, "wb") as dst:
                for raw in src:
                    if b"ALTER DATABASE" in raw and not raw.startswith(b"INSERT INTO"):
                        line = raw.decode("utf-8", errors="surrogateescape")
                        raw = line.replace(alter, f"ALTER DATABASE {qi(into)} ").encode(
                            "utf-8", errors="surrogateescape")
                    dst.write(raw)
            with open(rewritten, "rb") as stdin:
                _run([_tool("mariadb", "mysql"), *self._args(), "--max-allowed-packet=1G",
                      "--default-character-set=utf8mb4", f"--database={into}"], self._env(), stdin=stdin,
                     stopping=stopping)
        finally:
            rewritten.unlink(missing_ok=True)

    def restore_database(self, file: Path, original: str, name: str, workdir: Path, stopping) -> None:
        self._load(file, original, name, workdir, stopping)

    def restore_tables(self, file: Path, original: str, meta: dict, target: str, tables: list[tuple[str, str]],
                       workdir: Path, stopping) -> None:
        """Load the dump into a scratch database, then move the chosen tables (renamed) into `target`."""
        import pymysql
        scratch = SCRATCH_PREFIX + secrets.token_hex(8)
        self.create_database(scratch, meta)
        try:
            self._load(file, original, scratch, workdir, stopping)
            conn = self.connect()
            try:
                with conn.cursor() as cur:
                    # Tables with triggers cannot change schema (ERROR 1435); a table-level restore drops them.
                    names = [t for t, _ in tables]
                    marks = ",".join(["%s"] * len(names))
                    cur.execute("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA=%s"
                                f" AND EVENT_OBJECT_TABLE IN ({marks})", [scratch, *names])
                    for (trigger,) in cur.fetchall():
                        cur.execute(f"DROP TRIGGER {qi(scratch)}.{qi(trigger)}")
                    cur.execute("RENAME TABLE " + ", ".join(
                        f"{qi(scratch)}.{qi(old)} TO {qi(target)}.{qi(new)}" for old, new in tables))
            except pymysql.MySQLError as err:
                raise EngineError(str(err)) from None
            finally:
                conn.close()
        finally:
            self.drop_database(scratch)

    def drop_tables(self, db: str, tables: list[str]) -> None:
        if tables:
            self._query("DROP TABLE IF EXISTS " + ", ".join(f"{qi(db)}.{qi(t)}" for t in tables))

    def drop_database(self, db: str) -> None:
        import pymysql
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION foreign_key_checks = 0")
                cur.execute(f"DROP DATABASE IF EXISTS {qi(db)}")
        except pymysql.MySQLError as err:
            raise EngineError(str(err)) from None
        finally:
            conn.close()


# ----------------------------------------------------------------------------------------------------------- SQL Server
class MssqlEngine(Engine):
    """The local SQL Server stand-in (localcloud.mssql): a JSON catalog served over the TDS wire protocol. There is
    no SQL Server engine here; a backup is the catalog's export of a database, a restore its import."""

    engine = "SQLServer"
    max_name = 128

    def __init__(self, catalog) -> None:
        super().__init__(Dsn("mssql", "127.0.0.1", 0, "sa", None, None))
        self.catalog = catalog

    def check_name(self, name: str) -> str | None:
        return self.catalog.check_name(name) or super().check_name(name)

    def version(self) -> str:
        return "2019_std_ha"

    def all_databases(self) -> list[str]:
        return self.catalog.databases()

    def describe(self, names: list[str]) -> dict[str, dict]:
        out = {}
        for name in names:
            info = self.catalog.database_info(name)
            if info is not None:
                out[name] = {"Collate": info["Collation"], "Tables": sorted(info["Tables"])}
        return out

    def dump(self, db: str, path: Path, stopping) -> dict:
        import json

        from ..mssql import SqlError
        try:
            content = self.catalog.export_database(db)
        except SqlError as err:
            raise EngineError(err.message) from None
        path.write_text(json.dumps(content))
        info = self.describe([db])[db]
        return {**info, "Size": path.stat().st_size}

    def restore_database(self, file: Path, name: str, stopping) -> None:
        import json

        from ..mssql import SqlError
        try:
            self.catalog.import_database(name, json.loads(file.read_text()))
        except SqlError as err:
            raise EngineError(err.message) from None

    def drop_database(self, db: str) -> None:
        from ..mssql import SqlError
        try:
            self.catalog.drop_database(db)
        except SqlError as err:
            if err.number != 911:          # already gone
                raise EngineError(err.message) from None


def engine_for(engine: str, dsn: Dsn) -> Engine:
    if engine == "PostgreSQL":
        if dsn.scheme != "postgresql":
            raise ValueError("a PostgreSQL instance needs a postgresql:// DSN")
        return PgEngine(dsn)
    if engine in ("MySQL", "MariaDB"):
        if dsn.scheme != "mysql":
            raise ValueError("a MySQL instance needs a mysql:// DSN")
        return MySqlEngine(dsn)
    raise ValueError(f"no real engine for {engine}")
