"""Backup locks (the rules: `decisions/locks.py`): set or extend one, lift a Governance one (the admin, with a
reason), refuse a delete, retention or cancel while one holds, and lock the artifacts in the cloud where it can.

The record's write is the commit: from it on nestbackup refuses to delete the backup. A Compliance lock then locks
each snapshot in ECS (LockSnapshot, compliance mode, whole days reaching Until), so a delete outside nestbackup is
refused by ECS too; the record says which snapshots the cloud locks (`CloudLocked`, until `CloudLockedUntil`), which
it refused and why (`CloudLockFailed`: the sweeper, or the same lock PUT again, retries), and what the cloud cannot lock
(`NotLockedInCloud`: RDS has no lock on backup sets). `CloudLock` is `Pending` between the record's write and the
cloud's answers, so a process that died there says so. Such a backup is listed in LOCKING (before its record's
write) until ECS has locked every snapshot: the sweeper locks what is still Pending or Failed (`finish_cloud_locks`).
"""
from __future__ import annotations

import time
from typing import Any

from .. import logs
from ..decisions.locks import (
    COMPLIANCE,
    CloudLock,
    active,
    check_lift,
    check_new_lock,
    cloud_lock_days,
    new_lock,
    refusal,
    until_of,
)
from ..errors import CloudError, Conflict, ValidationError
from ..model.records import BackupRecord, ResourceType, epoch_of, iso_utc
from ..model.status import SELECTABLE, BackupStatus, ItemStatus
from ..ports import Ports
from ..ports.records import StaleWrite
from .loading import load_backup, read_backup, save

LOCKING = "locking"             # Compliance-locked backups whose snapshots ECS has not all locked yet
LOCKING_GRACE_SECONDS = 300     # an entry younger than this may be its request's, still on its way
RDS_NOT_LOCKED = ("RDS cannot lock backup sets: nestbackup refuses to delete them, but anyone allowed "
                  "rds:DeleteBackup can")
GOVERNANCE_NOT_LOCKED = "a Governance lock is nestbackup's only (ECS locks snapshots in compliance mode only)"


def refuse_if_locked(record: BackupRecord, now: float, what: str) -> None:
    """409 naming the lock when it holds."""
    if active(record.lock, now):
        assert record.lock is not None
        raise Conflict(refusal(record.backup_id, record.lock, what))


def kept_until(record: BackupRecord) -> float | None:
    """When the first backed-up artifact expires (a lock cannot outlast it); None when none expires."""
    ends = [epoch_of(i.expires_at) for i in record.items if i.status is ItemStatus.SUCCEEDED and i.expires_at]
    known = [e for e in ends if e is not None]
    return min(known) if known else None


def set_lock(w: Ports, backup_id: str, mode: object, until: float, by: str, admin: bool,
             now: float | None = None) -> dict:
    """Lock a Created or PartiallyCreated backup (or extend its lock); a Compliance lock also locks its snapshots."""
    now = time.time() if now is None else now
    stored, record = read_backup(w, backup_id)
    if record.status not in SELECTABLE:
        raise Conflict(f"backup {backup_id} is {record.status}: only a Created or PartiallyCreated backup (one with "
                       f"artifacts) is locked")
    check_new_lock(record.lock, mode, until, now, admin, kept_until(record))
    record.lock = new_lock(str(mode), until, by, now) | _cloud_pending(record, str(mode))
    if record.lock.get("CloudLock") == CloudLock.PENDING:
        w.documents.put_doc(LOCKING, backup_id, {"SinceEpoch": now})     # for the sweeper, should this stop
    try:
        save(w, stored, record)
    except StaleWrite:
        raise Conflict(f"backup {backup_id} changed while it was being locked; try again") from None
    logs.event("backup locked", step="lock", record_id=backup_id, mode=str(mode), until=record.lock["Until"])
    if mode == COMPLIANCE:
        _lock_in_cloud(w, backup_id, now)
    return load_backup(w, backup_id).to_api()


def lift_lock(w: Ports, backup_id: str, reason: object, by: str, admin: bool, now: float | None = None) -> dict:
    """The admin lifts a Governance lock; the record keeps who, when and why (`Lock.Lifted`)."""
    now = time.time() if now is None else now
    stored, record = read_backup(w, backup_id)
    check_lift(backup_id, record.lock, now, admin, reason)
    assert record.lock is not None
    record.lock = record.lock | {"Lifted": {"By": by, "At": iso_utc(now), "Reason": str(reason).strip()}}
    try:
        save(w, stored, record)
    except StaleWrite:
        raise Conflict(f"backup {backup_id} changed while its lock was being lifted; try again") from None
    logs.event("backup lock lifted", step="lock", record_id=backup_id, by=by)
    return record.to_api()


def lock_at_finalize(w: Ports, record: BackupRecord, now: float) -> None:
    """A schedule's lock on a backup that has just ended (the caller saves the record): kept on one with artifacts,
    brought within what they are kept and applied in the cloud; dropped from one that made nothing."""
    if not record.lock:
        return
    if record.status not in SELECTABLE:
        record.lock = None                     # nothing was backed up: nothing to protect, nothing to refuse
        return
    ends = kept_until(record)
    if ends is not None and until_of(record.lock) > ends:
        record.lock |= {"Until": iso_utc(ends), "Shortened": "to when the first artifact expires (ExpiresAt)"}
    record.lock |= _cloud_pending(record, record.lock["Mode"])
    if record.lock.get("CloudLock") == CloudLock.PENDING:
        w.documents.put_doc(LOCKING, record.backup_id, {"SinceEpoch": now})
        record.lock |= _cloud_locks(w, record, now)
        if record.lock["CloudLock"] == CloudLock.LOCKED:
            _settled(w, record.backup_id)


