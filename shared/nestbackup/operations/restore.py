"""Restore use cases: the I/O around the restore decisions.

create   -> check the backup, lock the instance, write the record (every item Pending), start the flow
advance  -> one step of the phase the restore is in; the flow calls it in a loop and waits as it says:
            SafetyBackup -> StoppingInstance -> RestoringData -> RenamingDatabases -> StartingInstance -> Verifying
            -> Done. A failure before any data is touched goes to StartingInstance (start what was stopped).
rename   -> the db-rename function: live databases aside, restored ones into their names (never dropping data)
recover  -> the flow's Catch: start what was stopped, close the record as RestoreFailed
"""
from __future__ import annotations

import logging
import re
import secrets
import time

from ..errors import CloudError, Conflict, NestBackupError, NotFound, ValidationError
from ..model.records import ResourceType, new_record_id
from ..model.restores import RestoreItem, RestoreRecord
from ..model.status import BackupStatus, ItemStatus, RestorePhase, RestoreStatus
from ..ports import Ports
from ..ports.databases import TABLE_RESTORE_ENGINES
from ..ports.flows import RestoreFlowInput, execution_name
from ..steps import restore as steps
from ..steps.backup import client_token, next_wait
from . import backup as backups
from .backup import iso

log = logging.getLogger("nestbackup.restore")
RESTORE_ID = re.compile(r"^restore-[0-9a-f]{12,40}\Z")


def _log(event: str, **fields) -> None:
    log.info(event, extra={"fields": fields})


# -- create and read
def create_restore(w: Ports, backup_id: str, token: str | None = None, safety_backup: bool = True,
                   now: float | None = None) -> dict:
    backups.check_client_token(token)
    if not isinstance(safety_backup, bool):
        raise ValidationError("SafetyBackup must be true or false")
    now = time.time() if now is None else now
    backup = backups.load(w, backup_id)
    try:
        steps.check_restorable(backup)
    except steps.NotRestorable as err:
        raise Conflict(str(err)) from None
    unusable = _unusable_artifacts(w, backup)
    if unusable:
        raise Conflict(f"backup {backup.backup_id} cannot be restored: {'; '.join(unusable)}; nothing was stopped "
                       f"or changed")
    si, records, s = backup.service_instance_id, w.records, w.settings
    restore_id = new_record_id("restore", int(now * 1000), secrets.token_hex(4))
    existing = backups.claim(records, s, si, "restore", restore_id, token, now)
    if existing:
        stored = backups.same_token_record(records, existing)
        return RestoreRecord.from_docs(stored.header, stored.items).to_api()
    record = RestoreRecord(restore_id, backup.backup_id, si, iso(now), steps.plan_items(backup, restore_id),
                           phase=RestorePhase.SAFETY_BACKUP if safety_backup else RestorePhase.STOPPING_INSTANCE,
                           safety_backup=safety_backup, phase_started_epoch=now, started_epoch=now)
    records.create("restore", restore_id, si, record.header_doc(), {i.resource_id: i.to_dict() for i in record.items})
    records.put_doc(backups.ACTIVE, restore_id, {"Kind": "restore", "ServiceInstanceId": si, "StartedEpoch": now})
    _log("restore created", step="create", record_id=restore_id, backup_id=backup.backup_id, items=len(record.items))
    try:
        w.flows.start_once(s.restore_flow, execution_name(restore_id), RestoreFlowInput(restore_id))
    except CloudError as err:
        recover(w, restore_id, {"Code": err.code, "Detail": f"the restore flow could not start: {err.message}"})
        raise
    return record.to_api()


