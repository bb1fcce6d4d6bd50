"""The record store as the operations use it, keeping each record's timeline on the way: every write of a record
or of one of its items appends the events that write means (model.timeline) and stamps each resource's start and
end times. The timeline is best effort: a failure to append never fails the write it describes."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from ..model import timeline
from ..ports.records import RecordStore, StoredRecord

log = logging.getLogger("nestbackup.timeline")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class TimelineRecords:
    """A record store (the same port) over another one, appending each write's events to the record's timeline."""

    def __init__(self, store: RecordStore) -> None:
        self._store = store

    # -- what a write does not change passes through as it is
    def ensure_table(self) -> bool:
        return self._store.ensure_table()

    def read(self, record_id: str) -> StoredRecord | None:
        return self._store.read(record_id)

    def append_events(self, record_id: str, events: list[dict]) -> None:
        return self._store.append_events(record_id, events)

    def list_ids(self, si: str, kind: str, limit: int = 20, after: str | None = None) -> tuple[list[str], str | None]:
        return self._store.list_ids(si, kind, limit, after)

    def claim_token(self, si: str, kind: str, token: str, record_id: str) -> str | None:
        return self._store.claim_token(si, kind, token, record_id)

    def forget_token(self, si: str, kind: str, token: str) -> None:
        return self._store.forget_token(si, kind, token)

    def acquire_lock(self, si: str, holder: str, now_ms: int, lease_ms: int) -> None:
        return self._store.acquire_lock(si, holder, now_ms, lease_ms)

    def lock_holder(self, si: str, now_ms: int) -> str | None:
        return self._store.lock_holder(si, now_ms)

    def release_lock(self, si: str, holder: str) -> bool:
        return self._store.release_lock(si, holder)

    def put_doc(self, collection: str, key: str, doc: dict) -> None:
        return self._store.put_doc(collection, key, doc)

    def create_doc(self, collection: str, key: str, doc: dict) -> bool:
        return self._store.create_doc(collection, key, doc)

    def get_doc(self, collection: str, key: str) -> tuple[dict, int] | None:
        return self._store.get_doc(collection, key)

    def update_doc(self, collection: str, key: str, doc: dict, expected_version: int) -> int:
        return self._store.update_doc(collection, key, doc, expected_version)

    def delete_doc(self, collection: str, key: str) -> None:
        return self._store.delete_doc(collection, key)

    def docs(self, collection: str) -> list[tuple[str, dict, int]]:
        return self._store.docs(collection)

    def add_counts(self, collection: str, key: str, counts: dict[str, int]) -> None:
        return self._store.add_counts(collection, key, counts)

    def counts(self, collection: str, key: str) -> dict[str, int]:
        return self._store.counts(collection, key)

    def create(self, kind: str, record_id: str, si: str, header: dict, items: dict[str, dict]) -> None:
        at = _now()
        for item in items.values():
            timeline.stamp_times(None, item, at)
        self._store.create(kind, record_id, si, header, items)
        events = timeline.header_events(None, header, at)
        for item in items.values():
            events += timeline.item_events(None, item, at)
        self._append(record_id, events)

    def write_header(self, record: StoredRecord, header: dict) -> None:
        before = dict(record.header)
        self._store.write_header(record, header)
        self._append(record.record_id, timeline.header_events(before, header, _now()))

    def write_item(self, record: StoredRecord, resource_id: str, item: dict) -> None:
        at = _now()
        before = record.items.get(resource_id)
        timeline.stamp_times(before, item, at)
        self._store.write_item(record, resource_id, item)
        self._append(record.record_id, timeline.item_events(before, item, at))

    def events(self, record_id: str, limit: int = timeline.MAX_EVENTS) -> list[dict]:
        return self._store.events(record_id, limit)

    def _append(self, record_id: str, events: list[dict]) -> None:
        if not events:
            return
        try:
            self._store.append_events(record_id, events)
        except Exception:  # noqa: BLE001 - the record itself is written; its timeline must not undo that
            log.warning("timeline not written", extra={"fields": {"record_id": record_id, "events": len(events)}})
