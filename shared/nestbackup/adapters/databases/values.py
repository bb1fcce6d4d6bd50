"""The values and errors of the database API: a server to reach, a rename's result, a failed statement,
and the names the rename leaves on the server (journal, marks)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from ...errors import NestBackupError

JOURNAL_PREFIX = "_nestbackup_rename_"
PRE, SWAPPED, DONE = "pre", "swapped", "done"
JOURNAL_COMMENT = ("nestbackup rename journal: definitions of the triggers, views, routines and events being moved "
                   "between the live, restored and aside databases; dropped when the rename completes")
PG_MARKER_COMMENT = ("nestbackup: no live database existed when the restored one was renamed into place; "
                     "this empty database only marks that rename as done and may be dropped")
MSSQL_MARK_TABLE = "_nestbackup_rename_done"
MOVABLE_KINDS = ("TRIGGER", "VIEW", "PROCEDURE", "FUNCTION", "EVENT")
RECREATE_ORDER = ("FUNCTION", "PROCEDURE", "VIEW", "TRIGGER", "EVENT")

Hook = Callable[[str], None]
_CHARSET = re.compile(r"[A-Za-z0-9_]+")


class DbRenameError(NestBackupError):
    """A statement of the rename failed on the database server; the step may be run again."""

    def __init__(self, message: str, *, code: int | str | None = None) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class DbServer:
    engine: str                       # "MySQL" | "PostgreSQL" | "SQLServer"
    host: str
    port: int
    user: str
    password: str = field(default="", repr=False)
    maintenance_db: str = "postgres"  # PostgreSQL / SQL Server (master): the database connected to, never renamed
    connect_timeout: int = 10


@dataclass(frozen=True)
class RenameResult:
    status: str                       # "Done" | "RolledBack"
    aside_kept: bool                  # a live database existed and is now under `aside`
    details: tuple[str, ...] = ()