def _unusable_artifacts(w: Ports, backup) -> list[str]:
    """What the cloud no longer has (or cannot restore from) of a backup: ECS snapshots (DescribeSnapshots), RDS backup
    sets (DescribeBackups with BackupId), and for MySQL sets a MetaStatus other than OK (RestoreTable needs the
    database/table metadata). Checked before a restore records or stops anything."""
    problems = []
    disks = [i for i in backup.items if i.resource_type is ResourceType.DISK and i.status is ItemStatus.SUCCEEDED
             and i.artifact_id]
    if disks:
        found = w.ecs.describe_snapshots([i.artifact_id for i in disks])
        for item in disks:
            snap = found.get(item.artifact_id)
            if snap is None:
                problems.append(f"snapshot {item.artifact_id} of disk {item.resource_id} no longer exists")
            elif snap.status != "accomplished":
                problems.append(f"snapshot {item.artifact_id} of disk {item.resource_id} is {snap.status}")
    for item in backup.items:
        if item.resource_type is not ResourceType.RDS or item.status is not ItemStatus.SUCCEEDED \
                or not item.artifact_id:
            continue
        found = w.rds.backup_set(item.resource_id, item.artifact_id)
        if found is None:
            problems.append(f"RDS backup set {item.artifact_id} of {item.resource_id} no longer exists")
        elif found.status != "Success":
            problems.append(f"RDS backup set {item.artifact_id} of {item.resource_id} is {found.status}")
        elif item.engine in TABLE_RESTORE_ENGINES and item.databases and found.meta_status != "OK":
            problems.append(f"RDS backup set {item.artifact_id} of {item.resource_id} has MetaStatus "
                            f"{found.meta_status!r}: database/table restore needs OK (enable it in the backup "
                            f"policy and take a new backup)")
    return problems


def load(w: Ports, restore_id: str):
    if not isinstance(restore_id, str) or not RESTORE_ID.match(restore_id):
        raise NotFound(f"no restore {restore_id!r}")
    stored = w.records.read(restore_id)
    if stored is None or stored.header.get("Kind") != "restore":
        raise NotFound(f"no restore {restore_id}")
    return stored, RestoreRecord.from_docs(stored.header, stored.items)


def get_restore(w: Ports, restore_id: str) -> dict:
    return load(w, restore_id)[1].to_api()


def list_restores(w: Ports, service_instance_id: str, limit: int = 20, after: str | None = None) -> dict:
    if not backups.SERVICE_INSTANCE_ID.match(service_instance_id or ""):
        raise ValidationError("serviceInstanceId must be 1-128 letters, digits or _.:-")
    ids, next_token = w.records.list_ids(service_instance_id, "restore", limit, after)
    out = [get_restore(w, rid) for rid in ids]
    return {"Restores": out, "NextToken": next_token}


def _save(w: Ports, stored, record: RestoreRecord) -> None:
    for item in record.items:
        doc = item.to_dict()
        if doc != stored.items.get(item.resource_id):
            w.records.write_item(stored, item.resource_id, doc)
    header = record.header_doc()
    if header != stored.header:
        w.records.write_header(stored, header)


def _enter(record: RestoreRecord, phase: RestorePhase, now: float) -> None:
    record.phase, record.phase_started_epoch = phase, now


# -- the flow's loop
def advance(w: Ports, restore_id: str, round_number: int = 0, now: float | None = None) -> dict:
    """Do what the current phase needs now. Returns the flow's routing: State Wait (poll again after Wait s),
    Rename (run the db-rename function), Done."""
    now = time.time() if now is None else now
    stored, record = load(w, restore_id)
    s = w.settings
    try:
        w.records.acquire_lock(record.service_instance_id, restore_id, int(now * 1000), s.lock_lease_seconds * 1000)
    except Conflict:
        pass      # someone took over an expired lease; the record still says what this restore did
    handler = {RestorePhase.SAFETY_BACKUP: _safety_backup, RestorePhase.STOPPING_INSTANCE: _stop,
               RestorePhase.RESTORING_DATA: _restore_data, RestorePhase.RENAMING_DATABASES: lambda *a: None,
               RestorePhase.STARTING_INSTANCE: _start, RestorePhase.VERIFYING: _verify,
               RestorePhase.DONE: lambda *a: None}[record.phase]
    before = record.phase
    handler(w, record, now)
    if record.phase is RestorePhase.DONE:
        _finish(w, stored, record, now)
        return {"RestoreId": restore_id, "State": "Done", "Wait": 0, "Round": round_number + 1}
    _save(w, stored, record)
    if record.phase is RestorePhase.RENAMING_DATABASES:
        return {"RestoreId": restore_id, "State": "Rename", "Wait": 0, "Round": round_number + 1}
    if record.phase is not before:       # moved on: act on the next phase at once
        return {"RestoreId": restore_id, "State": "Wait", "Wait": 1, "Round": 0}
    # Rounds restart at every phase, so short phases are seen quickly and a day-long restore of data still
    # fits one execution's 5,000 events (waits double to CloudFlow's 300 s limit).
    return {"RestoreId": restore_id, "State": "Wait", "Wait": next_wait(round_number, first=1),
            "Round": round_number + 1}


