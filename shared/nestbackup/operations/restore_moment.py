"""One moment for the whole service instance: a restore of a hooked backup (one that recorded its moment T, when its
disks were snapshotted with every instance frozen) brings each RDS database whose log backups reach T's second to it
(RestoreTable / RecoveryDBInstance with RestoreTime, as a point-in-time restore does) instead of from its backup
set, so disks and databases describe the same second. Which can is asked of RDS (DescribeBackupPolicy,
DescribeLocalAvailableRecoveryTime: the Databases port's `restore_window`) and judged as a point-in-time restore
judges it (decisions/restore.why_not_restorable); the others come back from their set, the record saying why."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..decisions import restore as decide
from ..errors import CloudError
from ..model.records import ResourceType

if TYPE_CHECKING:
    from ..model.records import BackupRecord
    from ..model.restores import RestoreItem
    from ..ports import Ports
    from ..ports.databases import DBInstance


def why_not_at_moment(w: Ports, items: list[RestoreItem], consistent_at: str) -> dict[str, str | None]:
    """Per RDS item with databases: why its instance cannot be restored to T's second, or None. An RDS that does not
    answer leaves the item to its set (the restore goes on as it would without hooks), saying so."""
    second = decide.moment_second(consistent_at)
    out: dict[str, str | None] = {}
    for item in items:
        if item.resource_type is not ResourceType.RDS or not item.databases:
            continue
        try:
            window = w.rds.restore_window(item.resource_id)
        except CloudError as err:
            out[item.resource_id] = f"RDS did not answer about its log backups ({err.code}: {err.message})"
            continue
        out[item.resource_id] = decide.why_not_restorable(window, item.engine or "", second)
    return out


def plan_moment(w: Ports, backup: BackupRecord, items: list[RestoreItem], wanted: bool) -> list[str]:
    """Bring the items that can to the backup's moment T (when `wanted` and the backup has one); answers the
    resources that will be at T (the disks the backup took at it, the databases restored to it)."""
    consistent_at = backup.consistent_at
    if not wanted or not consistent_at:
        return []
    decide.bring_to_moment(items, consistent_at, why_not_at_moment(w, items, consistent_at))
    return decide.at_moment(items, backup.quiesce.at_moment if backup.quiesce else [])


def moment_reach(w: Ports, databases: list[DBInstance]) -> dict[str, str | None]:
    """For `plan`: per primary RDS instance, why a hooked backup's restore could not bring its databases to the
    backup's moment (log backup off, table restore off for MySQL, no restorable range yet), or None."""
    out: dict[str, str | None] = {}
    for inst in databases:
        if not inst.primary:
            continue
        try:
            out[inst.db_instance_id] = decide.why_not_restorable(w.rds.restore_window(inst.db_instance_id),
                                                                 inst.engine)
        except CloudError as err:
            out[inst.db_instance_id] = f"RDS did not answer about its log backups ({err.code})"
    return out
