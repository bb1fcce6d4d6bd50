"""Cancelling a running operation.

A backup: its flow is stopped (every generation still running, whichever have ended), snapshots and groups already
made are deleted (deleting a progressing snapshot cancels it), RDS backup jobs are waited for a bounded time
(`cancel_rds_wait_seconds`: the cancel runs in the API function) and their sets deleted, and the sets of jobs still
running then are deleted by the timer once the jobs end; every item not failed ends `Cancelled` (saying what became
of what was made of it) and the record `Cancelled`, with one sentence. A restore: cancelled until databases are put
into place: the flow is stopped and what was stopped is started again; it ends `Cancelled` with one sentence (what
was touched, what is left, the instances' state). Once databases are swapped it is refused: it finishes, or fails,
to a safe state on its own (docs/statuses.md).
"""
from __future__ import annotations

import logging
import time

from ..decisions.backup import ARTIFACT_NOT_FOUND
from ..errors import CloudError, Conflict
from ..model.ids import OWNER_TAG
from ..model.records import BackupItem, ResourceType
from ..model.status import CANCELLED, BackupStatus, DatabaseState, ItemStatus, RestorePhase, RestoreStatus
from ..ports import Ports
from ..ports.records import StaleWrite
from .backup_finalize import finalize
from .kinds import kind_of
from .kinds.action import NOT_FOUND_CODES, CancelCleanup, still_listed
from .loading import load_backup, read_backup, read_restore, save
from .restore import recover

log = logging.getLogger("nestbackup.backup")

# Before any database is swapped: what was done can be said, and the rest left as it is.
CANCELLABLE_PHASES = (RestorePhase.SAFETY_BACKUP, RestorePhase.RESTORING_DATABASES, RestorePhase.STOPPING_INSTANCE,
                      RestorePhase.RESTORING_DATA)


def cancel_backup(w: Ports, backup_id: str, now: float | None = None) -> dict:
    record = load_backup(w, backup_id)
    if record.status is not BackupStatus.CREATING:
        raise Conflict(f"backup {backup_id} is {record.status}: only a running backup can be cancelled")
    from .locks import refuse_if_locked  # a schedule's lock holds from the backup's creation
    refuse_if_locked(record, time.time() if now is None else now, "cancelling it (a cancel deletes what it made)")
    w.flows.stop_generations(w.settings.backup_flow, backup_id, "cancelled by the caller")
    cleanup = CancelCleanup(time.monotonic() + w.settings.cancel_rds_wait_seconds)
    _delete_made(w, backup_id, cleanup)
    marked = _mark_cancelled(w, backup_id, cleanup, {})
    # A start step that recorded its artifact between the first read and the marking: delete that too; and what a
    # create made that no write recorded (its answer lost, or still on the way): found by the owner tag. A step whose
    # create returns after the marking finds its items closed and deletes what it made itself
    # (artifacts.discard_started_after_close); anything still missed carries the tag, and the sweeper deletes it.
    _delete_made(w, backup_id, cleanup)
    _delete_tagged(w, backup_id, cleanup)
    _mark_cancelled(w, backup_id, cleanup, marked)
    _delete_copies(w, backup_id, cleanup)
    leftovers = cleanup.leftovers
    final = finalize(w, backup_id, error={"Code": CANCELLED, "Detail": _cancelled_backup(w, backup_id, cleanup)},
                     now=now)
    # A poll step that was running when its execution was stopped may have started the next generation since.
    w.flows.stop_generations(w.settings.backup_flow, backup_id, "cancelled by the caller")
    return final | {"Leftovers": leftovers}


def _delete_copies(w: Ports, backup_id: str, cleanup: CancelCleanup) -> None:
    """Delete the copies in another region the backup made so far (each closed Cancelled, saying so); one that cannot
    be deleted stays recorded on the copy (deleting the backup deletes it) and is named among the leftovers."""
    from .backup_copies import delete_copy
    stored, record = read_backup(w, backup_id)
    for copy in record.copies:
        if not copy.snapshot_id or copy.status is ItemStatus.DELETED or copy.snapshot_id in cleanup.done:
            continue
        cleanup.done.add(copy.snapshot_id)
        said = f"cancelled by the caller: the copy {copy.snapshot_id} in {copy.region} was deleted"
        try:
            delete_copy(w, copy)
        except CloudError as err:
            if err.code not in NOT_FOUND_CODES:
                cleanup.leftovers.append(f"{copy.snapshot_id} in {copy.region}: {err.code}")
                said = (f"cancelled by the caller: deleting the copy {copy.snapshot_id} in {copy.region} failed "
                        f"({err.code}); it stays this backup's: deleting the backup deletes it")
        copy.close(ItemStatus.CANCELLED, said)
        save(w, stored, record)


