"""The drill flow's steps and the sweep of drills.

advance  -> one round: ask the cloud to restore each Pending artifact into scratch (databases under scratch names on
            their own RDS instance, through the restore's own RDS kind; each snapshot into a new scratch disk, ECS
            CreateDisk with SnapshotId, tagged with the drill's id), follow them, check them (row counts against
            backup time; the disk made from the snapshot, Available), then remove every scratch resource and read it
            back as gone; only then is the record final (and a Passed drill marks its backup's LastDrill)
close    -> the flow's Catch: the drill fails, and is cleaned up the same way (the sweeper finishes what is left)
sweep    -> the timer: a drill whose flow is gone (crashed, never started) is cleaned up and closed

Nothing here stops an instance or touches a live database or disk: scratch names carry the drill's id, and a delete
asks only for what the drill made (a scratch disk it created or tagged, a database under its scratch name)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Sequence

from .. import logs
from ..decisions import drill as decide
from ..decisions.backup import client_token, next_wait
from ..errors import CloudError, NestBackupError, ValidationError
from ..model.causes import INTERRUPTED
from ..model.ids import DRILL_TAG
from ..model.records import ResourceType, iso_utc
from ..model.restores import RestoreItem, RestoreRecord
from ..model.status import ITEM_FINAL, DatabaseState, DrillStatus, ItemStatus
from ..ports.records import StaleWrite
from ..ports.steps.drill import DrillAdvanceOutput, DrillState
from .costs import Meter, final_cost
from .drill import PREEMPTED, RUNNING, read_drill, running_key
from .kinds import RESTORE_KINDS

if TYPE_CHECKING:
    from ..model.drills import DrillItem, DrillRecord
    from ..ports import Ports

MAX_WAIT = 15                      # a drill looks at its preemption at least this often (seconds)
DISK_GONE = ("InvalidDiskId.NotFound",)
DB_GONE = ("InvalidDBName.NotFound", "InvalidDBName.NotExist")
SWEEP_GRACE_SECONDS = 300          # a drill younger than this may still be starting its flow
SWEEP_WAIT_SECONDS = 30            # how long the sweep waits on one drill's cleanup (the next sweep goes on)


def advance(w: Ports, drill_id: str, round_number: int = 0, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    meter = Meter(w)
    stored, record = read_drill(w, drill_id)
    if record.status is not DrillStatus.RUNNING:
        _after_close(w, record)         # again: a step that died after the final write may not have done it
        return DrillAdvanceOutput(drill_id, DrillState.DONE, 0, round_number + 1).to_event()
    if not record.cleaning:
        _note_preemption(w, record)
    if not record.cleaning:
        _restore_round(w, record, now)
    if record.cleaning:
        _cleanup(w, record)
    done = _close_if_clean(w, record, now)
    _save(w, stored, record)
    meter.charge(drill_id, DrillAdvanceOutput.TRANSITIONS)
    if done:
        _after_close(w, record)
        return DrillAdvanceOutput(drill_id, DrillState.DONE, 0, round_number + 1).to_event()
    wait = 1 if record.cleaning else min(MAX_WAIT, next_wait(round_number, first=1))
    return DrillAdvanceOutput(drill_id, DrillState.WAIT, wait, round_number + 1).to_event()


def close(w: Ports, drill_id: str, error: dict | None = None, now: float | None = None,
          wait_seconds: float = 120) -> dict:
    """The flow failed: the drill fails (a preemption or cancel stays one) and its scratch resources are removed.
    While some are not gone yet the record stays Running and this step fails, so the flow's retry or the sweeper
    asks again."""
    from ..ports.steps.drill import DrillCloseOutput

    now = time.time() if now is None else now
    stored, record = read_drill(w, drill_id)
    if record.status is not DrillStatus.RUNNING:
        _after_close(w, record)
        return DrillCloseOutput(drill_id, str(record.status)).to_event()
    if not record.cancelled:
        record.fail_operation(f"{(error or {}).get('Code') or 'FlowFailed'}: "
                              f"{(error or {}).get('Detail') or 'the drill flow failed'}")
    record.cleaning = True
    deadline = time.monotonic() + wait_seconds      # e.g. a RestoreTable of the drill still running
    while True:
        _cleanup(w, record)
        if all(i.cleaned for i in record.items) or time.monotonic() > deadline:
            break
        time.sleep(1)
    done = _close_if_clean(w, record, now)
    _save(w, stored, record)
    if not done:
        raise CloudError("DrillCleanupPending", f"scratch resources not removed yet: {', '.join(record.leftovers)}",
                         action="DrillClose")
    _after_close(w, record)
    return DrillCloseOutput(drill_id, str(record.status)).to_event()


def sweep_drills(w: Ports, now: float | None = None) -> list[str]:
    """Close each running drill whose flow is gone (crashed, stopped, never started): its scratch resources are
    removed first. Called by the sweeper."""
    from ..ports.flows import generations

    now = time.time() if now is None else now
    closed = []
    for key, doc, _ in w.documents.docs(RUNNING):
        drill_id = doc.get("DrillId", "")
        try:
            stored = w.records.read(drill_id)
            if stored is None:
                if now - float(doc.get("StartedEpoch") or now) > SWEEP_GRACE_SECONDS:
                    w.documents.delete_doc(RUNNING, key)         # its create died before the record
                continue
            if stored.header.get("Status") != DrillStatus.RUNNING:
                _after_close(w, read_drill(w, drill_id)[1])     # what its last step did not finish
                continue
            if now - float(doc.get("StartedEpoch") or now) < SWEEP_GRACE_SECONDS:
                continue
            if any(e.running for e in generations(w.flows, w.settings.drill_flow, drill_id)):
                continue
            close(w, drill_id, {"Code": "FlowEnded", "Detail": "the drill's workflow ended without closing it"},
                  now=now, wait_seconds=SWEEP_WAIT_SECONDS)
            closed.append(drill_id)
            logs.event("drill swept", step="sweep", record_id=drill_id)
        except (NestBackupError, StaleWrite) as err:
            logs.event("drill sweep skipped", step="sweep", record_id=drill_id, reason=str(err))
    return closed


# -- a round
def _note_preemption(w: Ports, record: DrillRecord) -> None:
    found = w.documents.get_doc(PREEMPTED, record.drill_id)
    if found is not None:
        by = (f"preempted by restore {found[0]['RestoreId']} of {record.service_instance_id}"
              if found[0].get("RestoreId") else "cancelled by the caller")
        record.cancelled, record.cleaning = True, True
        record.status_detail = f"{by}: the drill stopped and removed its scratch resources"


def _restore_round(w: Ports, record: DrillRecord, now: float) -> None:
    for item in record.items:
        if item.status is ItemStatus.PENDING:
            try:
                _start(w, record, item, now)
            except CloudError as err:
                if (err.transient or w.rds.restore_waits(err)) and \
                        now - record.started_epoch < w.settings.restore_deadline_seconds:
                    continue        # asked again next round (its ClientToken makes the same disk or restore)
                item.fail(err.code, err.message, err.request_id)
    _follow(w, record, now)
    if all(i.status in ITEM_FINAL for i in record.items):
        record.cleaning = True


def _as_restore(record: DrillRecord, items: Sequence[RestoreItem]) -> RestoreRecord:
    """The restore's RDS kind restores and follows items of a restore record: the drill's, under its own id (the
    scratch names and ClientTokens carry it) and with its start as the phase's."""
    return RestoreRecord(record.drill_id, record.backup_id, record.service_instance_id, record.start_time,
                         list(items), phase_started_epoch=record.started_epoch)