def _safety_backup(w: Ports, record: RestoreRecord, now: float) -> None:
    if not record.safety_backup_id:
        out = backups.create_backup(w, record.service_instance_id,
                                    f"safety backup before restore {record.restore_id}",
                                    token=f"safety-{record.restore_id}"[:64], lock_holder=record.restore_id)
        record.safety_backup_id = out["BackupId"]
    safety = backups.load(w, record.safety_backup_id)
    if safety.status is BackupStatus.CREATED:
        _enter(record, RestorePhase.STOPPING_INSTANCE, now)
    elif safety.status is not BackupStatus.CREATING:
        causes = "; ".join(f"{i.resource_id}: {i.error_code}: {i.error_message}" for i in safety.items
                           if i.error_code) or safety.status_detail
        record.fail_operation(f"the safety backup {safety.backup_id} ended {safety.status} ({causes}); "
                              f"nothing was touched")
        _enter(record, RestorePhase.DONE, now)


def _instance_ids(record: RestoreRecord) -> list[str]:
    """The ECS instances whose disks this restore resets (a moved disk's instance is not stopped)."""
    return sorted({i.instance_id for i in record.items if i.resource_type is ResourceType.DISK and i.instance_id
                   and i.status is not ItemStatus.FAILED})


def _check_ownership(w: Ports, record: RestoreRecord) -> None:
    """Before anything is stopped, reset or restored: each resource must still belong to the service instance (a
    disk or RDS instance moved to another one since the backup is not touched; its item fails and says so)."""
    from .discovery import discover
    found = discover(w, record.service_instance_id)
    disks = {d.disk_id: d.instance_id for d in found.disks}
    databases = {d.db_instance_id for d in found.databases}
    for item in record.items:
        if item.status is not ItemStatus.PENDING:
            continue
        if item.resource_type is ResourceType.DISK:
            here = item.resource_id in disks and (item.instance_id is None or disks[item.resource_id] == item.instance_id)
        else:
            here = item.resource_id in databases
        if not here:
            item.fail("ResourceMoved", f"{item.resource_id} no longer belongs to {record.service_instance_id} "
                                       f"(Compute Nest and its tag say so); it was not touched")


def _stop(w: Ports, record: RestoreRecord, now: float) -> None:
    if not record.instances:
        _check_ownership(w, record)
    ids = _instance_ids(record)
    if not ids:
        _enter(record, RestorePhase.RESTORING_DATA, now)
        return
    found = w.ecs.describe_instances(ids)
    if not record.instances:
        record.instances = {iid: found[iid].status if iid in found else "Missing" for iid in ids}
        running = [iid for iid, status in record.instances.items() if status == "Running"]
        if running:
            w.ecs.stop_instances(running)
        found = w.ecs.describe_instances(ids)
    pending = [iid for iid in ids if iid in found and found[iid].status != "Stopped"]
    if not pending:
        _enter(record, RestorePhase.RESTORING_DATA, now)
    elif now - record.phase_started_epoch > w.settings.stop_deadline_seconds:
        states = ", ".join(f"{iid} {found[iid].status}" for iid in pending)
        record.fail_operation(f"the instances did not stop within {w.settings.stop_deadline_seconds} s "
                              f"({states}); no data was touched")
        _enter(record, RestorePhase.STARTING_INSTANCE, now)


