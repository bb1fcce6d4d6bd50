"""The data behind the local SQL Server stand-in: databases, tables and rows in one JSON file.

What is real: names keep their spelling and compare case-insensitively (SQL Server's default CI
collation), the system databases always exist, errors carry SQL Server's numbers and wording, and
every change is persisted atomically (temporary file + os.replace; no fsync, so a crash of the
process never leaves a torn file, a power cut may lose the last change).
What is not: there are no column types, constraints or indexes — a table is a list of column names
and rows of ints, Decimals, strings and NULLs.

All methods are thread-safe; `lock` is reentrant so the SQL engine can hold it across a
check-then-change sequence (e.g. "nobody else is in this database, rename it").
"""
from __future__ import annotations

import decimal
import json
import os
import pathlib
import threading


class SqlError(Exception):
    """A SQL Server error: `number` is the SQL Server error number the client sees."""

    def __init__(self, number: int, message: str, severity: int = 16):
        super().__init__(f"{number}: {message}")
        self.number = number
        self.message = message
        self.severity = severity


DEFAULT_COLLATION = "Chinese_PRC_CI_AS"
MAX_NAME = 128  # sysname is nvarchar(128): counted in UTF-16 code units, like the server does


def name_length(name: str) -> int:
    return len(name.encode("utf-16-le", "surrogatepass")) // 2


def key(name: str) -> str:
    """The case-insensitive comparison key of a database, schema, table or column name."""
    return name.lower()


def no_database(name: str) -> SqlError:
    return SqlError(911, f"Database '{name}' does not exist. Make sure that the name is entered correctly.")


def _encode_value(value):
    # JSON has no decimal type; a tagged object keeps the exact digits.
    return {"$decimal": str(value)} if isinstance(value, decimal.Decimal) else value


def _decode_value(value):
    return decimal.Decimal(value["$decimal"]) if isinstance(value, dict) else value


