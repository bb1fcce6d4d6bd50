"""The database gateway port in memory, over the in-memory RDS's database servers: row counts, the swap of a
restored database into its name with the live one set aside (as `adapters/databases` does over SQL), and what the
account lacks for it (its grants are MySQL's: server-wide under ACCOUNT, per database under its name)."""
from __future__ import annotations

from nestbackup.decisions.privileges import ACCOUNT, MYSQL_PRIVILEGES, PrivilegeGap, mysql_gaps
from nestbackup.errors import CloudError, Conflict, NotFound

DONE_MARK = "nestbackup_done"            # the table marking an aside name that holds no live database


class MemoryDatabaseGateway:
    def __init__(self, server: dict[str, dict[str, list]]) -> None:
        self.server = server                    # database name -> table -> rows (shared with MemoryDatabases)
        self.account = "nestbackup@%"
        # ACCOUNT or a database name -> the privileges granted there; the default account holds every one.
        self.grants: dict[str, set[str]] = {ACCOUNT: set(MYSQL_PRIVILEGES)}

    def row_counts(self, database: str) -> dict[str, int]:
        if database not in self.server:
            raise CloudError("DatabaseUnreachable", f"no database {database}", action="row_counts")
        return {table: len(rows) for table, rows in self.server[database].items()}

    def rename_back(self, original: str, restored: str, aside: str) -> bool:
        s = self.server
        if restored not in s:
            if original in s and aside in s:
                return not self._done_mark(aside)   # done already (a re-run)
            raise NotFound(f"restored database {restored} does not exist")
        if aside in s:
            raise Conflict(f"{aside} exists already and is not empty")
        kept = original in s
        # Like the real gateway on MySQL, a swap with no live database leaves the aside name holding only a mark,
        # so that a re-run knows the swap happened.
        s[aside] = s.pop(original) if kept else {DONE_MARK: []}
        s[original] = s.pop(restored)
        return kept

    def roll_back(self, original: str, restored: str, aside: str) -> None:
        s = self.server
        if restored not in s and original in s and aside in s:
            raise Conflict(f"the swap of {original} is finished: swap back to undo it")
        if aside in s and not self._done_mark(aside):
            if original in s:
                s[restored] = s.pop(original)
            s[original] = s.pop(aside)

    def missing_privileges(self, databases: list[str]) -> list[PrivilegeGap]:
        return mysql_gaps(self.account, self.grants.get(ACCOUNT, set()),
                          {name: self.grants.get(name, set()) for name in databases}, set())

    def _done_mark(self, name: str) -> bool:
        return set(self.server[name]) == {DONE_MARK}
