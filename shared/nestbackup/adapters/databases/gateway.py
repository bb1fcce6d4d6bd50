"""The database gateway port (`ports.gateway.DatabaseGateway`) over the engine adapters: one RDS instance's
databases reached as one account, for the swap of restored databases into their names and for row counts."""
from __future__ import annotations

from . import DbServer, rename_back, roll_back
from .counts import row_counts


class SqlDatabases:
    def __init__(self, server: DbServer) -> None:
        self.server = server

    @classmethod
    def connect_to(cls, *, engine: str, host: str, port: int, user: str, password: str,
                   maintenance_db: str) -> SqlDatabases:
        return cls(DbServer(engine=engine, host=host, port=port, user=user, password=password,
                            maintenance_db=maintenance_db))

    def row_counts(self, database: str) -> dict[str, int]:
        return row_counts(self.server, database)

    def rename_back(self, original: str, restored: str, aside: str) -> bool:
        return bool(rename_back(self.server, original, restored, aside).aside_kept)

    def roll_back(self, original: str, restored: str, aside: str) -> None:
        roll_back(self.server, original, restored, aside)