def _start(w: Ports, record: DrillRecord, item: DrillItem, now: float) -> None:
    item.started_epoch = item.started_epoch or time.time()    # the clock now, not the round's start
    if item.resource_type is ResourceType.RDS:
        attribute = w.rds.attribute(item.resource_id)
        used = w.rds.disk_used_bytes(item.resource_id)
        short = decide.storage_shortfall(attribute.get("DBInstanceStorage"), used, _needed_bytes(item, used))
        if short:
            item.fail("InsufficientStorage", f"{short}; nothing was restored")
            return
        RESTORE_KINDS[ResourceType.RDS].restore(w, _as_restore(record, [item]), item, now)
        return
    if not item.zone_id:
        found = w.ecs.describe_disks([item.resource_id]).get(item.resource_id)
        if found is None or not found.zone_id:
            item.fail("SourceDiskGone", f"{item.resource_id} is not listed any more, so the zone to make the scratch "
                                        f"disk in is unknown")
            return
        item.zone_id, item.category = found.zone_id, found.category   # the scratch disk is like its source
    item.scratch_disk_id = w.ecs.create_disk_from_snapshot(
        item.source_artifact_id, item.zone_id, item.category or "cloud_essd", name=f"drill-{record.drill_id[6:]}",
        client_token=client_token(record.drill_id, item.resource_id), tags={DRILL_TAG: record.drill_id})
    item.status = ItemStatus.RUNNING


