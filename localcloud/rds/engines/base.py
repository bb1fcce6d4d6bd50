"""The real database server behind an RDS instance, as the emulator uses it: the `Engine` interface each engine
module implements (postgres.py, mysql.py, sqlserver.py), the names every engine reserves, and `EngineError`, the
one failure a server or client tool reports.

Database names never pass through a shell: SQL identifiers are quoted by the drivers' own quoting (pg) or by doubling
backticks (MySQL), the command-line tools get them as single argv items or through environment variables
(tools.py), and connection strings are built with libpq's quoting rules.
"""
from __future__ import annotations

import secrets
from pathlib import Path

from .dsn import Dsn

# Scratch databases that a table-level MySQL restore loads a dump into; never part of an instance. Read here only,
# when used, so that a test can narrow it to its own names.
SCRATCH_PREFIX = "__rds_restore_"


class EngineError(Exception):
    """A real database server or tool refused or failed; the message is meant for a job's failure reason."""


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

    def scratch_name(self) -> str:
        """A new scratch database's name (reserved: `check_name` refuses it, `user_databases` hides it)."""
        return SCRATCH_PREFIX + secrets.token_hex(8)

    def user_databases(self) -> list[str]:
        return [d for d in self.all_databases() if d not in self.system and not d.startswith(SCRATCH_PREFIX)]

    # -- implemented per engine
    def version(self) -> str: ...
    def all_databases(self) -> list[str]: ...
    def describe(self, names: list[str]) -> dict[str, dict]: ...
    def dump(self, db: str, path: Path, stopping) -> dict: ...
    def drop_database(self, db: str) -> None: ...

    def used_bytes(self, names: list[str]) -> int:
        """What the named databases take on the server; -1 where the engine cannot tell."""
        return -1