def _restore_data(w: Ports, record: RestoreRecord, now: float) -> None:
    for item in record.items:
        if item.status is not ItemStatus.PENDING:
            continue
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
                    w.rds.restore_table(item.resource_id, item.source_artifact_id, steps.table_meta(item),
                                        client_token(record.restore_id, item.resource_id))
                item.status = ItemStatus.RUNNING
                for db in item.databases:
                    db.state = "Restoring"
        except CloudError as err:
            waits = w.rds.restore_waits(err) if item.resource_type is ResourceType.RDS else err.transient
            if not waits or now - record.phase_started_epoch > w.settings.restore_deadline_seconds:
                item.fail(err.code, err.message, err.request_id)
            else:
                _log("restore start deferred", step="restore", record_id=record.restore_id,
                     resource_id=item.resource_id, code=err.code, request_id=err.request_id)
    _follow_disks(w, record)
    _follow_databases(w, record, now)
    if all(_data_final(i) for i in record.items):
        _hold_back_if_any_failed(record)
        renames = any(db.state == "Restored" for i in record.items for db in i.databases)
        _enter(record, RestorePhase.RENAMING_DATABASES if renames else RestorePhase.STARTING_INSTANCE, now)


def _failed_databases(record: RestoreRecord) -> list[str]:
    return [f"{i.resource_id}" + (f" ({', '.join(db.name for db in i.databases if db.state == 'Failed')})"
                                   if any(db.state == "Failed" for db in i.databases) else "")
            for i in record.items if i.resource_type is ResourceType.RDS
            and (i.status is ItemStatus.FAILED or any(db.state == "Failed" for db in i.databases))]


def _hold_back_if_any_failed(record: RestoreRecord) -> None:
    """All or nothing across the restore's RDS instances: if one failed, none is swapped into place, so the service
    never runs on databases from two points in time. The restored copies stay under their restore names."""
    failed = _failed_databases(record)
    if not failed:
        return
    for item in record.items:
        if item.resource_type is ResourceType.RDS and item.status is ItemStatus.RUNNING:
            kept = [db for db in item.databases if db.state == "Restored"]
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
        all(db.state in ("Restored", "Failed") for db in item.databases)


def _follow_disks(w: Ports, record: RestoreRecord) -> None:
    running = [i for i in record.items if i.resource_type is ResourceType.DISK and i.status is ItemStatus.RUNNING]
    if not running:
        return
    disks = w.ecs.describe_disks([i.resource_id for i in running])
    for item in running:
        disk = disks.get(item.resource_id)
        if disk is None:
            item.fail("InvalidDiskId.NotFound", f"disk {item.resource_id} no longer exists")
        elif disk.status in ("In_use", "Available"):
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
            _log("restore poll deferred", step="restore", record_id=record.restore_id,
                 resource_id=item.resource_id, code=err.code, request_id=err.request_id)
        if item.status is not ItemStatus.RUNNING:
            continue
        if late:
            for db in item.databases:
                if db.state == "Restoring":
                    db.state = "Failed"
        done = [db for db in item.databases if db.state in ("Restored", "Failed")]
        item.progress = int(50 * len(done) / len(item.databases))
        failed = [db.name for db in item.databases if db.state == "Failed"]
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
        if db.state == "Restoring" and listed.get(db.restored) == "Running":
            db.state = "Restored"


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
        _log("restore tasks unavailable", step="restore", resource_id=item.resource_id, code=err.code)
    listed = _listed(w, item)
    unfinished = [t for t in tasks if t.unfinished]
    if status != "Running" or unfinished or listed:
        item.cloud_task_seen = True
    if status != "Running" or unfinished:
        return
    missing = [db for db in item.databases if db.state == "Restoring" and listed.get(db.restored) != "Running"]
    failed = [t for t in tasks if t.failed]
    if missing and failed:
        cause = f"{failed[0].reason_code or failed[0].status}: {failed[0].detail}".strip(": ")
        for db in missing:
            db.state = "Failed"
        item.fail("RestoreTableFailed", f"the RestoreTable task {failed[0].task_id} ended {failed[0].status} "
                                        f"({cause}); the live databases were not touched")
        return
    if missing and item.cloud_task_seen:
        for db in missing:
            db.state = "Failed"
        item.fail("RestoreTableFailed", f"the restore ended without {', '.join(db.restored for db in missing)}; "
                                        f"the live databases were not touched")
        return
    for db in item.databases:
        if db.state == "Restoring" and listed.get(db.restored) == "Running":
            db.state = "Restored"