def _needed_bytes(item: DrillItem, disk_used: int | None) -> int | None:
    """What the scratch databases take: the backup set's size (its data as backed up); unknown, what the instance
    stores now (data and logs: more than the copies need)."""
    return item.size_bytes or disk_used


def _follow(w: Ports, record: DrillRecord, now: float) -> None:
    late = now - record.started_epoch > w.settings.restore_deadline_seconds
    disks = [i for i in record.items if i.resource_type is not ResourceType.RDS and i.status is ItemStatus.RUNNING]
    if disks:
        found = w.ecs.describe_disks([i.scratch_disk_id for i in disks if i.scratch_disk_id])
        for item in disks:
            disk = found.get(item.scratch_disk_id or "")
            if disk is None:
                item.fail("ScratchDiskFailed", f"the scratch disk {item.scratch_disk_id} made from "
                                               f"{item.source_artifact_id} is gone before it was Available")
            elif disk.settled:
                item.status, item.verified, item.checked_epoch = ItemStatus.SUCCEEDED, True, time.time()
                item.verification = (f"scratch disk {disk.disk_id} created from {item.source_artifact_id}: "
                                     f"{disk.status}, {disk.size_gib} GiB")
            elif late:
                item.fail("ScratchDiskTimeout", f"the scratch disk {disk.disk_id} is still {disk.status}")
    databases: list[RestoreItem] = [i for i in record.items
                                    if i.resource_type is ResourceType.RDS and i.status is ItemStatus.RUNNING]
    if databases:
        RESTORE_KINDS[ResourceType.RDS].follow(w, _as_restore(record, databases), list(databases), now)
    for item in record.items:
        if item.resource_type is ResourceType.RDS and item.status is ItemStatus.RUNNING and \
                all(d.state == DatabaseState.RESTORED for d in item.databases):
            _check_databases(w, item, now)


def _check_databases(w: Ports, item: DrillItem, now: float) -> None:
    try:
        gateway = w.database(item.resource_id, item.engine or "")
        actual = {d.name: gateway.row_counts(d.restored) for d in item.databases if d.name in item.expected}
    except (ValidationError, CloudError) as err:
        item.fail("CheckFailed", f"the scratch databases could not be read: {err}")
        return
    ok, said = decide.check_databases(item, actual)
    item.verified, item.verification, item.checked_epoch = ok, said, time.time()
    if ok:
        item.status = ItemStatus.SUCCEEDED
    else:
        item.fail("RowCountMismatch", said)


