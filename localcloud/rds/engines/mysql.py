"""An RDS MySQL / MariaDB instance's real server: pymysql for catalog queries and DDL, mariadb-dump for a backup,
the mariadb client for loading a dump into a new database, and a scratch database for a table-level restore."""
from __future__ import annotations

import re
import secrets
from pathlib import Path

from . import binlog
from .base import Engine, EngineError
from .tools import run, tool

MYSQL_SYSTEM = frozenset({"information_schema", "mysql", "performance_schema", "sys"})


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

    def used_bytes(self, names: list[str]) -> int:
        """What the databases' tables and indexes take (information_schema.TABLES)."""
        if not names:
            return 0
        marks = ",".join(["%s"] * len(names))
        rows = self._query("SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES"
                           f" WHERE TABLE_SCHEMA IN ({marks})", list(names))
        return int(rows[0][0] or 0)

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
        # With row-based binary logs, the dump records the log position it is consistent with (binlog.py).
        logged = binlog.logging_rows(self)
        with open(path, "wb") as out:
            run([tool("mariadb-dump", "mysqldump"), *self._args(), "--single-transaction", "--routines",
                 "--triggers", "--events", "--hex-blob", "--default-character-set=utf8mb4",
                 *(["--master-data=2"] if logged else []), "--", db],
                self._env(), stdout=out, stopping=stopping)
        position = binlog.dump_position(path) if logged else None
        # The tables of the dump itself (consistent with its data), parsed from its CREATE TABLE lines.
        tables = []
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = _CREATE_TABLE.match(line.rstrip("\n"))
                if m:
                    tables.append(m[1].replace("``", "`"))
        objects["Tables"] = sorted(tables)
        logs = {"BinlogFile": position[0], "BinlogPosition": position[1]} if position else {}
        return {**info, **objects, **logs, "Size": path.stat().st_size}

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
                run([tool("mariadb", "mysql"), *self._args(), "--max-allowed-packet=1G",
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
        scratch = self.scratch_name()
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
