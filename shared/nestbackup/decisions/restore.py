"""Restore decisions, no I/O: the items of a restore, the RestoreTable request, when a phase has run too long."""
from __future__ import annotations

from typing import Any, Protocol

from ..model.engines import engine_of, recovery_time_listed
from ..model.records import BackupRecord, ResourceType
from ..model.restores import DatabaseRestore, RestoreItem
from .dbnames import aside_name, restored_name
from .selection import Chosen, whole


class Window(Protocol):
    """What an instance can be restored to by the second (ports/databases.RestoreWindow)."""
    @property
    def log_backup(self) -> bool: ...
    @property
    def table_restore(self) -> bool: ...
    @property
    def begin(self) -> str | None: ...
    @property
    def end(self) -> str | None: ...


class NotRestorable(ValueError):
    """The backup cannot be restored (its status, or its service instance)."""


def check_restorable(backup: BackupRecord, service_instance_id: str | None = None) -> None:
    if not backup.restorable:
        why = f" ({backup.restorable_reason})" if backup.restorable_reason else ""
        raise NotRestorable(f"backup {backup.backup_id} is {backup.status}: only a Created backup can be restored "
                            f"whole{why}")
    if service_instance_id and backup.service_instance_id != service_instance_id:
        raise NotRestorable(f"backup {backup.backup_id} belongs to {backup.service_instance_id}, "
                            f"not {service_instance_id}")


def plan_items(backup: BackupRecord, restore_id: str, chosen: Chosen | None = None) -> list[RestoreItem]:
    """One item per chosen resource (every backed-up one by default): disks roll back to their snapshot, RDS
    databases (all, or those chosen) come back under new names and are renamed into place, the live ones set
    aside. What is not chosen is not part of the restore."""
    chosen = chosen or whole(backup)
    items = []
    for b in backup.items:
        if b.resource_id not in chosen.restored:
            continue
        item = RestoreItem(b.resource_id, b.resource_type, b.artifact_id or "", engine=b.engine,
                           instance_id=b.instance_id)
        if b.resource_type is ResourceType.RDS:
            engine = b.engine or ""
            names = chosen.restored[b.resource_id]
            dbs = [db for db in b.databases if names is None or db in names]
            item.databases = [DatabaseRestore(db, restored_name(db, restore_id, engine),
                                              aside_name(db, restore_id, engine)) for db in dbs]
            item.expected = {db: counts for db, counts in b.row_counts.items() if db in dbs}
            item.expected_after = {db: counts for db, counts in b.row_counts_after.items() if db in dbs}
        items.append(item)
    return items


def plan_point_in_time_items(databases: dict[str, tuple[str, list[str]]], restore_id: str) -> list[RestoreItem]:
    """A point-in-time restore: one item per RDS instance ({id: (engine, its databases)}), each database brought
    back under a new name as it was at the chosen second and renamed into place, the live one set aside. No counts
    to verify against: none were taken at that second."""
    items = []
    for rds_id, (engine, names) in sorted(databases.items()):
        item = RestoreItem(rds_id, ResourceType.RDS, "", engine=engine)
        item.databases = [DatabaseRestore(db, restored_name(db, restore_id, engine), aside_name(db, restore_id, engine))
                          for db in names]
        items.append(item)
    return items


def why_not_restorable(window: Window, engine: str, restore_time: str | None = None) -> str | None:
    """Why an instance cannot be restored to the second (or to any second), or None."""
    if not window.log_backup:
        return "log backup is off (DescribeBackupPolicy EnableBackupLog 0): turn it on in the backup policy"
    if engine_of(engine).meta_status_gates_restore and not window.table_restore:
        return "database and table restore is not enabled in the backup policy"
    if not recovery_time_listed(engine):
        return None     # no documented range (SQL Server): RDS judges the second itself
    if not window.begin or not window.end:
        return "RDS gives no restorable range yet (it starts with the first backup taken with log backup on)"
    if restore_time is not None and not window.begin <= restore_time <= window.end:
        return f"{restore_time} is outside the restorable range {window.begin} - {window.end}"
    return None


