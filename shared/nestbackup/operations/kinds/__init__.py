"""The resource kinds a backup takes and a restore brings back, one module each, behind one `ItemAction` interface
(`action.py`). A new kind = one module + one row in KINDS."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...model.records import BackupItem, BackupMethod, ResourceType
from .disk import DiskSnapshot
from .rds_backup import RdsBackup
from .snapshot_group import SnapshotGroup

if TYPE_CHECKING:
    from ...model.restores import RestoreItem
    from .action import ItemAction

# In the order the steps work through them (snapshots, groups, then RDS: as before, one batch each).
KINDS: dict[BackupMethod, ItemAction] = {
    BackupMethod.SNAPSHOT: DiskSnapshot(),
    BackupMethod.SNAPSHOT_GROUP: SnapshotGroup(),
    BackupMethod.RDS_BACKUP: RdsBackup(),
}


def kind_of(item: BackupItem) -> ItemAction | None:
    """The backup side: the kind of the item's backup method (None for an item never backed up, e.g. Skipped)."""
    return KINDS[item.method] if item.method else None


# The restore side goes by resource: every disk is reset the same way, whether its snapshot was its own or a
# group's member (so the disks of a restore are described in one batch).
RESTORE_KINDS: dict[ResourceType, ItemAction] = {
    ResourceType.DISK: KINDS[BackupMethod.SNAPSHOT],
    ResourceType.RDS: KINDS[BackupMethod.RDS_BACKUP],
}


def restore_kind_of(item: BackupItem | RestoreItem) -> ItemAction:
    return RESTORE_KINDS[item.resource_type]
