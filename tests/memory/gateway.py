"""The database gateway port in memory, over the in-memory RDS's database servers: row counts, and the swap of a
restored database into its name with the live one set aside (as `adapters/databases` does over SQL)."""
from __future__ import annotations

from nestbackup.errors import CloudError, Conflict, NotFound


class MemoryDatabaseGateway:
    def __init__(self, server: dict[str, dict[str, list]]) -> None:
        self.server = server                    # database name -> table -> rows (shared with MemoryDatabases)

    def row_counts(self, database: str) -> dict[str, int]:
        if database not in self.server:
            raise CloudError("DatabaseUnreachable", f"no database {database}", action="row_counts")
        return {table: len(rows) for table, rows in self.server[database].items()}

    def rename_back(self, original: str, restored: str, aside: str) -> bool:
        s = self.server
        if restored not in s:
            if original in s and aside in s:
                return True                     # done already (a re-run)
            raise NotFound(f"restored database {restored} does not exist")
        if aside in s:
            raise Conflict(f"{aside} exists already")
        kept = original in s
        if kept:
            s[aside] = s.pop(original)
        s[original] = s.pop(restored)
        return kept

    def roll_back(self, original: str, restored: str, aside: str) -> None:
        s = self.server
        if aside in s:
            if original in s:
                s[restored] = s.pop(original)
            s[original] = s.pop(aside)