# -- cleanup
def _cleanup(w: Ports, record: DrillRecord) -> None:
    """Remove what the drill made, and read it back as gone (an item is `cleaned` only then): every disk carrying
    the drill's tag (also one whose CreateDisk answer was lost), and every scratch database name the instance lists
    (also one a RestoreTable whose answer was lost made)."""
    try:
        disks_left = _delete_tagged_disks(w, record)
    except CloudError as err:
        logs.event("drill cleanup deferred", step="cleanup", record_id=record.drill_id, code=err.code)
        return
    for item in record.items:
        if item.cleaned:
            continue
        try:
            if item.resource_type is ResourceType.RDS:
                item.cleaned = _drop_scratch_databases(w, record, item)
            else:
                item.cleaned = not disks_left and not (
                    item.scratch_disk_id and w.ecs.describe_disks([item.scratch_disk_id]))
        except CloudError as err:
            logs.event("drill cleanup deferred", step="cleanup", record_id=record.drill_id,
                       resource_id=item.resource_id, code=err.code)


def _delete_tagged_disks(w: Ports, record: DrillRecord) -> bool:
    """Delete the drill's scratch disks; True while any is still listed (a create not over, a delete not seen)."""
    if all(i.cleaned or i.resource_type is ResourceType.RDS for i in record.items):
        return False
    left = False
    for disk in w.ecs.disks_tagged(DRILL_TAG, record.drill_id):
        left = True
        if disk.creating:           # DeleteDisk takes a disk whose creation is over: asked again next round
            continue
        try:
            w.ecs.delete_disk(disk.disk_id)
        except CloudError as err:
            if err.code not in DISK_GONE:
                raise
    return left


def _drop_scratch_databases(w: Ports, record: DrillRecord, item: DrillItem) -> bool:
    """Drop each scratch database the instance lists; not while a restore task since the drill began may still
    create one (its answer may have been lost, so the item's own state does not say)."""
    if any(t.unfinished for t in w.rds.restore_tasks(item.resource_id, record.started_epoch)):
        return False
    listed = {d.name for d in w.rds.databases(item.resource_id)}
    left = [name for name in item.scratch_names if name in listed]
    for name in left:
        try:
            w.rds.delete_database(item.resource_id, name)
        except CloudError as err:
            if err.code not in DB_GONE:
                raise
    return not left


def _close_if_clean(w: Ports, record: DrillRecord, now: float) -> bool:
    """Once every scratch resource is gone: close what is still open, and the record's status."""
    if not record.cleaning or not all(i.cleaned for i in record.items):
        return False
    why = record.status_detail or "the drill ended before it"
    for item in record.items:
        if item.status is ItemStatus.PENDING:
            item.close(ItemStatus.NOT_STARTED, f"not started: {why}")
        elif item.status is ItemStatus.RUNNING and record.cancelled:
            item.close(ItemStatus.CANCELLED, "stopped while under way; its scratch resources were removed")
        elif item.status is ItemStatus.RUNNING:
            item.fail(INTERRUPTED, why)
    record.cleaned_up = True
    record.refresh_status(iso_utc(now), now)
    record.cost = final_cost(w, record.drill_id)
    return True


def _save(w: Ports, stored, record: DrillRecord) -> None:
    w.records.save(stored, record.header_doc(), {i.resource_id: i.to_dict() for i in record.items})


def _after_close(w: Ports, record: DrillRecord) -> None:
    """The record is final and written: prove the backup, tell the webhooks, drop the running entry (last: while
    it is there, the next step or sweep does all of this again; each part is idempotent)."""
    if record.status is DrillStatus.PASSED:
        _mark_backup(w, record)
    from .notify import notify
    notify(w, record.service_instance_id, record.to_api())
    w.documents.delete_doc(PREEMPTED, record.drill_id)
    w.documents.delete_doc(RUNNING, running_key(record.service_instance_id, record.drill_id))
    logs.event("drill finished", step="finalize", record_id=record.drill_id, status=str(record.status))


def _mark_backup(w: Ports, record: DrillRecord) -> None:
    from .loading import read_backup

    for _ in range(3):
        stored, backup = read_backup(w, record.backup_id)
        if backup.last_drill and backup.last_drill >= (record.end_time or ""):
            return                      # proven already (by this drill or a later one)
        backup.last_drill, backup.last_drill_id = record.end_time, record.drill_id
        try:
            w.records.save(stored, backup.header_doc(), {})
            return
        except StaleWrite:
            continue
