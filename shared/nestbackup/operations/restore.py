"""Restore use cases: the I/O around the restore decisions.

create   -> check the backup, open it as opening.py says (token, index, lock, record with every item Pending, flow)
advance  -> one step of the phase the restore is in; the flow calls it in a loop and waits as it says:
            SafetyBackup -> StoppingInstance -> RestoringData (restore_data.py) -> RenamingDatabases
            (restore_rename.py, the db-rename function) -> StartingInstance -> Verifying -> Done. A failure before any
            data is touched goes to StartingInstance (start what was stopped).
recover  -> the flow's Catch: start what was stopped, close the record as RestoreFailed
"""
from __future__ import annotations

import math
import secrets
import time
from typing import TYPE_CHECKING

from .. import logs
from ..decisions import restore as decide
from ..decisions import selection as select
from ..decisions.backup import next_wait
from ..errors import CloudError, Conflict, ValidationError
from ..model.causes import INTERRUPTED, root_cause
from ..model.ids import check_client_token
from ..model.records import BackupRecord, ResourceType, iso_utc, new_record_id, record_time
from ..model.restores import RestoreItem, RestoreRecord
from ..model.selection import RestoreRequest, Selection
from ..model.status import CANCELLED, BackupStatus, DatabaseState, ItemStatus, RestorePhase, RestoreStatus
from ..ports import Ports
from ..ports.compute import Instance
from ..ports.flows import RestoreFlowInput
from ..ports.records import StoredRecord
from ..ports.steps.advance import AdvanceOutput, AdvanceState
from .costs import Meter, final_cost
from .instances import start_stopped
from .kinds import RESTORE_KINDS
from .loading import load_backup, read_restore, save
from .opening import Opening, begin, earlier_record, ensure_started, fingerprint, start_flow, write_record
from .restore_data import check_ownership, restore_data, restore_databases
from .restore_moment import plan_moment
from .undo_snapshots import count_at_end, note_end

if TYPE_CHECKING:
    from .listing import Filter


# -- create and read
def create_from_request(w: Ports, request: RestoreRequest, now: float | None = None) -> dict:
    """A restore as the API's request asks for it (`model/selection.RestoreRequest`)."""
    return create_restore(w, request.backup_id, request.client_token, request.safety_backup, now,
                          selection=request.selection, to_consistent_moment=request.to_consistent_moment)


def chosen_resources(backup: BackupRecord, selection: Selection | None) -> select.Chosen:
    """What a restore of `backup` brings back: the whole backup (it must be restorable), or the selection (its
    resources must be in the backup and restorable from it). Refused before anything is recorded or touched:
    ValidationError (400) for names not in the backup, Conflict (409) for what cannot be restored."""
    try:
        if selection is None:
            decide.check_restorable(backup)
            return select.whole(backup)
        return select.choose(backup, selection)
    except select.NotInBackup as err:
        raise ValidationError(str(err)) from None
    except (decide.NotRestorable, select.NotSelectable) as err:
        raise Conflict(str(err)) from None


def create_restore(w: Ports, backup_id: str, token: str | None = None, safety_backup: bool = True,
                   now: float | None = None, selection: Selection | None = None,
                   to_consistent_moment: bool = True) -> dict:
    """`to_consistent_moment`: a hooked backup's databases go to its moment T where their log backups reach it
    (operations/restore_moment.py), the others come from their sets."""
    check_client_token(token)
    if not isinstance(safety_backup, bool) or not isinstance(to_consistent_moment, bool):
        raise ValidationError("SafetyBackup and ToConsistentMoment must be true or false")
    now = time.time() if now is None else now
    meter = Meter(w)
    backup = load_backup(w, backup_id)
    chosen = chosen_resources(backup, selection)
    restore_id = new_record_id("restore", int(now * 1000), secrets.token_hex(4))
    items = decide.plan_items(backup, restore_id, chosen)
    at_moment = plan_moment(w, backup, items, to_consistent_moment)
    # a database going to T needs no set of its own
    from_sets = {i.resource_id for i in items if not i.restore_time}
    unusable = _unusable_artifacts(w, backup, chosen, from_sets)
    if unusable:
        raise Conflict(f"backup {backup.backup_id} cannot be restored: {'; '.join(unusable)}; nothing was stopped "
                       f"or changed")
    si = backup.service_instance_id
    record = RestoreRecord(restore_id, backup.backup_id, si, iso_utc(now), items,
                           phase=RestorePhase.SAFETY_BACKUP if safety_backup else RestorePhase.RESTORING_DATABASES,
                           safety_backup=safety_backup, phase_started_epoch=now, started_epoch=now,
                           selection=select.recorded(selection, chosen),
                           consistent_at=backup.consistent_at if to_consistent_moment else None, at_moment=at_moment)
    asked: dict[str, object] = {} if selection is None else {"Selection": selection.as_body()}
    if not to_consistent_moment:
        asked["ToConsistentMoment"] = False
    return open_restore(w, record, token, fingerprint(ServiceInstanceId=si, Kind="restore", BackupId=backup.backup_id,
                                                      SafetyBackup=safety_backup, **asked), now, meter)


