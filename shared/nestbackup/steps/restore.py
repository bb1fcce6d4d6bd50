"""Restore decisions, no I/O: the items of a restore, the RestoreTable request, when a phase has run too long."""
from __future__ import annotations

from ..model.records import BackupRecord, ResourceType
from ..model.restores import DatabaseRestore, RestoreItem
from ..model.status import BackupStatus, ItemStatus
from .dbnames import aside_name, restored_name


class NotRestorable(ValueError):
    """The backup cannot be restored (its status, or its service instance)."""


def check_restorable(backup: BackupRecord, service_instance_id: str | None = None) -> None:
    if backup.status is not BackupStatus.CREATED:
        raise NotRestorable(f"backup {backup.backup_id} is {backup.status}: only a Created backup can be restored")
    if service_instance_id and backup.service_instance_id != service_instance_id:
        raise NotRestorable(f"backup {backup.backup_id} belongs to {backup.service_instance_id}, "
                            f"not {service_instance_id}")


def plan_items(backup: BackupRecord, restore_id: str) -> list[RestoreItem]:
    """One item per backed-up resource: disks roll back to their snapshot, RDS databases come back under new names
    and are renamed into place, the live ones set aside."""
    items = []
    for b in backup.items:
        if b.status is not ItemStatus.SUCCEEDED or not b.artifact_id:
            continue
        item = RestoreItem(b.resource_id, b.resource_type, b.artifact_id, engine=b.engine, instance_id=b.instance_id)
        if b.resource_type is ResourceType.RDS:
            item.databases = [DatabaseRestore(db, restored_name(db, restore_id, b.engine),
                                              aside_name(db, restore_id, b.engine)) for db in b.databases]
            item.expected = dict(b.row_counts)
        items.append(item)
    return items


def table_meta(item: RestoreItem) -> list[dict]:
    """RestoreTable's TableMeta: every database of the instance, whole, under its restore name."""
    return [{"type": "db", "name": d.name, "newname": d.restored} for d in item.databases]


def verify_counts(expected: dict[str, dict[str, int]], actual: dict[str, dict[str, int]]) -> tuple[bool, str]:
    """Compare per-table row counts with those at backup time; the message names every difference."""
    problems = []
    for db, tables in sorted(expected.items()):
        got = actual.get(db)
        if got is None:
            problems.append(f"{db}: missing")
            continue
        for table, rows in sorted(tables.items()):
            if got.get(table) != rows:
                problems.append(f"{db}.{table}: {got.get(table)} rows, {rows} at backup time")
    if problems:
        return False, "; ".join(problems[:20])
    return True, f"{sum(len(t) for t in expected.values())} tables match their row counts at backup time"
