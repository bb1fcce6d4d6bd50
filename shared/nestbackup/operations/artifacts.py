"""A backup's artifacts after the fact: deleting them (by hand or by retention), and finding the ones no record
owns (leftovers)."""
from __future__ import annotations

import secrets
import time

from .. import logs
from ..errors import CloudError, Conflict
from ..model.ids import OWNER_TAG, is_backup_id
from ..model.records import BackupItem, BackupMethod
from ..model.status import BackupStatus
from ..ports import Ports
from ..ports.records import StaleWrite
from .claims import take_instance_lock
from .loading import load_backup, read_backup

# -- delete
NOT_FOUND_CODES = ("InvalidSnapshotId.NotFound", "InvalidSnapshotGroupId.NotFound", "InvalidBackupId.NotFound")


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
        take_instance_lock(w.records, w.settings, record.service_instance_id, holder, now)
    except Conflict:
        running = w.records.lock_holder(record.service_instance_id, int(now * 1000)) or ""
        if running.startswith(f"delete-{backup_id}-"):
            return load_backup(w, backup_id).to_api()          # the same delete is under way: its record, as it stands
        raise
    try:
        stored, record = read_backup(w, backup_id)
        record.status = BackupStatus.DELETING
        w.records.write_header(stored, record.header_doc())
        groups_done: set[str] = set()
        failures = refused = 0
        for item in record.items:
            if item.method is BackupMethod.RDS_BACKUP and item.delete_refused and not retry_refused:
                refused += 1
                continue
            try:
                delete_artifact(w, item, groups_done)
                if item.method is BackupMethod.RDS_BACKUP and item.artifact_id:
                    if item.delete_refused:
                        item.delete_refused = None
                        w.records.write_item(stored, item.resource_id, item.to_dict())
            except CloudError as err:
                if err.code in NOT_FOUND_CODES:
                    continue
                if item.method is BackupMethod.RDS_BACKUP and refused_for_good(err):
                    refused += 1
                    item.delete_refused = f"{err.code}: {err.message}"
                    w.records.write_item(stored, item.resource_id, item.to_dict())
                    continue
                failures += 1
                what = item.artifact_id or item.group_id or item.job_id
                item.error_code, item.error_message, item.request_id = \
                    err.code, f"deleting {what} failed: {err.message}", err.request_id
                w.records.write_item(stored, item.resource_id, item.to_dict())
        record.status = BackupStatus.DELETE_FAILED if failures or refused else BackupStatus.DELETED
        record.awaiting_expiry = bool(refused) and not failures
        notes = []
        if failures:
            notes.append(f"{failures} artifact(s) could not be deleted; delete again to retry")
        if refused:
            notes.append(f"RDS refuses to delete {refused} backup set(s) (see DeleteRefused); they are deleted by "
                         f"RDS when they expire (ExpiresAt)")
        record.status_detail = "; ".join(notes) or record.status_detail
        w.records.write_header(stored, record.header_doc())
        logs.event("backup deleted", step="delete", record_id=backup_id, status=str(record.status))
        return record.to_api()
    finally:
        w.records.release_lock(record.service_instance_id, holder)


def delete_artifact(w: Ports, item: BackupItem, groups_done: set[str], backup_set: str | None = None) -> None:
    """Delete what the cloud keeps of one item: its snapshot, its snapshot group (once per group: `groups_done`), or
    its RDS backup set (`backup_set` when the item does not know it yet). CloudError as the cloud answers."""
    if item.method is BackupMethod.SNAPSHOT_GROUP and item.group_id:
        if item.group_id not in groups_done:
            w.ecs.delete_snapshot_group(item.group_id)
            groups_done.add(item.group_id)
    elif item.method is BackupMethod.SNAPSHOT and item.artifact_id:
        w.ecs.delete_snapshot(item.artifact_id)
    elif item.method is BackupMethod.RDS_BACKUP and (backup_set or item.artifact_id):
        w.rds.delete_backup(item.resource_id, backup_set or item.artifact_id or "")


def wait_for_backup_set(w: Ports, db_instance_id: str, job_id: str, seconds: float) -> str | None:
    """The backup set an RDS backup job makes, once the job ends: asked at once, then each second for `seconds`
    (None if the job fails, is gone, or is still running then)."""
    deadline = time.monotonic() + seconds
    while True:
        job = w.rds.backup_job(db_instance_id, job_id)
        if job is None or job.failed:
            return None
        if job.finished:
            return job.backup_id
        if time.monotonic() >= deadline:
            return None
        time.sleep(1)


# RDS backup jobs of cancelled backups, still running when the cancel was over: the timer deletes their sets once
# they end (`delete_pending_sets`), and forgets a job still running after PENDING_SET_SECONDS.
PENDING_SETS = "rds-sets-to-delete"
PENDING_SET_SECONDS = 2 * 86400


def delete_set_later(w: Ports, backup_id: str, db_instance_id: str, job_id: str, now: float | None = None) -> str:
    """Hand an unfinished job's set to the timer; answers what to say of it on the record."""
    w.records.put_doc(PENDING_SETS, f"{backup_id}#{db_instance_id}#{job_id}", {
        "BackupId": backup_id, "DBInstanceId": db_instance_id, "JobId": job_id,
        "SinceEpoch": time.time() if now is None else now})
    return f"RDS backup job {job_id} of {db_instance_id} had not ended: its set is deleted when the job ends"


def delete_pending_sets(w: Ports, now: float | None = None) -> dict:
    """The timer's part: delete the sets of handed-over jobs that have ended; keep waiting for the others."""
    now = time.time() if now is None else now
    deleted: list[str] = []
    waiting = 0
    for key, doc, _ in w.records.docs(PENDING_SETS):
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
            w.records.delete_doc(PENDING_SETS, key)
        except CloudError as err:
            waiting += 1
            logs.event("set of a cancelled backup not deleted yet", step="sweep", record_id=doc.get("BackupId"),
                       code=err.code)
    return {"Deleted": deleted, "Waiting": waiting}


def discard_started_after_close(w: Ports, backup_id: str, made: list[BackupItem], attempts: int = 20) -> bool:
    """Delete what a start step made when the backup was closed (cancelled) while its cloud call was in flight:
    CloudFlow's StopExecution does not stop a function already running, and the cancel, which read the record
    before the call returned, could not see it. Says so on each item. False, doing nothing, while the backup still
    runs: the step's stale write was then another writer's, and its retry settles it."""
    notes: dict[str, str] = {}
    groups: set[str] = set()
    for attempt in range(attempts):
        stored, record = read_backup(w, backup_id)
        if record.status is BackupStatus.CREATING:
            return False
        for item in made:
            what = item.group_id or item.artifact_id or item.job_id
            if not what or item.resource_id in notes:
                continue
            try:
                backup_set = None
                if item.method is BackupMethod.RDS_BACKUP and not item.artifact_id:
                    backup_set = wait_for_backup_set(w, item.resource_id, item.job_id or "", 0)
                    if backup_set is None:
                        notes[item.resource_id] = (f"{what} was started as the backup was cancelled; "
                                                   + delete_set_later(w, backup_id, item.resource_id, what))
                        continue
                delete_artifact(w, item, groups, backup_set)
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
                    w.records.write_item(stored, current.resource_id, current.to_dict())
            return True
        except StaleWrite:          # the cancel is still writing its items: read them again
            time.sleep(0.05 * (attempt + 1))
    return True


def refused_for_good(err: CloudError) -> bool:
    """A DeleteBackup refusal that asking again soon will not change (not throttling, busy or a server error)."""
    return not err.transient and (err.http_status or 400) < 500


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