def open_restore(w: Ports, record: RestoreRecord, token: str | None, request_print: str, now: float,
                 meter: Meter) -> dict:
    """Open a new restore record as operations/opening.py says (token, index, lock, record, flow); a request with an
    earlier one's token answers that one."""
    restore_id = record.restore_id
    op = Opening("restore", restore_id, record.service_instance_id, token, request_print, now)
    existing = begin(w, op)
    if existing:
        stored = earlier_record(w, existing)
        earlier = RestoreRecord.from_docs(stored.header, stored.items)
        if earlier.status is RestoreStatus.RESTORING:
            ensure_started(w, w.settings.restore_flow, existing, RestoreFlowInput(existing))
        return earlier.to_api()
    write_record(w, op, record.header_doc(), {i.resource_id: i.to_dict() for i in record.items})
    from .drill import preempt  # a drill never blocks an emergency: it stops and cleans up
    preempt(w, record.service_instance_id, restore_id)
    logs.event("restore created", step="create", record_id=restore_id, backup_id=record.backup_id,
               restore_time=record.restore_time, items=len(record.items), selective=record.selection is not None)
    start_flow(w, op, w.settings.restore_flow, RestoreFlowInput(restore_id),
               close=lambda cause: recover(w, restore_id, cause))
    meter.charge(restore_id, 0)
    return record.to_api()


def _unusable_artifacts(w: Ports, backup: BackupRecord, chosen: select.Chosen,
                        from_sets: set[str] | None = None) -> list[str]:
    """What the cloud no longer has (or cannot restore from) of the chosen resources of a backup: ECS snapshots
    (DescribeSnapshots), RDS backup sets (DescribeBackups with BackupId), and for MySQL sets a MetaStatus other than
    OK (RestoreTable needs the database/table metadata). Checked before a restore records or stops anything."""
    problems = []
    for resource_type, kind in RESTORE_KINDS.items():
        restorable = [i for i in backup.items if i.resource_type is resource_type and i.resource_id in chosen.restored
                      and i.status is ItemStatus.SUCCEEDED and i.artifact_id
                      and (from_sets is None or i.resource_id in from_sets)]
        if restorable:
            problems += kind.check_restorable(w, restorable)
    return problems


def get_restore(w: Ports, restore_id: str) -> dict:
    """The record; while it runs, when its current phase stops waiting on the cloud (PhaseDeadline), where one
    does: stopping or starting the instances, restoring data or databases."""
    record = read_restore(w, restore_id)[1]
    out = record.to_api()
    if record.status is RestoreStatus.RESTORING:
        limit = {RestorePhase.STOPPING_INSTANCE: w.settings.stop_deadline_seconds,
                 RestorePhase.STARTING_INSTANCE: w.settings.stop_deadline_seconds,
                 RestorePhase.RESTORING_DATA: w.settings.restore_deadline_seconds,
                 RestorePhase.RESTORING_DATABASES: w.settings.restore_deadline_seconds}.get(record.phase)
        if limit is not None:
            out["PhaseDeadline"] = iso_utc(record.phase_started_epoch + limit)
    elif record.undo.until_epoch and time.time() < record.undo.until_epoch:
        from .undo_changes import changed_view  # only a restore that can still be undone says what changed since
        out["ChangedSince"] = changed_view(w, record)
    return out


