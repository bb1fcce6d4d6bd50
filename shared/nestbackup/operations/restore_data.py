"""The restore's data phases. RestoringDatabases, while the service still runs: each RDS instance's databases are
restored under new names beside the live ones (RestoreTable; RecoveryDBInstance for SQL Server) and followed to their
end; all or nothing: if one fails, nothing is stopped, reset or swapped. RestoringData, with the instances stopped:
each disk is reset to its snapshot. So the service is down only for the disk resets and the swap of names, however
large the databases."""
from __future__ import annotations

import time

from .. import logs
from ..decisions import restore as decide
from ..decisions.backup import client_token
from ..errors import CloudError
from ..model.records import ResourceType
from ..model.restores import RestoreItem, RestoreRecord
from ..model.status import DatabaseState, ItemStatus, RestorePhase
from ..ports import Ports
from .discovery import discover

RESOURCE_MOVED = "ResourceMoved"


def check_ownership(w: Ports, record: RestoreRecord) -> None:
    """Before anything is restored, stopped or reset: each resource must still belong to the service instance (a
    disk or RDS instance moved to another one since the backup is not touched; its item fails and says so)."""
    found = discover(w, record.service_instance_id)
    disks = {d.disk_id: d.instance_id for d in found.disks}
    databases = {d.db_instance_id for d in found.databases}
    for item in record.items:
        if item.status is not ItemStatus.PENDING:
            continue
        if item.resource_type is ResourceType.DISK:
            here = item.resource_id in disks and item.instance_id in (None, disks[item.resource_id])
        else:
            here = item.resource_id in databases
        if not here:
            item.fail(RESOURCE_MOVED, f"{item.resource_id} no longer belongs to {record.service_instance_id} "
                                       f"(Compute Nest and its tag say so); it was not touched")
    record.ownership_checked = True


def restore_databases(w: Ports, record: RestoreRecord, now: float) -> None:
    """RestoringDatabases: the service runs on; its databases come back under new names beside the live ones. When
    every one is back, the instances are stopped; if any cannot be, nothing is stopped and the restore ends."""
    if not record.ownership_checked:
        check_ownership(w, record)
    databases = [i for i in record.items if i.resource_type is ResourceType.RDS]
    for item in databases:
        if item.status is ItemStatus.PENDING:
            _start(w, record, item, now)
    _follow_databases(w, record, now)
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
    restored first, whatever database is still to do)."""
    for item in record.items:
        if item.status is ItemStatus.PENDING:
            _start(w, record, item, now)
    _follow_disks(w, record)
    _follow_databases(w, record, now)
    if all(_data_final(i) for i in record.items):
        _hold_back_if_any_failed(record)
        renames = any(db.state == DatabaseState.RESTORED for i in record.items for db in i.databases)
        record.enter(RestorePhase.RENAMING_DATABASES if renames else RestorePhase.STARTING_INSTANCE, now)


def _start(w: Ports, record: RestoreRecord, item: RestoreItem, now: float) -> None:
    """Ask the cloud to restore one item: a disk reset, or an instance's databases under their new names."""
    try:
        if item.resource_type is ResourceType.DISK:
            w.ecs.reset_disk(item.resource_id, item.source_artifact_id)
            item.status = ItemStatus.RUNNING
        elif not item.databases:
            item.status, item.verification = ItemStatus.SUCCEEDED, "the backup held no databases"
        else:
            item.restore_started_epoch = item.restore_started_epoch or now
            if item.engine == "SQLServer":
                _recover_sqlserver(w, item)
            else:
                w.rds.restore_table(item.resource_id, item.source_artifact_id, decide.table_meta(item),
                                    client_token(record.restore_id, item.resource_id))
            item.status = ItemStatus.RUNNING
            for db in item.databases:
                db.state = DatabaseState.RESTORING
    except CloudError as err:
        waits = w.rds.restore_waits(err) if item.resource_type is ResourceType.RDS else err.transient
        if not waits or now - record.phase_started_epoch > w.settings.restore_deadline_seconds:
            item.fail(err.code, err.message, err.request_id)
        else:
            logs.event("restore start deferred", step="restore", record_id=record.restore_id,
                       resource_id=item.resource_id, code=err.code, request_id=err.request_id)


