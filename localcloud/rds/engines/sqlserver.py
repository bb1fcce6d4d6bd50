"""An RDS SQL Server instance's databases: the local stand-in's JSON catalog (localcloud.mssql), exported for a
backup and imported for a restore."""
from __future__ import annotations

import json
from pathlib import Path

from .base import Engine, EngineError
from .dsn import Dsn


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
        from ...mssql import SqlError
        try:
            content = self.catalog.export_database(db)
        except SqlError as err:
            raise EngineError(err.message) from None
        path.write_text(json.dumps(content))
        info = self.describe([db])[db]
        return {**info, "Size": path.stat().st_size}

    def restore_database(self, file: Path, name: str, stopping) -> None:
        from ...mssql import SqlError
        try:
            self.catalog.import_database(name, json.loads(file.read_text()))
        except SqlError as err:
            raise EngineError(err.message) from None

    def drop_database(self, db: str) -> None:
        from ...mssql import SqlError
        try:
            self.catalog.drop_database(db)
        except SqlError as err:
            if err.number != 911:          # already gone
                raise EngineError(err.message) from None