def list_restores(w: Ports, service_instance_id: str | None, limit: int = 20, after: str | None = None,
                  flt: Filter | None = None) -> dict:
    """A page of restores, newest first (`operations/listing.py`); None: every service instance's."""
    from .listing import EVERYTHING, list_records  # the listings' module only where a listing runs
    out, next_token = list_records(w, "restore", service_instance_id, limit, after, flt or EVERYTHING,
                                   lambda stored: RestoreRecord.from_docs(stored.header, stored.items).to_api())
    return {"Restores": out, "NextToken": next_token}


# -- the flow's loop
def advance(w: Ports, restore_id: str, round_number: int = 0, now: float | None = None) -> dict:
    """Do what the current phase needs now. Returns the flow's routing: State Wait (poll again after Wait s),
    Rename (run the db-rename function), Done."""
    now = time.time() if now is None else now
    meter = Meter(w)
    stored, record = read_restore(w, restore_id)
    s = w.settings
    try:
        w.claims.acquire_lock(record.service_instance_id, restore_id, int(now * 1000), s.lock_lease_seconds * 1000)
    except Conflict:
        pass      # someone took over an expired lease; the record still says what this restore did
    handler = {RestorePhase.SAFETY_BACKUP: _safety_backup, RestorePhase.RESTORING_DATABASES: restore_databases,
               RestorePhase.STOPPING_INSTANCE: _stop,
               RestorePhase.RESTORING_DATA: restore_data, RestorePhase.RENAMING_DATABASES: lambda *a: None,
               RestorePhase.STARTING_INSTANCE: _start, RestorePhase.VERIFYING: _verify,
               RestorePhase.DONE: lambda *a: None}[record.phase]
    before = record.phase
    if record.phase is RestorePhase.STOPPING_INSTANCE and not record.instances and _instance_ids(record):
        _note_instances_before(w, record)
        save(w, stored, record)
    handler(w, record, now)
    record.note_failure(before)
    if record.phase is RestorePhase.DONE:
        meter.charge(restore_id, AdvanceOutput.TRANSITIONS)
        _finish(w, stored, record, now)
        return AdvanceOutput(restore_id, AdvanceState.DONE, 0, round_number + 1).to_event()
    save(w, stored, record)
    meter.charge(restore_id, AdvanceOutput.TRANSITIONS)
    if record.phase is RestorePhase.RENAMING_DATABASES:
        return AdvanceOutput(restore_id, AdvanceState.RENAME, 0, round_number + 1).to_event()
    if record.phase is not before or record.phase_started_epoch == now:   # moved on (or began anew): act at once
        return AdvanceOutput(restore_id, AdvanceState.WAIT, 1, 0).to_event()
    # Rounds restart at every phase, so short phases are seen quickly and a day-long restore of data still
    # fits one execution's 5,000 events (waits double to CloudFlow's 300 s limit). A phase with a deadline is
    # looked at again when it falls due, not a doubled wait after it.
    wait = next_wait(round_number, first=1)
    deadline = _phase_deadline(w, record)
    if deadline is not None:
        wait = max(1, min(wait, math.ceil(deadline - now)))
    return AdvanceOutput(restore_id, AdvanceState.WAIT, wait, round_number + 1).to_event()


def _safety_backup(w: Ports, record: RestoreRecord, now: float) -> None:
    if not record.safety_backup_id:
        from .backup import create_backup  # only the safety phase's first round opens a backup
        out = create_backup(w, record.service_instance_id,
                            f"safety backup before restore {record.restore_id}",
                            token=f"safety-{record.restore_id}"[:64], lock_holder=record.restore_id,
                            origin="safety", only=safety_scope(record))
        record.safety_backup_id = out["BackupId"]
    safety = load_backup(w, record.safety_backup_id)
    if safety.status is BackupStatus.CREATED:
        record.enter(RestorePhase.RESTORING_DATABASES, now)
    elif safety.status is not BackupStatus.CREATING:
        causes = "; ".join(f"{i.resource_id}: {i.error_code}: {i.error_message}" for i in safety.items
                           if i.error_code) or safety.status_detail
        record.fail_operation(f"the safety backup {safety.backup_id} ended {safety.status} ({causes}); "
                              f"nothing was touched")
        record.enter(RestorePhase.DONE, now)