class Catalog:
    SYSTEM = ("master", "tempdb", "model", "msdb")

    def __init__(self, path: pathlib.Path) -> None:
        self.path = pathlib.Path(path)
        self.lock = threading.RLock()
        # key(name) -> {"name", "collation", "user_access", "tables": [{"schema", "name", "columns", "rows"}]}
        self._dbs: dict[str, dict] = {}
        if self.path.exists():
            for db in json.loads(self.path.read_text(encoding="utf-8"))["databases"]:
                self._dbs[key(db["name"])] = self._decode_db(db["name"], db, db.get("user_access", "MULTI_USER"))
        missing = [n for n in self.SYSTEM if key(n) not in self._dbs]
        if missing:
            system = {key(n): self._new_db(n) for n in self.SYSTEM}
            system.update(self._dbs)  # system databases first, like their database_id 1..4
            self._dbs = system
            self._save()

    # ------------------------------------------------------------------------------ public API
    def databases(self) -> list[str]:
        with self.lock:
            return sorted(db["name"] for db in self._dbs.values() if not self.is_system(db["name"]))

    def database_info(self, name: str) -> dict | None:
        with self.lock:
            db = self._dbs.get(key(name))
            if db is None:
                return None
            return {
                "Collation": db["collation"],
                "UserAccess": db["user_access"],
                "Tables": {f"{t['schema']}.{t['name']}": len(t["rows"]) for t in db["tables"]},
            }

    def export_database(self, name: str) -> dict:
        with self.lock:
            db = self._db(name)
            return {
                "collation": db["collation"],
                "tables": [
                    {"schema": t["schema"], "name": t["name"], "columns": list(t["columns"]),
                     "rows": [[_encode_value(v) for v in row] for row in t["rows"]]}
                    for t in db["tables"]
                ],
            }

    def import_database(self, name: str, content: dict) -> None:
        with self.lock:
            self._check_new_name(name)
            self._dbs[key(name)] = self._decode_db(name, content, "MULTI_USER")
            self._save()

    def drop_database(self, name: str) -> None:
        with self.lock:
            db = self._db(name)
            if self.is_system(db["name"]):
                raise SqlError(3708, f"Cannot drop the database '{db['name']}' because it is a system database.")
            del self._dbs[key(name)]
            self._save()

    def check_name(self, name: str) -> str | None:
        if not name:
            return "the name is empty"
        if name_length(name) > MAX_NAME:
            return f"the name is longer than {MAX_NAME} characters"
        if self.is_system(name):
            return f"'{name}' is a system database name"
        if "\x00" in name:
            return "the name contains a NUL character"
        return None

    # ------------------------------------------------------------------------------ used by the engine
    def is_system(self, name: str) -> bool:
        return key(name) in self.SYSTEM

    def all_databases(self) -> list[tuple[str, str]]:
        """(name, user access) of every database, system ones included, in creation order."""
        with self.lock:
            return [(db["name"], db["user_access"]) for db in self._dbs.values()]

    def canonical(self, name: str) -> str | None:
        """The stored spelling of database `name`, or None if it does not exist."""
        with self.lock:
            db = self._dbs.get(key(name))
            return None if db is None else db["name"]

    def user_access(self, name: str) -> str:
        with self.lock:
            return self._db(name)["user_access"]

    def create_database(self, name: str) -> None:
        with self.lock:
            self._check_new_name(name)
            self._dbs[key(name)] = self._new_db(name)
            self._save()

    def rename_database(self, old: str, new: str) -> None:
        with self.lock:
            db = self._db(old)
            if self.is_system(db["name"]):
                raise SqlError(5058, f"Option 'MODIFY NAME' cannot be set in database '{db['name']}'.")
            if key(new) != key(old):  # a new spelling of the same name is always allowed
                self._check_new_name(new)
            db["name"] = new
            # Rebuild the dict so the database keeps its place in creation order.
            self._dbs = {(key(new) if k == key(old) else k): v for k, v in self._dbs.items()}
            self._save()

    def set_user_access(self, name: str, access: str) -> None:
        with self.lock:
            self._db(name)["user_access"] = access
            self._save()

    def tables(self, db: str) -> list[tuple[str, str]]:
        with self.lock:
            return [(t["schema"], t["name"]) for t in self._db(db)["tables"]]

    def create_table(self, db: str, schema: str, table: str, columns: list[str]) -> None:
        with self.lock:
            d = self._db(db)
            if self._find_table(d, schema, table) is not None:
                raise SqlError(2714, f"There is already an object named '{table}' in the database.")
            d["tables"].append({"schema": schema, "name": table, "columns": list(columns), "rows": []})
            self._save()

    def table(self, db: str, schema: str, table: str) -> tuple[list[str], list[list]] | None:
        """(columns, copy of the rows) of a table, None if the table does not exist (911 if the database does not)."""
        with self.lock:
            t = self._find_table(self._db(db), schema, table)
            return None if t is None else (list(t["columns"]), [list(r) for r in t["rows"]])

    def insert_rows(self, db: str, schema: str, table: str, rows: list[list]) -> int:
        """Append full rows (one value per column, in column order)."""
        with self.lock:
            self._find_table(self._db(db), schema, table)["rows"].extend(list(r) for r in rows)
            self._save()
            return len(rows)

    def replace_rows(self, db: str, schema: str, table: str, rows: list[list]) -> None:
        with self.lock:
            self._find_table(self._db(db), schema, table)["rows"] = [list(r) for r in rows]
            self._save()

    # ------------------------------------------------------------------------------ internals
    def _db(self, name: str) -> dict:
        db = self._dbs.get(key(name))
        if db is None:
            raise no_database(name)
        return db

    @staticmethod
    def _find_table(db: dict, schema: str, table: str) -> dict | None:
        for t in db["tables"]:
            if key(t["schema"]) == key(schema) and key(t["name"]) == key(table):
                return t
        return None

    def _check_new_name(self, name: str) -> None:
        if key(name) in self._dbs:
            raise SqlError(1801, f"Database '{name}' already exists. Choose a different database name.")
        if self.check_name(name):
            raise self._bad_name(name)

    def _bad_name(self, name: str) -> SqlError:
        if not name:
            return SqlError(1038, "An object or column name is missing or empty.")
        if name_length(name) > MAX_NAME:
            return SqlError(103, f"The identifier that starts with '{name[:MAX_NAME]}' is too long. "
                                 f"Maximum length is {MAX_NAME}.")
        return SqlError(102, f"Invalid database name: {self.check_name(name)}.")

    @staticmethod
    def _new_db(name: str) -> dict:
        return {"name": name, "collation": DEFAULT_COLLATION, "user_access": "MULTI_USER", "tables": []}

    @staticmethod
    def _decode_db(name: str, content: dict, user_access: str) -> dict:
        return {
            "name": name,
            "collation": content.get("collation", DEFAULT_COLLATION),
            "user_access": user_access,
            "tables": [
                {"schema": t["schema"], "name": t["name"], "columns": list(t["columns"]),
                 "rows": [[_decode_value(v) for v in row] for row in t["rows"]]}
                for t in content.get("tables", [])
            ],
        }

    def _save(self) -> None:
        doc = {"databases": [
            {"name": db["name"], "user_access": db["user_access"], **self.export_database(db["name"])}
            for db in self._dbs.values()
        ]}
        tmp = self.path.with_name(self.path.name + ".tmp")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(doc), encoding="ascii")
        os.replace(tmp, self.path)
