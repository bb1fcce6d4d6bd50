"""Backup decisions, no I/O: which items a backup has, and how each disk is snapshotted."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from ..model.records import BackupItem, BackupMethod, ResourceType

# CreateSnapshotGroup limits. The doc page says 16 disks / 32 TiB per group, the SDK 7.11.8 comment 128 / 256 TiB;
# the lower figures are used until the newer ones are confirmed for every region.
GROUP_MAX_DISKS = 16
GROUP_MAX_GIB = 32 * 1024
GROUP_CATEGORIES = frozenset({"cloud_essd", "cloud_auto", "cloud_essd_entry"})   # ESSD family only
BACKUP_ENGINES = frozenset({"MySQL", "PostgreSQL", "SQLServer"})


@dataclass(frozen=True)
class DiskFacts:
    disk_id: str
    instance_id: str | None
    category: str
    size_gib: int
    multi_attach: bool = False


@dataclass(frozen=True)
class DatabaseFacts:
    db_instance_id: str
    engine: str


def groupable(disks: list[DiskFacts]) -> bool:
    """Can one crash-consistent snapshot group cover exactly these disks of one instance?"""
    return (1 < len(disks) <= GROUP_MAX_DISKS
            and sum(d.size_gib for d in disks) <= GROUP_MAX_GIB
            and all(d.category in GROUP_CATEGORIES and not d.multi_attach for d in disks))


def plan_items(disks: Iterable[DiskFacts], databases: Iterable[DatabaseFacts],
               use_groups: bool = True) -> list[BackupItem]:
    """One item per resource, in a stable order: disks by instance, then databases.

    Every disk of an instance goes into one snapshot group when all of them qualify; otherwise each disk gets its
    own snapshot. RDS engines other than MySQL, PostgreSQL and SQL Server are not backed up."""
    by_instance: dict[str | None, list[DiskFacts]] = defaultdict(list)
    for disk in sorted(disks, key=lambda d: (d.instance_id or "", d.disk_id)):
        by_instance[disk.instance_id].append(disk)
    items: list[BackupItem] = []
    for instance_id, members in by_instance.items():
        method = (BackupMethod.SNAPSHOT_GROUP if use_groups and instance_id and groupable(members)
                  else BackupMethod.SNAPSHOT)
        items += [BackupItem(d.disk_id, ResourceType.DISK, instance_id=instance_id, method=method) for d in members]
    for db in sorted(databases, key=lambda d: d.db_instance_id):
        if db.engine in BACKUP_ENGINES:
            items.append(BackupItem(db.db_instance_id, ResourceType.RDS, engine=db.engine,
                                    method=BackupMethod.RDS_BACKUP))
    return items
