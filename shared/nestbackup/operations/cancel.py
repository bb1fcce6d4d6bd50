"""Cancelling a running operation.

A backup: its flow is stopped (every generation still running, whichever have ended), snapshots and groups already
made are deleted (deleting a progressing snapshot cancels it), RDS backup jobs are waited for a bounded time
(`cancel_rds_wait_seconds`: the cancel runs in the API function) and their sets deleted, and the sets of jobs still
running then are deleted by the timer once the jobs end; the record ends CreateFailed with `Cancelled` on every
unfinished item. A restore: cancelled
only before it touches data (safety backup, stopping): the flow is stopped and what was stopped is started again.
Once disks and databases are being restored it is refused: it finishes, or fails, to a safe state on its own.
"""
from __future__ import annotations

import time

from ..errors import CloudError, Conflict
from ..model.records import ResourceType
from ..model.status import BackupStatus, DatabaseState, ItemStatus, RestorePhase, RestoreStatus
from ..ports import Ports
from ..ports.records import StaleWrite
from .backup_poll import finalize
from .kinds import kind_of
from .kinds.action import NOT_FOUND_CODES, CancelCleanup
from .loading import load_backup, read_backup, read_restore, save
from .restore import recover

# Before any database is swapped: what was done can be said, and the rest left as it is.
CANCELLABLE_PHASES = (RestorePhase.SAFETY_BACKUP, RestorePhase.RESTORING_DATABASES, RestorePhase.STOPPING_INSTANCE,
                      RestorePhase.RESTORING_DATA)


def cancel_backup(w: Ports, backup_id: str, now: float | None = None) -> dict:
    record = load_backup(w, backup_id)
    if record.status is not BackupStatus.CREATING:
        raise Conflict(f"backup {backup_id} is {record.status}: only a running backup can be cancelled")
    w.flows.stop_generations(w.settings.backup_flow, backup_id, "cancelled by the caller")
    cleanup = CancelCleanup(time.monotonic() + w.settings.cancel_rds_wait_seconds)
    _delete_made(w, backup_id, cleanup)
    _mark_cancelled(w, backup_id, set(cleanup.later))
    # A start step that recorded its artifact between the first read and the marking: delete that too. One that
    # records it after the marking finds its write stale and deletes it itself (artifacts.discard_started_after_close).
    _delete_made(w, backup_id, cleanup)
    leftovers = cleanup.leftovers
    detail = "cancelled by the caller" + (f"; left behind: {', '.join(leftovers)}" if leftovers else "") + (
        f"; {'; '.join(cleanup.later.values())}" if cleanup.later else "")
    final = finalize(w, backup_id, error={"Code": "Cancelled", "Detail": detail}, now=now)
    # A poll step that was running when its execution was stopped may have started the next generation since.
    w.flows.stop_generations(w.settings.backup_flow, backup_id, "cancelled by the caller")
    return final | {"Leftovers": leftovers}


def _delete_made(w: Ports, backup_id: str, cleanup: CancelCleanup) -> None:
    """Delete what the record says was made and the cleanup has not handled yet, each item through its kind
    (snapshots and groups: deleting a progressing snapshot cancels it; RDS: the set once its job ends, waited for
    until the cleanup's deadline, after which the timer deletes it when the job ends)."""
    stored, record = read_backup(w, backup_id)
    for item in record.items:
        made = item.group_id or item.artifact_id or item.job_id
        kind = kind_of(item)
        if not made or made in cleanup.done or kind is None:
            continue
        cleanup.done.add(made)
        try:
            kind.cancel(w, stored, record, item, cleanup)
        except CloudError as err:
            left = f"{made}: {err.code}"
            if err.code not in NOT_FOUND_CODES and left not in cleanup.leftovers:   # a group's members share one
                cleanup.leftovers.append(left)


def _mark_cancelled(w: Ports, backup_id: str, pending: set[str], attempts: int = 20) -> None:
    """Fail every unfinished item; a step of the stopped flow may still be writing, so re-read on a stale write."""
    for _ in range(attempts):
        stored, record = read_backup(w, backup_id)
        try:
            for item in record.items:
                if item.status not in (ItemStatus.FAILED, ItemStatus.SKIPPED):
                    item.fail("Cancelled", "the backup was cancelled; " + (
                        "RDS refuses to delete its backup set, which stays until it expires" if item.delete_refused
                        else "its RDS backup job had not ended: the set is deleted when it ends"
                        if item.resource_id in pending else "its artifact was deleted"))
            save(w, stored, record)
            return
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
            return recover(w, restore_id, {"Code": "Cancelled", "Detail": "cancelled by the caller; "
                                                    + _what_was_touched(record)}, now)
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
    if copies:
        said.append(f"restored copies stay under {', '.join(repr(c) for c in copies)} (drop them when not needed)")
    return "; ".join(said)