def _cloud_pending(record: BackupRecord, mode: str) -> dict[str, Any]:
    """What the record says of the cloud's part of a `mode` lock before it is asked."""
    out: dict[str, Any] = {}
    if any(i.resource_type is ResourceType.RDS and i.status is ItemStatus.SUCCEEDED for i in record.items):
        out["NotLockedInCloud"] = RDS_NOT_LOCKED
    if mode != COMPLIANCE:
        out["NotLockedInCloud"] = GOVERNANCE_NOT_LOCKED
    elif _snapshots(record):
        out["CloudLock"] = CloudLock.PENDING.value
    return out


def _snapshots(record: BackupRecord) -> list[str]:
    return [i.artifact_id for i in record.items
            if i.resource_type is ResourceType.DISK and i.status is ItemStatus.SUCCEEDED and i.artifact_id] + \
        [c.snapshot_id for c in record.copies if c.status is ItemStatus.SUCCEEDED and c.snapshot_id]


def _lock(w: Ports, record: BackupRecord, snapshot_id: str, days: int) -> None:
    """Lock one snapshot in its region: the backup's own, or a copy's in the copy's region."""
    copy = next((c for c in record.copies if c.snapshot_id == snapshot_id), None)
    if copy is None:
        w.ecs.lock_snapshot(snapshot_id, days)
    else:
        w.ecs.lock_snapshot_in(copy.region, snapshot_id, days)


def _cloud_locks(w: Ports, record: BackupRecord, now: float) -> dict[str, Any]:
    """Lock each snapshot for whole days reaching Until; what each answered."""
    assert record.lock is not None
    days = cloud_lock_days(until_of(record.lock), now)
    locked, failed = [], {}
    for sid in _snapshots(record):
        try:
            _lock(w, record, sid, days)
            locked.append(sid)
        except CloudError as err:
            failed[sid] = f"{err.code}: {err.message}"
            logs.event("snapshot not locked", step="lock", record_id=record.backup_id, snapshot=sid, code=err.code)
    out: dict[str, Any] = {"CloudLock": (CloudLock.FAILED if failed else CloudLock.LOCKED).value, "CloudLocked": locked,
                           "CloudLockedUntil": iso_utc(now + days * 86400.0) if locked else None}
    return out | ({"CloudLockFailed": failed} if failed else {})


def _lock_in_cloud(w: Ports, backup_id: str, now: float, attempts: int = 3) -> None:
    """Apply the record's Compliance lock to its snapshots and write what the cloud answered."""
    for _ in range(attempts):
        stored, record = read_backup(w, backup_id)
        if not record.lock or record.lock["Mode"] != COMPLIANCE or not _snapshots(record):
            return                  # nothing ECS can lock (an RDS-only backup): the record says so
        record.lock = {k: v for k, v in record.lock.items() if k != "CloudLockFailed"} \
            | _cloud_locks(w, record, now)
        try:
            save(w, stored, record)
        except StaleWrite:          # another writer (a poll of an extension): read it again, lock again
            continue
        if record.lock["CloudLock"] == CloudLock.LOCKED:
            _settled(w, backup_id)
        return


def _settled(w: Ports, backup_id: str) -> None:
    try:
        w.documents.delete_doc(LOCKING, backup_id)
    except CloudError as err:       # the sweeper drops it: the record says Locked
        logs.event("locking entry left", step="lock", record_id=backup_id, code=err.code)


def finish_cloud_locks(w: Ports, now: float) -> list[str]:
    """The sweeper's part: lock in ECS the snapshots of each Compliance lock still Pending or Failed (a process that
    died, a refusal), and drop the entries of locks that need nothing more. The backups it locked."""
    locked = []
    for backup_id, doc, _ in w.documents.docs(LOCKING):
        try:
            if now - float(doc.get("SinceEpoch") or 0) < LOCKING_GRACE_SECONDS:
                continue
            stored = w.records.read(backup_id)
            record = BackupRecord.from_docs(stored.header, stored.items) if stored else None
            if record is not None and record.status is BackupStatus.CREATING:
                continue                                 # its finalize locks it
            lock = record.lock if record else None
            if lock is None or lock["Mode"] != COMPLIANCE or not active(lock, now) or \
                    lock.get("CloudLock") == CloudLock.LOCKED:
                w.documents.delete_doc(LOCKING, backup_id)
                continue
            _lock_in_cloud(w, backup_id, now)
            locked.append(backup_id)
        except CloudError as err:                        # the next sweep tries again
            logs.event("cloud lock not finished", step="sweep", record_id=backup_id, code=err.code)
    return locked


def parse_until(value: object) -> float:
    """The body's Until: a UTC time as the records write it (2026-12-06T04:00:00Z)."""
    epoch = epoch_of(value) if isinstance(value, str) else None
    if epoch is None:
        raise ValidationError("Until must be a UTC time like 2026-12-06T04:00:00Z")
    return epoch