def _start(w: Ports, record: RestoreRecord, now: float) -> None:
    to_start = [iid for iid, before in record.instances.items() if before == "Running"]
    if to_start:
        found = w.ecs.describe_instances(to_start)
        stopped = [iid for iid in to_start if iid in found and found[iid].status == "Stopped"]
        if stopped:
            w.ecs.start_instances(stopped)
            found = w.ecs.describe_instances(to_start)
        waiting = [iid for iid in to_start if iid in found and found[iid].status != "Running"]
        if waiting:
            if now - record.phase_started_epoch <= w.settings.stop_deadline_seconds:
                return
            record.fail_operation(f"the instances did not start again: {', '.join(waiting)}")
    _enter(record, RestorePhase.DONE if record.failed and not _any_renamed(record) else RestorePhase.VERIFYING, now)


def _any_renamed(record: RestoreRecord) -> bool:
    return any(db.state == "Renamed" for i in record.items for db in i.databases)


def _verify(w: Ports, record: RestoreRecord, now: float) -> None:
    for item in record.items:
        if item.resource_type is not ResourceType.RDS or item.status is not ItemStatus.SUCCEEDED or not item.expected:
            continue
        try:
            databases = w.database(item.resource_id, item.engine)
            actual = {db.name: databases.row_counts(db.name) for db in item.databases if db.name in item.expected}
        except (ValidationError, CloudError) as err:
            item.verified, item.verification = False, f"could not verify: {err}"
            continue
        # Reported beside the restore's status, never instead of it: the data is in place either way.
        item.verified, item.verification = steps.verify_counts(item.expected, actual, item.expected_after)
    _enter(record, RestorePhase.DONE, now)


def _finish(w: Ports, stored, record: RestoreRecord, now: float) -> None:
    for item in record.items:                 # nothing may stay open once the restore is over
        if item.status in (ItemStatus.PENDING, ItemStatus.RUNNING):
            item.fail("NotRestored", record.status_detail or "the restore ended before this resource was restored")
    record.refresh_status(iso(now))
    _save(w, stored, record)
    w.records.release_lock(record.service_instance_id, record.restore_id)
    w.records.delete_doc(backups.ACTIVE, record.restore_id)
    from .notify import notify
    notify(w, record.service_instance_id, record.to_api())
    _log("restore finished", step="finalize", record_id=record.restore_id, status=str(record.status))