def safety_scope(record: RestoreRecord) -> list[str] | None:
    """What the safety backup covers: what the restore replaces (its disks and RDS instances); None, the whole
    service instance, for a restore of a whole backup."""
    return None if record.selection is None else [i.resource_id for i in record.items]


def _instance_ids(record: RestoreRecord) -> list[str]:
    """The ECS instances whose disks this restore resets (a moved disk's instance is not stopped)."""
    return sorted({i.instance_id for i in record.items if i.resource_type is ResourceType.DISK and i.instance_id
                   and i.status is not ItemStatus.FAILED})


def _were_running(record: RestoreRecord) -> list[str]:
    """The instances that ran before the restore stopped them (their status then, as ECS said it)."""
    return [iid for iid, before in record.instances.items() if Instance(iid, before).running]


def _stop(w: Ports, record: RestoreRecord, now: float) -> None:
    if not record.ownership_checked:        # a restore recorded before the check moved to RestoringDatabases
        check_ownership(w, record)
    ids = _instance_ids(record)
    if not ids:
        record.enter(RestorePhase.RESTORING_DATA, now)
        return
    found = w.ecs.describe_instances(ids)
    if not record.instances:
        _note_instances_before(w, record, found)
    if record.stop_accepted_epoch is None:
        # Those that ran before and still run. A StopInstances whose answer was lost (or whose step died after it)
        # left them stopping: the stop was accepted, and they are started again at the end since they ran before.
        running = [iid for iid in _were_running(record) if iid in found and found[iid].running]
        if len(running) < len(_were_running(record)):
            record.stop_accepted_epoch = now
        if running:
            refused = w.ecs.stop_instances(running)
            if len(refused) < len(running):
                record.stop_accepted_epoch = now
            if refused:
                causes = "; ".join(f"{r.instance_id}: {r.code}: {r.message}" for r in refused)
                _note_stopped(record, _stopped(w.ecs.describe_instances(ids)))
                record.fail_operation(f"ECS refused to stop {causes}; no data was touched")
                record.enter(RestorePhase.STARTING_INSTANCE, now)
                return
            found = w.ecs.describe_instances(ids)
    _note_stopped(record, _stopped(found))
    pending = [iid for iid in ids if iid in found and not found[iid].stopped]
    if not pending:
        record.enter(RestorePhase.RESTORING_DATA, now)
    elif now - record.phase_started_epoch >= w.settings.stop_deadline_seconds:
        states = ", ".join(f"{iid} {found[iid].status}" for iid in pending)
        down = "; none was seen Stopped, so the service was not taken down" if record.never_stopped else ""
        record.fail_operation(f"the instances did not stop within {w.settings.stop_deadline_seconds} s "
                              f"({states}); no data was touched{down}")
        record.enter(RestorePhase.STARTING_INSTANCE, now)


def _note_instances_before(w: Ports, record: RestoreRecord, found: dict[str, Instance] | None = None) -> None:
    """Each instance's status before the stop, written before StopInstances is sent: what is started again at the
    end must not depend on the stop's answer arriving."""
    ids = _instance_ids(record)
    found = w.ecs.describe_instances(ids) if found is None else found
    record.instances = {iid: found[iid].status if iid in found else "Missing" for iid in ids}


def _stopped(found: dict[str, Instance]) -> list[str]:
    return [iid for iid, instance in found.items() if instance.stopped]


def _note_stopped(record: RestoreRecord, seen_stopped: list[str]) -> None:
    """The service went down when the stop of an instance it ran on was accepted, if that instance was then seen
    Stopped; an instance that never stopped took nothing down."""
    if record.stop_accepted_epoch is not None and record.stopped_epoch is None and \
            set(seen_stopped) & set(_were_running(record)):
        record.stopped_epoch = record.stop_accepted_epoch


