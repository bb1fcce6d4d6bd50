"""A backup's artifacts after the fact: deleting them (by hand or by retention), and finding the ones no record
owns (leftovers)."""
from __future__ import annotations

import time

from .. import logs
from ..errors import CloudError, Conflict
from ..model.ids import OWNER_TAG, is_backup_id
from ..model.records import BackupItem, BackupRecord
from ..model.status import BackupStatus, ItemStatus
from ..ports import Ports
from ..ports.records import StaleWrite, StoredRecord
from .claims import take_instance_lock
from .kinds import kind_of
from .kinds.action import NOT_FOUND_CODES, refused_for_good
from .kinds.rds_backup import PENDING_SET_SECONDS, PENDING_SETS, pending_set
from .loading import load_backup, read_backup, save
from .locks import refuse_if_locked

# -- delete

DELETES = "deletes"             # the collection of backups being deleted (for the sweeper to resume)
DELETE_GRACE_SECONDS = 300     # a delete begun less than this ago may still be running: it is not resumed


def delete_backup(w: Ports, backup_id: str, now: float | None = None, retry_refused: bool = True) -> dict:
    """Delete a final backup's snapshots and RDS backup sets: Deleting -> Deleted, or DeleteFailed with the causes
    on the items (run it again to retry). Refused while the backup runs or another operation holds the instance.

    RDS refuses DeleteBackup for some sets (StoreStatus Disabled: Basic edition, or younger than the deletable age;
    DeleteBackup API reference): such a refusal is recorded once on the item (DeleteRefused) and the record is
    marked AwaitingExpiry, the set goes at its ExpectExpireTime. `retry_refused=False` (retention) does not ask
    again for those sets; a delete by hand does.

    A delete is resumable: the instance's lock is held under the backup's own id (free once its record is final,
    `claims.take_instance_lock`), the backup is listed in DELETES before it is marked Deleting, and a Deleting
    backup whose delete began over DELETE_GRACE_SECONDS ago (its process died, or its record's write failed) is
    deleted again, by hand or by the sweeper (`resume_deletes`): what is already gone counts as deleted. A Deleting
    backup whose delete is younger is answered as it stands (the same delete is under way).

    A locked backup (`operations/locks.py`) is refused (Conflict naming the lock), whoever asks."""
    now = time.time() if now is None else now
    record = load_backup(w, backup_id)
    if record.status is BackupStatus.DELETED:
        return record.to_api()
    refuse_if_locked(record, now, "deleting it")
    if record.status is BackupStatus.CREATING:
        raise Conflict(f"backup {backup_id} is still Creating; it can be deleted once it ends")
    si = record.service_instance_id
    take_instance_lock(w, si, backup_id, now)
    try:
        stored, record = read_backup(w, backup_id)
        if record.status is BackupStatus.DELETING and _delete_under_way(w, backup_id, now):
            return record.to_api()          # its lock is that delete's (the same holder): kept
        if record.status is BackupStatus.DELETED:
            w.claims.release_lock(si, backup_id)
            return record.to_api()
        resumed = record.status is BackupStatus.DELETING
        w.documents.put_doc(DELETES, backup_id, {"ServiceInstanceId": si, "StartedEpoch": now,
                                                 "RetryRefused": retry_refused})
        record.status = BackupStatus.DELETING
        try:
            save(w, stored, record)
        except StaleWrite:                  # another delete of this backup marked it first: it goes on
            return load_backup(w, backup_id).to_api()
    except BaseException:
        w.claims.release_lock(si, backup_id)
        raise
    try:
        record = _delete_items(w, stored, record, retry_refused, resumed)
    finally:
        w.claims.release_lock(si, backup_id)
    logs.event("backup deleted", step="delete", record_id=backup_id, status=str(record.status), resumed=resumed)
    try:
        w.documents.delete_doc(DELETES, backup_id)
    except CloudError as err:               # the sweeper drops it: the record is final
        logs.event("delete index entry left", step="delete", record_id=backup_id, reason=str(err))
    return record.to_api()


def _deleted(item: BackupItem) -> None:
    """A backed-up resource whose artifact is gone shows Deleted (docs/statuses.md); others keep their status."""
    if item.status is ItemStatus.SUCCEEDED:
        item.status = ItemStatus.DELETED


def _delete_under_way(w: Ports, backup_id: str, now: float) -> bool:
    entry = w.documents.get_doc(DELETES, backup_id)
    return entry is not None and now - float(entry[0].get("StartedEpoch") or 0) < DELETE_GRACE_SECONDS