# How an RDS item of a hooked backup's restore comes back (RestoreItem.restored_to)
CONSISTENT_MOMENT, BACKUP_SET = "consistent-moment", "backup-set"


def moment_second(consistent_at: str) -> str:
    """T (UTC to the millisecond) as RDS's RestoreTime takes it, a whole second: rounded down, so nothing written
    after T is brought back. What was written between that second and T is left out; the hooks froze the
    application before T, so nothing of it was written there unless the freeze began within that second."""
    return consistent_at[:19] + "Z"


def bring_to_moment(items: list[RestoreItem], consistent_at: str, why_not: dict[str, str | None]) -> None:
    """Each RDS item whose instance can reach T's second (`why_not` None) is restored to it instead of from its set
    (no set: RDS starts from its own backups and replays the logs); the others from their set, saying why."""
    second = moment_second(consistent_at)
    for item in items:
        if item.resource_type is not ResourceType.RDS or not item.databases:
            continue
        why = why_not.get(item.resource_id, "its restore window was not asked")
        if why is None:
            item.restored_to, item.restore_time, item.source_artifact_id = CONSISTENT_MOMENT, second, ""
        else:
            item.restored_to, item.restored_to_reason = BACKUP_SET, why


def at_moment(items: list[RestoreItem], disks_at_moment: list[str]) -> list[str]:
    """The resources a restore brings to T: the disks the backup took at T, and the databases restored to it."""
    return [i.resource_id for i in items if i.resource_id in disks_at_moment or i.restored_to == CONSISTENT_MOMENT]


def table_meta(item: RestoreItem, whole_databases: bool) -> list[dict[str, Any]]:
    """RestoreTable's TableMeta: every database of the instance under its restore name. Where the engine's documented
    form lists the tables (MySQL) and `whole_databases` is False, each database lists the tables it held at backup
    time (`expected`, under their own names); otherwise (and for a database whose tables are not known) a database
    entry alone, which asks for the whole database (for MySQL an UNCONFIRMED form: adapters/rds.py)."""
    lists_tables = not whole_databases and engine_of(item.engine or "").table_meta_lists_tables
    out: list[dict[str, Any]] = []
    for d in item.databases:
        entry: dict[str, Any] = {"type": "db", "name": d.name, "newname": d.restored}
        tables = sorted(item.expected.get(d.name) or {})
        if lists_tables and tables:
            entry["tables"] = [{"type": "table", "name": t, "newname": t} for t in tables]
        out.append(entry)
    return out


def verify_counts(before: dict[str, dict[str, int]], actual: dict[str, dict[str, int]],
                  after: dict[str, dict[str, int]] | None = None) -> tuple[bool, str]:
    """Compare restored row counts with those around the backup set: counted just before it was requested and
    again once it was done. The set is a snapshot at some moment in between, so a service that kept writing gives
    a count anywhere in that window; only a count outside it (or a missing table or database) is a difference.
    Without counts from after, the window is the one count from before."""
    after = after or {}
    problems, exact, windowed, tables = [], 0, 0, 0
    for db, counts in sorted(before.items()):
        got = actual.get(db)
        if got is None:
            problems.append(f"{db}: missing")
            continue
        for table, rows in sorted(counts.items()):
            tables += 1
            later = after.get(db, {}).get(table, rows)
            low, high = min(rows, later), max(rows, later)
            have = got.get(table)
            if have is None or not low <= have <= high:
                window = f"{rows}" if low == high else f"{low}-{high} while the backup ran"
                problems.append(f"{db}.{table}: {have} rows, {window} at backup time")
            elif low == high:
                exact += 1
            else:
                windowed += 1
    if problems:
        return False, f"{len(problems)} of {tables} tables differ: " + "; ".join(problems[:20])
    said = f"{tables} tables in {len(before)} databases checked by row count: {exact} match the backup"
    return True, said + (f", {windowed} within the backup window (rows were written while it ran)" if windowed else "")
