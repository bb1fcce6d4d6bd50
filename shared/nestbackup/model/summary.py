"""What an operator needs after a restore, in one object: verified or not (with the counts), the safety backup, where
each live database was kept aside (and the statement to drop it when satisfied), restored copies left beside the live
databases, the downtime and the cost. Plain data; no I/O."""
from __future__ import annotations

from typing import Any, Protocol, Sequence

from ..errors import ValidationError
from .engines import engine_of
from .status import DatabaseState, ItemStatus


class RestoreLike(Protocol):
    """What the summary reads of a restore record (model/restores.py; a protocol keeps the modules acyclic)."""
    @property
    def items(self) -> Sequence[Any]: ...

    @property
    def safety_backup_id(self) -> str | None: ...

    @property
    def cost(self) -> dict[str, Any] | None: ...

    @property
    def downtime_seconds(self) -> float | None: ...

    @property
    def undoes(self) -> str | None: ...


def drop_statement(engine: str | None, name: str) -> str:
    """The SQL that drops database `name`, quoted as its engine quotes identifiers."""
    try:
        opening, closing = engine_of(engine or "").quotes
    except ValidationError:      # an engine this version does not know: plain quotes
        opening, closing = '"', '"'
    return f"DROP DATABASE {opening}{name.replace(closing, closing * 2)}{closing};"


def restore_summary(record: RestoreLike) -> dict[str, Any]:
    checks = [i.verified for i in record.items if i.verified is not None]
    done = [i for i in record.items if i.status is ItemStatus.SUCCEEDED]
    kept, copies = [], []
    for item in record.items:
        for db in item.databases:
            if db.state == DatabaseState.RENAMED and db.aside_kept:
                kept.append({"ResourceId": item.resource_id, "Database": db.name, "AsideName": db.aside,
                             "Drop": drop_statement(item.engine, db.aside)})
            elif db.state in (DatabaseState.RESTORING, DatabaseState.RESTORED, DatabaseState.ROLLED_BACK) and \
                    not record.undoes:  # an undo's are what its restore kept aside: that one's KeptAside names them
                copies.append({"ResourceId": item.resource_id, "Database": db.name, "CopyName": db.restored,
                               "Drop": drop_statement(item.engine, db.restored)})
    return {
        # False if any check failed, True if every check that could be made passed, None if none could.
        "Verified": all(checks) if checks else None,
        "Checks": {"Passed": sum(1 for c in checks if c), "Failed": sum(1 for c in checks if not c),
                   "NotChecked": sum(1 for i in done if i.verified is None)},
        "SafetyBackupId": record.safety_backup_id,
        "KeptAside": kept,            # live databases of before the restore: drop each when satisfied
        "RestoredCopies": copies,     # restored copies not put into place (a failure or a cancel): drop when not needed
        "DowntimeSeconds": record.downtime_seconds,
        "CostUSD": (record.cost or {}).get("TotalUSD"),
    }