def _delete_items(w: Ports, stored: StoredRecord, record: BackupRecord, retry_refused: bool,
                  resumed: bool) -> BackupRecord:
    """Delete each item's artifact (gone already counts as deleted) and write the final record."""
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
            _deleted(item)
        except CloudError as err:
            if err.code in NOT_FOUND_CODES:
                _deleted(item)
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
    failures += _delete_copies(w, stored, record)
    record.status = BackupStatus.DELETE_FAILED if failures or refused else BackupStatus.DELETED
    record.awaiting_expiry = bool(refused) and not failures
    notes = []
    if resumed:
        notes.append("the delete was resumed (an earlier delete stopped mid-way)")
    if failures:
        notes.append(f"{failures} artifact(s) could not be deleted; delete again to retry")
    if refused:
        notes.append(f"RDS refuses to delete {refused} backup set(s) (see DeleteRefused); they are deleted by "
                     f"RDS when they expire (ExpiresAt)")
    record.status_detail = "; ".join(notes) or record.status_detail
    save(w, stored, record)
    return record


def _delete_copies(w: Ports, stored: StoredRecord, record: BackupRecord) -> int:
    """Delete the backup's copies in another region (gone already counts as deleted); how many failed."""
    from .backup_copies import delete_copy
    failures = 0
    for copy in record.copies:
        if not copy.snapshot_id or copy.status is ItemStatus.DELETED:
            continue
        try:
            delete_copy(w, copy)
        except CloudError as err:
            if err.code in NOT_FOUND_CODES:
                copy.close(ItemStatus.DELETED, f"gone from {copy.region} already")
                continue
            failures += 1
            copy.error_code = err.code
            copy.error_message = f"deleting the copy {copy.snapshot_id} failed: {err.message}"
            save(w, stored, record)
    return failures


def resume_deletes(w: Ports, now: float) -> dict:
    """The sweeper's part: finish every delete that stopped mid-way (its backup still Deleting past
    DELETE_GRACE_SECONDS), and drop the entries of backups whose delete ended."""
    resumed, waiting = [], 0
    for backup_id, doc, _ in w.documents.docs(DELETES):
        try:
            stored = w.records.read(backup_id)
            if stored is None or stored.header.get("Status") != BackupStatus.DELETING:
                w.documents.delete_doc(DELETES, backup_id)
                continue
            if now - float(doc.get("StartedEpoch") or 0) < DELETE_GRACE_SECONDS:
                waiting += 1
                continue
            out = delete_backup(w, backup_id, now, retry_refused=bool(doc.get("RetryRefused", True)))
            resumed.append(backup_id)
            logs.event("delete resumed", step="sweep", record_id=backup_id, status=out["Status"])
        except (CloudError, Conflict) as err:          # busy instance, throttled: the next sweep tries again
            waiting += 1
            logs.event("delete not resumed yet", step="sweep", record_id=backup_id, reason=str(err))
    return {"Resumed": resumed, "Waiting": waiting}


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
            running, backup_set = pending_set(w, doc)
            if running and now - float(doc.get("SinceEpoch") or now) < PENDING_SET_SECONDS:
                waiting += 1
                continue
            if backup_set:
                try:
                    w.rds.delete_backup(doc["DBInstanceId"], backup_set)
                    deleted.append(backup_set)
                except CloudError as err:
                    if err.code not in NOT_FOUND_CODES and not refused_for_good(err):
                        raise                      # throttled or busy: the next sweep asks again
                    logs.event("set of a cancelled backup kept", step="sweep", record_id=doc["BackupId"],
                               backup_set=backup_set, code=err.code)       # refused for good: it expires
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
        closed = {i.resource_id for i in record.items if i.status in (ItemStatus.FAILED, ItemStatus.CANCELLED)}
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
def leftovers(w: Ports, regions: list[str] | None = None) -> dict:
    """Snapshots and snapshot groups tagged as ours that no live record owns (a crash between the cloud call and
    the record write, a record deleted by hand, ...), and copies in another region no record owns, in `regions`
    (the API asks in those the schedules copy into). RDS backup sets cannot be tagged, so they are not listed."""
    owned: dict[str, set[str]] = {}

    def owns(backup_id: str, artifact: str) -> bool:
        if backup_id not in owned:
            stored = w.records.read(backup_id) if is_backup_id(backup_id) else None
            ids: set[str] = set()
            if stored and stored.header.get("Status") != BackupStatus.DELETED:
                for item in stored.items.values():
                    ids.update(x for x in (item.get("artifact_id"), item.get("group_id"), item.get("job_id")) if x)
                    ids.update(c["snapshot_id"] for c in item.get("copies") or [] if c.get("snapshot_id"))
            owned[backup_id] = ids
        return artifact in owned[backup_id]

    found = [{"ArtifactId": sid, "Kind": "snapshot", "BackupId": bid}
             for sid, bid in w.ecs.snapshots_tagged(OWNER_TAG) if not owns(bid, sid)]
    found += [{"ArtifactId": gid, "Kind": "snapshot-group", "BackupId": bid}
              for gid, bid in w.ecs.groups_tagged(OWNER_TAG) if not owns(bid, gid)]
    for region in sorted(set(regions or ())):
        found += [{"ArtifactId": sid, "Kind": "snapshot-copy", "BackupId": bid, "Region": region}
                  for sid, bid in w.ecs.snapshots_tagged_in(region, OWNER_TAG) if not owns(bid, sid)]
    return {"Leftovers": found}