# -- db-rename
def rename(w: Ports, restore_id: str, now: float | None = None) -> dict:
    """Move every live database aside and its restored copy into its name. Safe to run again after a crash at any
    point: rename_back finds where it stopped. A database it cannot swap is rolled back to the pre-restore names."""
    now = time.time() if now is None else now
    stored, record = load(w, restore_id)
    if record.phase is not RestorePhase.RENAMING_DATABASES:
        return {"RestoreId": restore_id, "Phase": str(record.phase)}
    for item in record.items:
        if item.resource_type is not ResourceType.RDS or item.status is not ItemStatus.RUNNING:
            continue
        try:
            databases = w.database(item.resource_id, item.engine)
        except (ValidationError, CloudError) as err:
            item.fail("NoDatabaseAccount", f"{err}; the restored databases are kept under their restore names")
            continue
        for db in item.databases:
            if db.state != "Restored":
                continue
            try:
                db.aside_kept = databases.rename_back(db.name, db.restored, db.aside)
                db.state = "Renamed"
                _log("database renamed", step="rename", record_id=restore_id, resource_id=item.resource_id,
                     database=db.name, aside=db.aside if db.aside_kept else None)
            except NestBackupError as err:
                try:
                    databases.roll_back(db.name, db.restored, db.aside)
                    db.state = "RolledBack"
                except NestBackupError:
                    db.state = "Failed"
                item.fail("RenameFailed", f"{db.name}: {err}; the live data is under {db.name!r}"
                          f"{' (or ' + repr(db.aside) + ')' if db.state == 'Failed' else ''}, the restored copy "
                          f"under {db.restored!r}")
        if item.status is ItemStatus.RUNNING:
            renamed = all(db.state == "Renamed" for db in item.databases)
            if renamed:
                item.status, item.progress = ItemStatus.SUCCEEDED, 100
            else:
                item.fail("RestoreIncomplete", "not every database was restored and renamed")
    _undo_swaps_if_any_failed(w, record)
    _enter(record, RestorePhase.STARTING_INSTANCE, now)
    _save(w, stored, record)
    return {"RestoreId": restore_id, "Phase": str(record.phase)}


# -- the flow's Catch
def _undo_swaps_if_any_failed(w: Ports, record: RestoreRecord) -> None:
    """All or nothing: when a database of the restore could not be swapped, the swaps already done are undone (the
    live data back under its name, the restored copy back under its restore name)."""
    failed = _failed_databases(record)
    if not failed:
        return
    for item in record.items:
        done = [db for db in item.databases if db.state == "Renamed"]
        if item.resource_type is not ResourceType.RDS or not done:
            continue
        databases = w.database(item.resource_id, item.engine)
        undone, kept = [], []
        for db in done:
            if not db.aside_kept:       # there was no live database to put back: the restored one stays
                kept.append(db.name)
                continue
            try:
                databases.rename_back(db.name, db.aside, db.restored)
                db.state, db.aside_kept = "RolledBack", False
                undone.append(db.name)
            except NestBackupError as err:
                kept.append(f"{db.name} ({err})")
        item.fail("NotSwapped", f"the restore of {'; '.join(failed)} failed, so this instance's swap was undone"
                                f"{': ' + ', '.join(undone) + ' hold their live data again, the restored copies are under their restore names' if undone else ''}"
                                f"{'; left restored: ' + ', '.join(kept) if kept else ''}")


def recover(w: Ports, restore_id: str, error: dict | None = None, now: float | None = None) -> dict:
    """Whatever failed: start the instances that were running before, and close the record as RestoreFailed."""
    now = time.time() if now is None else now
    stored, record = load(w, restore_id)
    if record.status is not RestoreStatus.RESTORING:
        return {"RestoreId": restore_id, "Status": str(record.status)}
    detail = str((error or {}).get("Detail") or "the restore flow failed")
    record.fail_operation(f"{(error or {}).get('Code') or 'FlowFailed'}: {detail}")
    to_start = [iid for iid, before in record.instances.items() if before == "Running"]
    deadline = time.monotonic() + min(300, w.settings.stop_deadline_seconds)
    while to_start:
        try:
            found = w.ecs.describe_instances(to_start)
            stopped = [iid for iid in to_start if iid in found and found[iid].status == "Stopped"]
            if stopped:
                w.ecs.start_instances(stopped)
            to_start = [iid for iid in to_start if iid in found and found[iid].status != "Running"]
        except CloudError as err:
            record.status_detail += f"; starting {', '.join(to_start)} failed too: {err.code}: {err.message}"
            break
        if to_start and time.monotonic() > deadline:
            record.status_detail += f"; still not running: {', '.join(to_start)}"
            break
        if to_start:
            time.sleep(1)
    _enter(record, RestorePhase.DONE, now)
    _finish(w, stored, record, now)
    return {"RestoreId": restore_id, "Status": str(record.status)}
