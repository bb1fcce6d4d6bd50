"""The database gateway port: SQL on the databases of one RDS instance, for what the RDS API cannot do: swap a
restored database into its name (setting the live one aside, never dropping it), undo that, and count rows to
verify a restore, and say what the account lacks for the swap (the doctor's check). `adapters/databases/gateway.py`
implements it over each engine's driver."""
from __future__ import annotations

from typing import Protocol

from ..decisions.privileges import PrivilegeGap


class DatabaseGateway(Protocol):
    def row_counts(self, database: str) -> dict[str, int]:
        """Exact row counts per base table. CloudError DatabaseUnreachable when the server cannot be read."""
        ...

    def rename_back(self, original: str, restored: str, aside: str) -> bool:
        """`restored` into the name `original`, the live `original` under `aside`; idempotent and resumable.
        True when a live database existed and is now under `aside`. NestBackupError when it cannot be done."""
        ...

    def roll_back(self, original: str, restored: str, aside: str) -> None:
        """Undo an interrupted rename_back: the live data under `original`, the restored under `restored`."""
        ...

    def missing_privileges(self, databases: list[str]) -> list[PrivilegeGap]:
        """What the account lacks to swap each of `databases` (decisions/privileges.py says what the swap needs),
        read without changing anything; empty when it has it all. CloudError DatabaseUnreachable when the server
        cannot be reached or refuses the login."""
        ...
