"""Client tokens and the service instance's lock: what makes creating an operation idempotent and exclusive."""
from __future__ import annotations

import time

from ..errors import Conflict
from ..ports.records import RecordStore, StoredRecord
from ..settings import Settings


def same_token_record(records: RecordStore, record_id: str) -> StoredRecord:
    """The record an earlier request with the same ClientToken created; that request may still be writing it."""
    for _ in range(50):
        stored = records.read(record_id)
        if stored:
            return stored
        time.sleep(0.1)
    raise Conflict(f"a request with this ClientToken is still creating {record_id}")


def claim(records: RecordStore, settings: Settings, si: str, kind: str, record_id: str, token: str | None, now: float,
          take_lock: bool = True) -> str | None:
    """The id of the operation an earlier request with this ClientToken created (nothing else is done then), or
    None once the token (if any) and the instance's lock are `record_id`'s. A refused lock gives the token back."""
    if token:
        existing = records.claim_token(si, kind, token, record_id)
        if existing:
            return existing
    if take_lock:
        try:
            records.acquire_lock(si, record_id, int(now * 1000), settings.lock_lease_seconds * 1000)
        except Conflict:
            forget_token(records, si, kind, token)
            raise
    return None


def forget_token(records: RecordStore, si: str, kind: str, token: str | None) -> None:
    if token:
        records.forget_token(si, kind, token)