def _phase_deadline(w: Ports, record: RestoreRecord) -> float | None:
    """When the current phase gives up: stopping and starting the instances each get stop_deadline_seconds."""
    if record.phase in (RestorePhase.STOPPING_INSTANCE, RestorePhase.STARTING_INSTANCE):
        return record.phase_started_epoch + w.settings.stop_deadline_seconds
    return None


def _start(w: Ports, record: RestoreRecord, now: float) -> None:
    to_start = _were_running(record)
    if to_start:
        round_ = start_stopped(w, to_start)
        _note_stopped(record, round_.seen_stopped)
        if round_.not_running:
            if now - record.phase_started_epoch < w.settings.stop_deadline_seconds:
                return
            record.fail_operation(f"the instances did not start again within {w.settings.stop_deadline_seconds} s: "
                                  f"{', '.join(round_.not_running)}")
        else:
            record.running_epoch = record.running_epoch or now
    record.enter(RestorePhase.DONE if record.failed and not _any_renamed(record) else RestorePhase.VERIFYING, now)


def _any_renamed(record: RestoreRecord) -> bool:
    return any(db.state == DatabaseState.RENAMED for i in record.items for db in i.databases)


def _verify(w: Ports, record: RestoreRecord, now: float) -> None:
    count_at_end(w, record)                   # what an undo compares with (undo_snapshots.py)
    _verify_in_place(w, [i for i in record.items if i.restore_time or record.restore_time], record.restore_time)
    for item in record.items:
        if item.resource_type is not ResourceType.RDS or item.status is not ItemStatus.SUCCEEDED or not item.expected \
                or item.restore_time or record.restore_time:
            continue
        try:
            databases = w.database(item.resource_id, item.engine or "")
            actual = {db.name: databases.row_counts(db.name) for db in item.databases if db.name in item.expected}
        except (ValidationError, CloudError) as err:
            item.verified, item.verification = False, f"could not verify: {err}"
            continue
        # Reported beside the restore's status, never instead of it: the data is in place either way.
        item.verified, item.verification = decide.verify_counts(item.expected, actual, item.expected_after)
    record.enter(RestorePhase.DONE, now)


def _verify_in_place(w: Ports, items: list[RestoreItem], restore_time: str | None) -> None:
    """What a restore to a second (a point-in-time restore's, or a hooked backup's moment) can check: each database
    is back under its own name, listed Running. Row counts are not compared: the backup's were counted around its
    set, none at that second."""
    for item in items:
        if item.status is not ItemStatus.SUCCEEDED:
            continue
        try:
            listed = {d.name for d in w.rds.databases(item.resource_id) if d.running}
        except CloudError as err:
            item.verified, item.verification = False, f"could not verify: {err.code}: {err.message}"
            continue
        missing = [db.name for db in item.databases if db.name not in listed]
        item.verified = not missing
        item.verification = (f"{', '.join(missing)} not listed Running after the swap" if missing else
                             f"restored to {item.restore_time or restore_time}: {len(item.databases)} database(s) "
                             f"in place and "
                             f"Running; row counts not compared (none were counted at that second)")


def _finish(w: Ports, stored: StoredRecord, record: RestoreRecord, now: float) -> None:
    """Close what is still open (docs/statuses.md): never touched -> NotStarted, saying why once; under way -> Cancelled
    by a cancel, else Failed (it was interrupted); then the record's status, cause and cost."""
    note_end(w, record, now)                  # what an undo needs to know (undo_snapshots.py)
    root = root_cause(record.items)
    why = ("the restore was cancelled before it" if record.cancelled else
           f"{root['ResourceId']} failed ({root['Code']})" if root else "the restore failed before it (see its cause)")
    for item in record.items:                 # nothing may stay open once the restore is over
        if item.status is ItemStatus.PENDING:
            item.close(ItemStatus.NOT_STARTED, f"not started: {why}")
        elif item.status is ItemStatus.RUNNING and record.cancelled:
            copies = [repr(db.restored) for db in item.databases
                      if db.state in (DatabaseState.RESTORING, DatabaseState.RESTORED)]
            item.close(ItemStatus.CANCELLED, "the restore was cancelled while this was under way" + (
                f"; the restored copies stay under {', '.join(copies)}" if copies else ""))
        elif item.status is ItemStatus.RUNNING:
            item.fail(INTERRUPTED, record.status_detail or "the restore ended before this resource was restored")
    record.refresh_status(iso_utc(now))
    record.cost = final_cost(w, record.restore_id)
    save(w, stored, record)
    from .closing import close_operation  # the closing and its notifications, only on a restore's last step
    close_operation(w, record.service_instance_id, record.restore_id, record.to_api())
    logs.event("restore finished", step="finalize", record_id=record.restore_id, status=str(record.status))


