"""A backup's artifacts after the fact: deleting them (by hand or by retention), and finding the ones no record
owns (leftovers)."""
from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from .. import logs
from ..errors import CloudError, Conflict
from ..model.ids import OWNER_TAG, is_backup_id
from ..model.status import BackupStatus, ItemStatus
from ..ports.records import StaleWrite
from .claims import take_instance_lock
from .kinds import kind_of
from .kinds.action import NOT_FOUND_CODES, refused_for_good
from .kinds.rds_backup import PENDING_SET_SECONDS, PENDING_SETS
from .loading import load_backup, read_backup, save

if TYPE_CHECKING:
    from ..model.records import BackupItem
    from ..ports import Ports

# -- delete

def delete_backup(w: Ports, backup_id: str, now: float | None = None, retry_refused: bool = True) -> dict:
    """Delete a final backup's snapshots and RDS backup sets: Deleting -> Deleted, or DeleteFailed with the causes
    on the items (run it again to retry). Refused while the backup runs or another operation holds the instance.

    RDS refuses DeleteBackup for some sets (StoreStatus Disabled: Basic edition, or younger than the deletable age;
    DeleteBackup API reference): such a refusal is recorded once on the item (DeleteRefused) and the record is
    marked AwaitingExpiry, the set goes at its ExpectExpireTime. `retry_refused=False` (retention) does not ask
    again for those sets; a delete by hand does."""
    now = time.time() if now is None else now
    record = load_backup(w, backup_id)
    if record.status is BackupStatus.DELETED:
        return record.to_api()
    if record.status is BackupStatus.CREATING:
        raise Conflict(f"backup {backup_id} is still Creating; it can be deleted once it ends")
    # Unique per request: a second delete of the same backup must not share (and release) the first one's lock.
    holder = f"delete-{backup_id}-{secrets.token_hex(4)}"
    try:
        take_instance_lock(w, record.service_instance_id, holder, now)
    except Conflict:
        running = w.claims.lock_holder(record.service_instance_id, int(now * 1000)) or ""
        if running.startswith(f"delete-{backup_id}-"):
            return load_backup(w, backup_id).to_api()          # the same delete is under way: its record, as it stands
        raise
    try:
        stored, record = read_backup(w, backup_id)
        record.status = BackupStatus.DELETING
        save(w, stored, record)
        groups_done: set[str] = set()
        failures = refused = 0
        for item in record.items:
            kind = kind_of(item)
            if kind and kind.delete_may_be_refused and item.delete_refused and not retry_refused:
                refused += 1
                continue
            try:
                delete_artifact(w, item, groups_done)
                if kind and kind.delete_may_be_refused and item.artifact_id:
                    if item.delete_refused:
                        item.delete_refused = None
                        save(w, stored, record)
            except CloudError as err:
                if err.code in NOT_FOUND_CODES:
                    continue
                if kind and kind.delete_may_be_refused and refused_for_good(err):
                    refused += 1
                    item.delete_refused = f"{err.code}: {err.message}"
                    save(w, stored, record)
                    continue
                failures += 1
                what = item.artifact_id or item.group_id or item.job_id
                item.error_code, item.error_message, item.request_id = \
                    err.code, f"deleting {what} failed: {err.message}", err.request_id
                save(w, stored, record)
        record.status = BackupStatus.DELETE_FAILED if failures or refused else BackupStatus.DELETED
        record.awaiting_expiry = bool(refused) and not failures
        notes = []
        if failures:
            notes.append(f"{failures} artifact(s) could not be deleted; delete again to retry")
        if refused:
            notes.append(f"RDS refuses to delete {refused} backup set(s) (see DeleteRefused); they are deleted by "
                         f"RDS when they expire (ExpiresAt)")
        record.status_detail = "; ".join(notes) or record.status_detail
        save(w, stored, record)
        logs.event("backup deleted", step="delete", record_id=backup_id, status=str(record.status))
        return record.to_api()
    finally:
        w.claims.release_lock(record.service_instance_id, holder)


def delete_artifact(w: Ports, item: BackupItem, groups_done: set[str], backup_set: str | None = None) -> None:
    """Delete what the cloud keeps of one item, through its kind (nothing for an item never backed up)."""
    kind = kind_of(item)
    if kind:
        kind.delete(w, item, groups_done, backup_set)