def _cancelled_backup(w: Ports, backup_id: str, cleanup: CancelCleanup) -> str:
    """The cancelled backup's one sentence: what was touched, what is left, the instance's state."""
    record = load_backup(w, backup_id)
    started = [i for i in record.items if i.resource_id in cleanup.said]
    touched = (f"{len(started)} of {len(record.items)} resources had been started and what was made of them was "
               f"deleted" if started else "nothing had been made yet")
    left = [f"left behind: {', '.join(cleanup.leftovers)} (tagged; the sweeper deletes them)"] \
        if cleanup.leftovers else []
    left += list(cleanup.later.values())
    return (f"Cancelled by the caller: {touched}; {'; '.join(left) if left else 'nothing is left behind'}; "
            f"{record.service_instance_id} ran throughout (a backup stops nothing)")


def _left_behind(made: str, err: CloudError) -> str:
    return (f"{made} is left behind ({err.code}): it stays tagged as this backup's, and the sweeper deletes it")


def _delete_made(w: Ports, backup_id: str, cleanup: CancelCleanup) -> None:
    """Delete what the record says was made and the cleanup has not handled yet, each item through its kind
    (snapshots and groups: deleting a progressing snapshot cancels it, and each must read back as gone; RDS: the
    set once its job ends, waited for until the cleanup's deadline, after which the timer deletes it when the job
    ends). Says on `cleanup.said` what became of each item's artifact."""
    stored, record = read_backup(w, backup_id)
    outcome: dict[str, str] = {}
    for item in record.items:
        # an RDS item that only marked its intent may have a job its lost answer did not name: its kind looks
        made = item.group_id or item.artifact_id or item.job_id or (f"intent of {item.resource_id}"
                                                                    if item.starting else None)
        kind = kind_of(item)
        if not made or kind is None:
            continue
        if made not in cleanup.done:
            cleanup.done.add(made)
            try:
                kind.cancel(w, stored, record, item, cleanup)
                outcome[made] = cleanup.said.get(item.resource_id) or (
                    f"{made} was deleted" if not item.starting else "nothing had been made of it yet")
            except CloudError as err:
                if err.code in NOT_FOUND_CODES:
                    outcome[made] = f"{made} was deleted"
                else:
                    cleanup.leftovers.append(f"{made}: {err.code}")
                    outcome[made] = _left_behind(made, err)
        if made in outcome:                      # a group's members share one
            cleanup.said[item.resource_id] = outcome[made]


def _delete_tagged(w: Ports, backup_id: str, cleanup: CancelCleanup) -> None:
    """Delete the groups and snapshots carrying this backup's owner tag that no write recorded (a create whose answer
    was lost, or has not arrived yet): groups first (their members go with them), then lone snapshots of disks
    whose artifact is not accounted for yet. A cloud error here leaves the rest to the sweeper (the tag stays)."""
    try:
        for group_id, _ in w.ecs.groups_tagged(OWNER_TAG, backup_id):
            if group_id in cleanup.done:
                continue
            cleanup.done.add(group_id)
            group = w.ecs.describe_snapshot_groups([group_id]).get(group_id)
            note = _delete_found(w, group_id, "DeleteSnapshotGroup", cleanup)
            for member in group.snapshots if group else ():
                if member.disk_id:
                    cleanup.said[member.disk_id] = note
        for snapshot_id, _ in w.ecs.snapshots_tagged(OWNER_TAG, backup_id):
            if snapshot_id in cleanup.done:
                continue
            snapshot = w.ecs.describe_snapshots([snapshot_id]).get(snapshot_id)
            if snapshot is None or (snapshot.disk_id in cleanup.said):
                continue                        # gone with its group, or its disk's artifact is accounted for
            cleanup.done.add(snapshot_id)
            note = _delete_found(w, snapshot_id, "DeleteSnapshot", cleanup)
            if snapshot.disk_id:
                cleanup.said[snapshot.disk_id] = note
    except CloudError as err:
        cleanup.unlisted = f"{err.code}"
        log.info("artifacts of a cancelled backup not listed by its tag",
                 extra={"fields": {"step": "cancel", "record_id": backup_id, "code": err.code}})


def _delete_found(w: Ports, artifact: str, action: str, cleanup: CancelCleanup) -> str:
    """Delete one artifact found by its tag, and read it back; what to say of it."""
    group = action == "DeleteSnapshotGroup"
    try:
        if group:
            w.ecs.delete_snapshot_group(artifact)
        else:
            w.ecs.delete_snapshot(artifact)
        listed = w.ecs.describe_snapshot_groups([artifact]) if group else w.ecs.describe_snapshots([artifact])
        if artifact in listed:
            raise still_listed(action, artifact)
    except CloudError as err:
        if err.code not in NOT_FOUND_CODES:
            cleanup.leftovers.append(f"{artifact}: {err.code}")
            log.info("artifact of a cancelled backup left behind",
                     extra={"fields": {"step": "cancel", "artifact": artifact, "code": err.code}})
            return _left_behind(artifact, err)
    log.info("untracked artifact of a cancelled backup deleted",
             extra={"fields": {"step": "cancel", "artifact": artifact}})
    return f"{artifact}, made by a start whose answer the record had not got, was deleted"


