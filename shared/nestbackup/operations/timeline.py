"""The records port as the operations use it, keeping each record's timeline on the way: every write of a record or
of its items appends the events that write means (model.timeline) and stamps each resource's start and end times.
The timeline is best effort: a failure to append never fails the write it describes."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from ..model import timeline

if TYPE_CHECKING:
    from ..ports.records import Records, StoredRecord

log = logging.getLogger("nestbackup.timeline")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class TimelineRecords:
    """A records port (the same port) over another one, appending each write's events to the record's timeline."""

    def __init__(self, store: Records) -> None:
        self._store = store

    # -- what a write does not change passes through as it is
    def ensure_table(self) -> bool:
        return self._store.ensure_table()

    def read(self, record_id: str) -> StoredRecord | None:
        return self._store.read(record_id)

    def append_events(self, record_id: str, events: list[dict]) -> None:
        return self._store.append_events(record_id, events)

    def list_ids(self, si: str | None, kind: str, limit: int = 20,
                 after: str | None = None) -> tuple[list[str], str | None]:
        return self._store.list_ids(si, kind, limit, after)

    def events(self, record_id: str, limit: int = timeline.MAX_EVENTS) -> list[dict]:
        return self._store.events(record_id, limit)

    # -- writes, with their events
    def create(self, kind: str, record_id: str, si: str, header: dict, items: dict[str, dict]) -> None:
        at = _now()
        for item in items.values():
            timeline.stamp_times(None, item, at)
        self._store.create(kind, record_id, si, header, items)
        events = timeline.header_events(None, header, at)
        for item in items.values():
            events += timeline.item_events(None, item, at)
        self._append(record_id, events)

    def save(self, record: StoredRecord, header: dict, items: dict[str, dict]) -> None:
        """Items are stamped before the store compares them with what was read, so an item that only lacks the
        stamps an earlier save gave it is unchanged; the events are those of the rows written, even when a later
        row of the same save was stale."""
        at = _now()
        header_before, items_before = record.header, dict(record.items)
        stamped = {}
        for rid, doc in items.items():
            stamped[rid] = dict(doc)
            timeline.stamp_times(items_before.get(rid), stamped[rid], at)
        try:
            self._store.save(record, header, stamped)
        finally:
            events = []
            for rid, doc in record.items.items():
                if doc != items_before.get(rid):
                    events += timeline.item_events(items_before.get(rid), doc, at)
            if record.header != header_before:
                events += timeline.header_events(header_before, record.header, at)
            self._append(record.record_id, events)

    def _append(self, record_id: str, events: list[dict]) -> None:
        if not events:
            return
        try:
            self._store.append_events(record_id, events)
        except Exception:  # noqa: BLE001 - the record itself is written; its timeline must not undo that
            log.warning("timeline not written", extra={"fields": {"record_id": record_id, "events": len(events)}})
