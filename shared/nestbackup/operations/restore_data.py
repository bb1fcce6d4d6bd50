"""The restore's data phases. RestoringDatabases, while the service still runs: each RDS instance's databases are
restored under new names beside the live ones (RestoreTable; RecoveryDBInstance for SQL Server) and followed to their
end; all or nothing: if one fails, nothing is stopped, reset or swapped. RestoringData, with the instances stopped:
each disk is reset to its snapshot. So the service is down only for the disk resets and the swap of names, however
large the databases."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import logs
from ..errors import CloudError
from ..model.records import ResourceType
from ..model.status import ITEM_FINAL, DatabaseState, ItemStatus, RestorePhase
from .discovery import discover
from .kinds import RESTORE_KINDS, restore_kind_of
from .undo_changes import check_databases
from .undo_snapshots import take_at_stop

if TYPE_CHECKING:
    from ..model.restores import RestoreItem, RestoreRecord
    from ..ports import Ports

RESOURCE_MOVED = "ResourceMoved"


def check_ownership(w: Ports, record: RestoreRecord) -> None:
    """Before anything is restored, stopped or reset: each resource must still belong to the service instance (a
    disk or RDS instance moved to another one since the backup is not touched; its item fails and says so)."""
    found = discover(w, record.service_instance_id)
    for item in record.items:
        if item.status is not ItemStatus.PENDING:
            continue
        if not restore_kind_of(item).still_owned(item, found):
            item.fail(RESOURCE_MOVED, f"{item.resource_id} no longer belongs to {record.service_instance_id} "
                                       f"(Compute Nest and its tag say so); it was not touched")
    record.ownership_checked = True


def restore_databases(w: Ports, record: RestoreRecord, now: float) -> None:
    """RestoringDatabases: the service runs on; its databases come back under new names beside the live ones. When
    every one is back, the instances are stopped; if any cannot be, nothing is stopped and the restore ends. An
    undo first checks the databases kept aside (undo_changes.py)."""
    if not check_databases(w, record, now):
        return
    if not record.ownership_checked:
        check_ownership(w, record)
    databases = [i for i in record.items if restore_kind_of(i).restores_beside_live]
    for item in databases:
        if item.status is ItemStatus.PENDING:
            _start(w, record, item, now)
    _follow(w, record, now, beside_live_only=True)
    if not all(_data_final(i) for i in databases):
        return
    if failed_databases(record):
        _hold_back_if_any_failed(record)
        record.fail_operation("not every database could be restored under its new name, so nothing was stopped, "
                              "reset or swapped: the service ran on its live databases and disks throughout")
        record.enter(RestorePhase.DONE, now)
        return
    record.enter(RestorePhase.STOPPING_INSTANCE, now)


def restore_data(w: Ports, record: RestoreRecord, now: float) -> None:
    """RestoringData, the instances stopped: reset the disks (and, for a restore recorded before databases were
    restored first, whatever database is still to do). First the snapshots an undo needs (undo_snapshots.py)."""
    if not take_at_stop(w, record, now):
        return
    for item in record.items:
        if item.status is ItemStatus.PENDING:
            _start(w, record, item, now)
    _follow(w, record, now)
    if all(_data_final(i) for i in record.items):
        _hold_back_if_any_failed(record)
        renames = any(db.state == DatabaseState.RESTORED for i in record.items for db in i.databases)
        record.enter(RestorePhase.RENAMING_DATABASES if renames else RestorePhase.STARTING_INSTANCE, now)


def _start(w: Ports, record: RestoreRecord, item: RestoreItem, now: float) -> None:
    """Ask the cloud to restore one item, through its kind: a disk reset, or an instance's databases under their new
    names."""
    kind = restore_kind_of(item)
    try:
        kind.restore(w, record, item, now)
    except CloudError as err:
        if not kind.restore_waits(w, err) or now - record.phase_started_epoch > w.settings.restore_deadline_seconds:
            item.fail(err.code, err.message, err.request_id)
        else:
            logs.event("restore start deferred", step="restore", record_id=record.restore_id,
                       resource_id=item.resource_id, code=err.code, request_id=err.request_id)


def _follow(w: Ports, record: RestoreRecord, now: float, beside_live_only: bool = False) -> None:
    """Each kind follows its running restores (disks first, then databases), in batches."""
    for resource_type, kind in RESTORE_KINDS.items():
        if beside_live_only and not kind.restores_beside_live:
            continue
        # a database item whose databases are all back (an undo's are from the start) has nothing left to follow
        running = [i for i in record.items if i.resource_type is resource_type and i.status is ItemStatus.RUNNING
                   and not (kind.restores_beside_live and _data_final(i))]
        if running:
            kind.follow(w, record, running, now)


def failed_databases(record: RestoreRecord) -> list[str]:
    """The RDS instances (and their databases) whose restore failed. One that moved to another service instance is
    not the service's any more, so it holds nothing back."""
    return [f"{i.resource_id}" + (f" ({', '.join(db.name for db in i.databases if db.state == DatabaseState.FAILED)})"
                                   if any(db.state == DatabaseState.FAILED for db in i.databases) else "")
            for i in record.items if i.resource_type is ResourceType.RDS and i.error_code != RESOURCE_MOVED
            and (i.status is ItemStatus.FAILED or any(db.state == DatabaseState.FAILED for db in i.databases))]


def _hold_back_if_any_failed(record: RestoreRecord) -> None:
    """All or nothing across the restore's RDS instances: if one failed, none is swapped into place, so the service
    never runs on databases from two points in time. The restored copies stay under their restore names."""
    failed = failed_databases(record)
    if not failed:
        return
    for item in record.items:
        if item.resource_type is ResourceType.RDS and item.status is ItemStatus.RUNNING:
            kept = [db for db in item.databases if db.state == DatabaseState.RESTORED]
            item.close(ItemStatus.ROLLED_BACK, f"not renamed into place because the restore of {'; '.join(failed)} "
                                                f"failed: the live databases are in place; the restored copies are "
                                                f"under {', '.join(repr(db.restored) for db in kept) or 'no name'}")


def _data_final(item: RestoreItem) -> bool:
    if item.status in ITEM_FINAL:
        return True
    # restored beside the live resource: its part is over once every database is back (or failed); the swap is next
    return restore_kind_of(item).restores_beside_live and item.status is ItemStatus.RUNNING and \
        all(db.state in (DatabaseState.RESTORED, DatabaseState.FAILED) for db in item.databases)