def delete_pending_sets(w: Ports, now: float | None = None) -> dict:
    """The timer's part: delete the sets of handed-over jobs that have ended; keep waiting for the others."""
    now = time.time() if now is None else now
    deleted: list[str] = []
    waiting = 0
    for key, doc, _ in w.documents.docs(PENDING_SETS):
        try:
            job = w.rds.backup_job(doc["DBInstanceId"], doc["JobId"])
            running = job is not None and not job.failed and not job.finished
            if running and now - float(doc.get("SinceEpoch") or now) < PENDING_SET_SECONDS:
                waiting += 1
                continue
            if job is not None and job.finished and job.backup_id:
                try:
                    w.rds.delete_backup(doc["DBInstanceId"], job.backup_id)
                    deleted.append(job.backup_id)
                except CloudError as err:
                    if err.code not in NOT_FOUND_CODES and not refused_for_good(err):
                        raise                      # throttled or busy: the next sweep asks again
                    logs.event("set of a cancelled backup kept", step="sweep", record_id=doc["BackupId"],
                               backup_set=job.backup_id, code=err.code)       # refused for good: it expires
            w.documents.delete_doc(PENDING_SETS, key)
        except CloudError as err:
            waiting += 1
            logs.event("set of a cancelled backup not deleted yet", step="sweep", record_id=doc.get("BackupId"),
                       code=err.code)
    return {"Deleted": deleted, "Waiting": waiting}


def discard_started_after_close(w: Ports, backup_id: str, made: list[BackupItem], attempts: int = 20) -> bool:
    """Delete what a start step made when the backup was closed (cancelled) while its cloud call was in flight:
    CloudFlow's StopExecution does not stop a function already running, and the cancel, which read the record
    before the call returned, could not see it. Closed means the record is final, or the unit's items were failed
    meanwhile (the cancel marks them before it finalizes): either way no write will record the artifact. Says so on
    each item. False, doing nothing, while the backup and the items still run: the step's stale write was then
    another writer's, and its retry settles it."""
    notes: dict[str, str] = {}
    groups: set[str] = set()
    for attempt in range(attempts):
        stored, record = read_backup(w, backup_id)
        closed = {i.resource_id for i in record.items if i.status is ItemStatus.FAILED}
        if record.status is BackupStatus.CREATING and not closed & {i.resource_id for i in made}:
            return False
        for item in made:
            what = item.group_id or item.artifact_id or item.job_id
            if not what or item.resource_id in notes:
                continue
            kind = kind_of(item)
            if kind is None:
                continue
            try:
                later = kind.discard(w, backup_id, item, groups)
                if later:
                    notes[item.resource_id] = f"{what} was started as the backup was cancelled; {later}"
                    continue
                notes[item.resource_id] = f"{what} was started as the backup was cancelled, and is deleted"
            except CloudError as err:
                notes[item.resource_id] = (f"{what} was started as the backup was cancelled" if err.code in
                                           NOT_FOUND_CODES else f"{what}, started as the backup was cancelled, is "
                                           f"left behind ({err.code}: {err.message})")
            logs.event("artifact started after the backup closed", step="start", record_id=backup_id,
                       resource_id=item.resource_id, artifact=what, note=notes[item.resource_id])
        try:
            for current in record.items:
                if current.resource_id in notes and notes[current.resource_id] not in (current.error_message or ""):
                    current.error_message = "; ".join(filter(None, (current.error_message,
                                                                    notes[current.resource_id])))
            save(w, stored, record)
            return True
        except StaleWrite:          # the cancel is still writing its items: read them again
            time.sleep(0.05 * (attempt + 1))
    return True


# -- leftovers
def leftovers(w: Ports) -> dict:
    """Snapshots and snapshot groups tagged as ours that no live record owns (a crash between the cloud call and
    the record write, a record deleted by hand, ...). RDS backup sets cannot be tagged, so they are not listed."""
    owned: dict[str, set[str]] = {}

    def owns(backup_id: str, artifact: str) -> bool:
        if backup_id not in owned:
            stored = w.records.read(backup_id) if is_backup_id(backup_id) else None
            ids: set[str] = set()
            if stored and stored.header.get("Status") != BackupStatus.DELETED:
                for item in stored.items.values():
                    ids.update(x for x in (item.get("artifact_id"), item.get("group_id"), item.get("job_id")) if x)
            owned[backup_id] = ids
        return artifact in owned[backup_id]

    found = [{"ArtifactId": sid, "Kind": "snapshot", "BackupId": bid}
             for sid, bid in w.ecs.snapshots_tagged(OWNER_TAG) if not owns(bid, sid)]
    found += [{"ArtifactId": gid, "Kind": "snapshot-group", "BackupId": bid}
              for gid, bid in w.ecs.groups_tagged(OWNER_TAG) if not owns(bid, gid)]
    return {"Leftovers": found}