def _lost_to_the_cancel(item: BackupItem, cleanup: CancelCleanup) -> bool:
    """A poll step in flight (StopExecution does not stop it) that described the artifact after this cancel deleted
    it failed the item as lost: it was the cancel's doing."""
    return item.error_code == ARTIFACT_NOT_FOUND and (item.group_id or item.artifact_id or item.job_id) in cleanup.done


def _mark_cancelled(w: Ports, backup_id: str, cleanup: CancelCleanup, marked: dict[str, str],
                    attempts: int = 20) -> dict[str, str]:
    """Fail every unfinished item, saying what became of what was made of it; a step of the stopped flow may still
    be writing, so re-read on a stale write. Called again after the last pass, it says what that pass found on the
    items it marked (`marked`: the message each got), unless another writer has added to the message since."""
    for _ in range(attempts):
        stored, record = read_backup(w, backup_id)
        said: dict[str, str] = {}
        try:
            for item in record.items:
                message = "the backup was cancelled; " + cleanup.said.get(item.resource_id, (
                    "nothing had been made of it yet" if not cleanup.unlisted else
                    f"nothing was recorded as made of it (listing by the owner tag met {cleanup.unlisted}: anything "
                    f"a start made carries the tag, and the sweeper deletes it)"))
                open_ = item.status in (ItemStatus.PENDING, ItemStatus.RUNNING, ItemStatus.SUCCEEDED)
                if open_ or _lost_to_the_cancel(item, cleanup):
                    item.close(ItemStatus.CANCELLED, message)
                    said[item.resource_id] = message
                elif item.resource_id in marked and item.error_message == marked[item.resource_id]:
                    item.error_message = message
                    said[item.resource_id] = message
            save(w, stored, record)
            return said
        except StaleWrite:
            time.sleep(0.1)
    raise Conflict(f"backup {backup_id} kept changing while it was cancelled; cancel again")


def cancel_restore(w: Ports, restore_id: str, now: float | None = None) -> dict:
    _, record = read_restore(w, restore_id)
    if record.status is not RestoreStatus.RESTORING:
        raise Conflict(f"restore {restore_id} is {record.status}: only a running restore can be cancelled")
    if record.phase not in CANCELLABLE_PHASES:
        raise Conflict(f"restore {restore_id} is {record.phase}: databases are being put into place, so it runs to "
                       f"its end (or rolls back to a safe state) instead")
    w.flows.stop_generations(w.settings.restore_flow, restore_id, "cancelled by the caller")
    if record.safety_backup_id and record.phase is RestorePhase.SAFETY_BACKUP:
        try:
            cancel_backup(w, record.safety_backup_id, now)
        except Conflict:
            pass     # it already ended
    for attempt in range(10):       # a step already under way may still write the record: read it again
        _, record = read_restore(w, restore_id)
        try:
            return recover(w, restore_id, {"Code": CANCELLED, "Detail": "Cancelled by the caller in "
                                           f"{record.phase}: " + _what_was_touched(record)}, now)
        except StaleWrite:
            time.sleep(0.2 * (attempt + 1))
    raise Conflict(f"restore {restore_id} kept changing while it was being cancelled; cancel it again")


def _what_was_touched(record) -> str:
    """While data is restored only disks are touched: the databases come back under new names beside the live ones,
    which nothing has swapped yet."""
    reset = [i.resource_id for i in record.items
             if i.resource_type is ResourceType.DISK and i.status in (ItemStatus.RUNNING, ItemStatus.SUCCEEDED)]
    copies = [db.restored for i in record.items for db in i.databases
              if db.state in (DatabaseState.RESTORING, DatabaseState.RESTORED)]
    said = [f"disks already rolled back to the backup: {', '.join(reset)}" if reset else "no disk was touched",
            "the live databases are untouched"]
    if record.safety_backup_id:
        said.append(f"the safety backup {record.safety_backup_id} "
                    f"{'was cancelled too' if record.phase is RestorePhase.SAFETY_BACKUP else 'is kept'}")
    if copies and record.undoes:          # an undo's "copies" are what its restore kept aside: never to drop
        said.append(f"the databases {record.undoes} kept aside stay under {', '.join(repr(c) for c in copies)}")
    elif copies:
        said.append(f"restored copies stay under {', '.join(repr(c) for c in copies)} (drop them when not needed)")
    return "; ".join(said)
