"""Client tokens and the service instance's lock: what makes creating an operation idempotent and exclusive."""
from __future__ import annotations

import time

from ..errors import Conflict
from ..model.ids import is_backup_id, is_restore_id
from ..model.status import BACKUP_FINAL, RestoreStatus
from ..ports import Ports
from ..ports.claims import LockTaken
from ..ports.records import StoredRecord

FINAL = {str(s) for s in BACKUP_FINAL} | {str(RestoreStatus.RESTORED), str(RestoreStatus.RESTORE_FAILED)}


def same_token_record(w: Ports, record_id: str) -> StoredRecord:
    """The record an earlier request with the same ClientToken created; that request may still be writing it."""
    for _ in range(50):
        stored = w.records.read(record_id)
        if stored:
            return stored
        time.sleep(0.1)
    raise Conflict(f"a request with this ClientToken is still creating {record_id}")


def claim(w: Ports, si: str, kind: str, record_id: str, token: str | None, now: float,
          take_lock: bool = True) -> str | None:
    """The id of the operation an earlier request with this ClientToken created (nothing else is done then), or
    None once the token (if any) and the instance's lock are `record_id`'s. A refused lock gives the token back."""
    if token:
        existing = w.claims.claim_token(si, kind, token, record_id)
        if existing:
            return existing
    if take_lock:
        try:
            take_instance_lock(w, si, record_id, now)
        except LockTaken:
            forget_token(w, si, kind, token)
            raise
    return None


def take_instance_lock(w: Ports, si: str, holder: str, now: float) -> None:
    """Take the service instance's lock, or LockTaken naming the live holder. A lock whose holder's record is already
    final is free: an operation writes its final record first and lets the lock go just after (or crashed between
    the two), and a caller who saw the final record must not be refused."""
    now_ms, lease_ms = int(now * 1000), w.settings.lock_lease_seconds * 1000
    try:
        w.claims.acquire_lock(si, holder, now_ms, lease_ms)
    except LockTaken:
        current = w.claims.lock_holder(si, now_ms)
        stored = w.records.read(current) if current and (is_backup_id(current) or is_restore_id(current)) else None
        if current is None or stored is None or stored.header.get("Status") not in FINAL:
            raise
        w.claims.release_lock(si, current)
        w.claims.acquire_lock(si, holder, now_ms, lease_ms)


def forget_token(w: Ports, si: str, kind: str, token: str | None) -> None:
    if token:
        w.claims.forget_token(si, kind, token)