def failed_databases(record: RestoreRecord) -> list[str]:
    """The RDS instances (and their databases) whose restore failed. One that moved to another service instance is
    not the service's any more, so it holds nothing back."""
    return [f"{i.resource_id}" + (f" ({', '.join(db.name for db in i.databases if db.state == 'Failed')})"
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
            item.fail("NotSwapped", f"not renamed into place because the restore of {'; '.join(failed)} failed: the "
                                    f"live databases are in place; the restored copies are under "
                                    f"{', '.join(repr(db.restored) for db in kept) or 'no name'}")


def _recover_sqlserver(w: Ports, item: RestoreItem) -> None:
    """RecoveryDBInstance takes no ClientToken: if a restored database is already there, an earlier call (whose
    answer was lost) started the restore, and asking again would be refused for the duplicate names."""
    present = {d.name.lower() for d in w.rds.databases(item.resource_id)}
    if not any(db.restored.lower() in present for db in item.databases):
        w.rds.recover_databases(item.resource_id, item.source_artifact_id,
                                {db.name: db.restored for db in item.databases})


def _data_final(item: RestoreItem) -> bool:
    if item.status in (ItemStatus.SUCCEEDED, ItemStatus.FAILED):
        return True
    return item.resource_type is ResourceType.RDS and item.status is ItemStatus.RUNNING and \
        all(db.state in (DatabaseState.RESTORED, DatabaseState.FAILED) for db in item.databases)


def _follow_disks(w: Ports, record: RestoreRecord) -> None:
    running = [i for i in record.items if i.resource_type is ResourceType.DISK and i.status is ItemStatus.RUNNING]
    if not running:
        return
    disks = w.ecs.describe_disks([i.resource_id for i in running])
    for item in running:
        disk = disks.get(item.resource_id)
        if disk is None:
            item.fail("InvalidDiskId.NotFound", f"disk {item.resource_id} no longer exists")
        elif disk.settled:
            item.status, item.progress = ItemStatus.SUCCEEDED, 100
            item.verification = f"rolled back to snapshot {item.source_artifact_id}"


def _follow_databases(w: Ports, record: RestoreRecord, now: float) -> None:
    late = now - record.phase_started_epoch > w.settings.restore_deadline_seconds
    for item in record.items:
        if item.resource_type is not ResourceType.RDS or item.status is not ItemStatus.RUNNING:
            continue
        try:
            if item.engine == "SQLServer":
                _follow_recovery(w, item)
            else:
                _follow_restore_table(w, item)
        except CloudError as err:
            if not w.rds.restore_waits(err):
                raise
            logs.event("restore poll deferred", step="restore", record_id=record.restore_id,
                       resource_id=item.resource_id, code=err.code, request_id=err.request_id)
        if item.status is not ItemStatus.RUNNING:
            continue
        if late:
            for db in item.databases:
                if db.state == DatabaseState.RESTORING:
                    db.state = DatabaseState.FAILED
        done = [db for db in item.databases if db.state in (DatabaseState.RESTORED, DatabaseState.FAILED)]
        item.progress = int(50 * len(done) / len(item.databases))
        failed = [db.name for db in item.databases if db.state == DatabaseState.FAILED]
        if failed and len(done) == len(item.databases):
            action = "RecoveryDBInstance" if item.engine == "SQLServer" else "RestoreTable"
            item.fail(f"{action}Failed", f"{action} did not bring back {', '.join(failed)} in time; "
                                         f"the live databases were not touched")


def _listed(w: Ports, item: RestoreItem) -> dict[str, str]:
    """DBStatus of each restored name the instance lists (absent: not listed)."""
    out = {}
    for db in item.databases:
        for found in w.rds.databases(item.resource_id, db.restored):
            if found.name == db.restored:
                out[db.restored] = found.status
    return out


def _follow_recovery(w: Ports, item: RestoreItem) -> None:
    """SQL Server (RecoveryDBInstance): a database is back when it is listed Running."""
    listed = _listed(w, item)
    for db in item.databases:
        if db.state == DatabaseState.RESTORING and listed.get(db.restored) == "Running":
            db.state = DatabaseState.RESTORED


def _follow_restore_table(w: Ports, item: RestoreItem) -> None:
    """RestoreTable creates the new databases (and they are listed) before it has filled them, so a listed database
    is not a restored one. The restore is over when the instance is Running again (it shows TempDBInstanceCreating
    meanwhile) and no restore task of the instance is unfinished; then each database listed Running is restored. A
    failed task fails the item with the cloud's cause; a task that ended without the databases fails it too."""
    status = w.rds.instance_status(item.resource_id)
    try:
        tasks = w.rds.restore_tasks(item.resource_id, item.restore_started_epoch or time.time())
    except CloudError as err:
        if w.rds.restore_waits(err):
            raise
        tasks = []              # no task centre (e.g. not permitted): judge by instance and databases alone
        logs.event("restore tasks unavailable", step="restore", resource_id=item.resource_id, code=err.code)
    listed = _listed(w, item)
    unfinished = [t for t in tasks if t.unfinished]
    if status != "Running" or unfinished or listed:
        item.cloud_task_seen = True
    if status != "Running" or unfinished:
        return
    missing = [db for db in item.databases
               if db.state == DatabaseState.RESTORING and listed.get(db.restored) != "Running"]
    failed = [t for t in tasks if t.failed]
    if missing and (failed or item.cloud_task_seen):
        if failed:
            cause = f"{failed[0].reason_code or failed[0].status}: {failed[0].detail}".strip(": ")
            why = f"the RestoreTable task {failed[0].task_id} ended {failed[0].status} ({cause})"
        else:
            why = f"the restore ended without {', '.join(db.restored for db in missing)}"
        for db in missing:
            db.state = DatabaseState.FAILED
        item.fail("RestoreTableFailed", f"{why}; the live databases were not touched")
        return
    for db in item.databases:
        if db.state == DatabaseState.RESTORING and listed.get(db.restored) == "Running":
            db.state = DatabaseState.RESTORED
