"""Drill decisions, no I/O: what a drill restores, whether scratch databases fit on their instance, what a scratch
restore's check says, and the recovery objectives a service instance achieved against its targets."""
from __future__ import annotations

from typing import Any

from ..model.drills import DrillItem
from ..model.records import BackupRecord
from ..model.status import BackupStatus
from .restore import plan_items as restore_items
from .restore import verify_counts

# The backups a drill can prove: what a restore (whole or by selection) can use (docs/statuses.md, "selectable").
DRILLABLE = (BackupStatus.CREATED, BackupStatus.PARTIALLY_CREATED)
GIB = 1 << 30


class NotDrillable(ValueError):
    """The backup has nothing a drill can restore."""


def plan_items(backup: BackupRecord, drill_id: str) -> list[DrillItem]:
    """One item per succeeded artifact of the backup: its databases under scratch names (the restore's naming, with
    the drill's id), its snapshot into a scratch disk. Refused when there is nothing to drill."""
    if backup.status not in DRILLABLE:
        raise NotDrillable(f"backup {backup.backup_id} is {backup.status}: only a Created or PartiallyCreated backup "
                           f"can be drilled")
    sizes = {b.resource_id: b.size_bytes for b in backup.items}
    items = [DrillItem(**vars(i), size_bytes=sizes.get(i.resource_id)) for i in restore_items(backup, drill_id)]
    if not items:
        raise NotDrillable(f"backup {backup.backup_id} holds no artifact to restore")
    return items


def storage_shortfall(storage_gib: Any, disk_used: int | None, needed: int | None) -> str | None:
    """Whether scratch copies of `needed` bytes fit beside what the instance already stores (DBInstanceStorage in
    GB, DescribeResourceUsage DiskUsed in bytes); a sentence saying why not, None when they fit. Unknown figures do
    not refuse (the restore then fails on its own if the space runs out)."""
    try:
        total = int(float(storage_gib)) * GIB
    except (TypeError, ValueError):
        return None
    if disk_used is None or needed is None:
        return None
    free = total - disk_used
    if needed <= free:
        return None
    return (f"scratch copies need about {needed / GIB:.1f} GiB and the instance has {max(0, free) / GIB:.1f} GiB "
            f"free ({storage_gib} GB, {disk_used / GIB:.1f} GiB used): the drill would fill production storage")


def check_databases(item: DrillItem, actual: dict[str, dict[str, int]]) -> tuple[bool, str]:
    """Row counts of the scratch databases (`actual`, by the original names) against those at backup time; without
    counts from backup time, a database is checked by being there."""
    if not item.expected:
        return True, f"{len(item.databases)} databases restored into scratch (no row counts at backup time)"
    return verify_counts(item.expected, actual, item.expected_after)


def recovery_objectives(targets: dict[str, Any], newest_backup_epoch: float | None,
                        newest_drilled_epoch: float | None, recovery_seconds: float | None,
                        now: float) -> dict[str, Any]:
    """What one service instance achieved against its targets: the recovery point (age of the newest backup proven
    by a drill, and of the newest backup at all) and the recovery time (the longest a recent drill or restore
    measured); each target it misses is a breach."""
    def age(epoch: float | None) -> float | None:
        return None if epoch is None else round(max(0.0, now - epoch), 1)

    proven, newest = age(newest_drilled_epoch), age(newest_backup_epoch)
    rpo, rto = targets.get("RecoveryPointSeconds"), targets.get("RecoveryTimeSeconds")
    breaches = []
    if rpo is not None:
        if proven is None:
            breaches.append("RecoveryPoint: no backup of it has been proven by a drill")
        elif proven > rpo:
            breaches.append(f"RecoveryPoint: the newest drilled backup is {int(proven)} s old, over {rpo} s")
    if rto is not None:
        if recovery_seconds is None:
            breaches.append("RecoveryTime: no drill or restore has measured it")
        elif recovery_seconds > rto:
            breaches.append(f"RecoveryTime: {recovery_seconds} s measured, over {rto} s")
    return {"RecoveryPointSeconds": proven, "NewestBackupAgeSeconds": newest,
            "RecoveryTimeSeconds": recovery_seconds, "Targets": dict(targets), "Breaches": breaches,
            "Breached": bool(breaches)}