def _instances_now(record: RestoreRecord, not_running: list[str]) -> str:
    """The instances' state at the end of a cancelled restore, for its one sentence."""
    stopped = _were_running(record)
    if not stopped or record.stop_accepted_epoch is None:
        return "; no instance was stopped"
    if not_running:
        return f"; not running yet: {', '.join(not_running)}"
    return f"; {', '.join(stopped)} {'is' if len(stopped) == 1 else 'are'} running again"


# A restore is not closed while the instances it stopped may still be stopped: a recovery that cannot start them
# (StartInstances or DescribeInstances failing, or they do not come up) fails, leaving the record Restoring, and the
# flow's retry or the next sweep tries again; only a restore older than this closes with them not running (said so).
START_RETRY_SECONDS = 24 * 3600


def recover(w: Ports, restore_id: str, error: dict | None = None, now: float | None = None) -> dict:
    """Whatever failed: start the instances that were running before, and close the record as RestoreFailed (not
    before they run, see START_RETRY_SECONDS)."""
    # imported here: the flow's Catch runs this step, most restores never (an Advance creates no Recover contract)
    from ..ports.steps.recover import RecoverOutput

    now = time.time() if now is None else now
    meter = Meter(w)
    stored, record = read_restore(w, restore_id)
    if record.status is not RestoreStatus.RESTORING:
        return RecoverOutput(restore_id, str(record.status)).to_event()
    detail = str((error or {}).get("Detail") or "the restore flow failed")
    if record.cancelled:
        pass                    # a cancel whose recovery is retried (by the sweeper): it stays a cancel
    elif (error or {}).get("Code") == CANCELLED:
        # written before the instances are started, so a retry after a failed start still ends Cancelled
        record.cancelled, record.status_detail = True, detail
        save(w, stored, record)
    else:
        record.fail_operation(f"{(error or {}).get('Code') or 'FlowFailed'}: {detail}")
        record.note_failure(record.phase)
    to_start = _were_running(record)
    deadline = time.monotonic() + min(300, w.settings.stop_deadline_seconds)
    while to_start:
        try:
            round_ = start_stopped(w, to_start)
        except CloudError as err:
            if now - record_time(restore_id) < START_RETRY_SECONDS:
                raise               # not closed: the flow's retry or the next sweep starts them
            record.status_detail += f"; starting {', '.join(to_start)} failed too: {err.code}: {err.message}"
            break
        _note_stopped(record, round_.seen_stopped)
        to_start = round_.not_running
        if to_start and time.monotonic() > deadline:
            if now - record_time(restore_id) < START_RETRY_SECONDS:
                raise CloudError("InstancesNotRunning", f"{', '.join(to_start)} not running yet: the restore stays "
                                 f"open and they are started again", action="StartInstances")
            record.status_detail += f"; still not running: {', '.join(to_start)}"
            break
        if to_start:
            time.sleep(1)
    if not to_start and record.stop_accepted_epoch is not None:
        record.running_epoch = record.running_epoch or time.time()
    if record.cancelled:
        record.status_detail += _instances_now(record, to_start)
    record.enter(RestorePhase.DONE, now)
    meter.charge(restore_id, RecoverOutput.TRANSITIONS)
    _finish(w, stored, record, now)
    return RecoverOutput(restore_id, str(record.status)).to_event()
