"""Execution records and their history events as the local cloud's store holds them.

An execution is one `fnf.execution` document keyed `<flow>/<execution>` (status, input, output, the definition it
started with, the top-level state it is in and that state's input, and the wall-clock end of a top-level Wait);
each history event is one `fnf.event` document keyed `<flow>/<execution>#<EventId, 8 digits>`, so that the events
of one execution sort by id between `<key>#` and `<key>$`.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any

from ..core.store import Store

EXECUTION = "fnf.execution"
EVENT = "fnf.event"
TERMINAL = ("Succeeded", "Failed", "Stopped", "TimedOut")


def execution_key(flow: str, name: str) -> str:
    return f"{flow}/{name}"


def timestamp_ms(ts: float | None = None) -> str:
    """CloudFlow's time format: UTC ISO 8601 with milliseconds."""
    dt = datetime.fromtimestamp(ts if ts is not None else time.time(), timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def event_count(store: Store, key: str) -> int:
    rows = store.query("SELECT COUNT(*) FROM docs WHERE kind = ? AND id > ? AND id < ?",
                       (EVENT, f"{key}#", f"{key}$"))
    return rows[0][0]


def append_event(store: Store, key: str, event_id: int, type: str, step: str, detail: dict[str, Any]) -> None:
    store.put(EVENT, f"{key}#{event_id:08d}", {
        "EventId": event_id, "Type": type, "StepName": step, "Time": timestamp_ms(),
        "EventDetail": json.dumps(detail, ensure_ascii=False), "ScheduleEventId": 0})


def event_page(store: Store, key: str, first_id: int, limit: int) -> list[dict[str, Any]]:
    """Up to `limit` events of the execution from EventId `first_id` on, in order."""
    rows = store.query("SELECT body FROM docs WHERE kind = ? AND id >= ? AND id < ? ORDER BY id LIMIT ?",
                       (EVENT, f"{key}#{first_id:08d}", f"{key}$", limit))
    return [json.loads(r[0]) for r in rows]
