"""The record store as the operations use it, keeping each record's timeline on the way: every write of a record
or of one of its items appends the events that write means (model.timeline) and stamps each resource's start and
end times. The timeline is best effort: a failure to append never fails the write it describes."""
from __future__ import annotations

import logging
from datetime import datetime, timezone

from ..model import timeline

log = logging.getLogger("nestbackup.timeline")


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class TimelineRecords:
    """Wraps the record store: the same methods, plus `events(record_id)`."""

    def __init__(self, store) -> None:
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    def create(self, kind: str, record_id: str, si: str, header: dict, items: dict[str, dict]) -> None:
        at = _now()
        for item in items.values():
            timeline.stamp_times(None, item, at)
        self._store.create(kind, record_id, si, header, items)
        events = timeline.header_events(None, header, at)
        for item in items.values():
            events += timeline.item_events(None, item, at)
        self._append(record_id, events)

    def write_header(self, record, header: dict) -> None:
        before = dict(record.header)
        self._store.write_header(record, header)
        self._append(record.record_id, timeline.header_events(before, header, _now()))

    def write_item(self, record, resource_id: str, item: dict) -> None:
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
