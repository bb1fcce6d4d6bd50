"""Compute Nest events (through EventBridge): back up a service instance before something risky happens to it.

Accepted shape (CloudEvents 1.0, one event or a list of them): `id` (required), `type`, `source`, and `data`
carrying the service instance as `serviceInstanceId` / `ServiceInstanceId` (top level, or under
`data.requestParameters` for ActionTrail-style events). Compute Nest's own event source and types are
unconfirmed, so the handler does not filter on them: route only the events you mean (e.g. upgrades) to it with the
EventBridge rule. Each event id starts at most one backup: its ClientToken is derived from the id.
"""
from __future__ import annotations

import hashlib

from ..errors import Conflict, NotFound, ValidationError
from ..ports import Ports
from .backup import create_backup


def _service_instance(data: dict | None) -> str | None:
    data = data or {}
    for holder in (data, data.get("requestParameters") or {}, data.get("serviceInstance") or {}):
        if isinstance(holder, dict):
            for key in ("serviceInstanceId", "ServiceInstanceId"):
                if isinstance(holder.get(key), str):
                    return holder[key]
    return None


def on_events(w: Ports, events: dict | list) -> dict:
    events = events if isinstance(events, list) else [events]
    results = []
    for event in events:
        if not isinstance(event, dict) or not isinstance(event.get("id"), str) or not event["id"]:
            raise ValidationError("an event needs a string id (CloudEvents 1.0)")
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        si = _service_instance(data)
        if si is None:
            results.append({"EventId": event["id"], "Skipped": "the event names no service instance"})
            continue
        token = "event-" + hashlib.sha256(event["id"].encode()).hexdigest()[:40]
        description = f"before {event.get('type') or 'an event'} ({event['id'][:64]})"
        try:
            record = create_backup(w, si, description[:256], token=token, origin="event")
            results.append({"EventId": event["id"], "BackupId": record["BackupId"], "Status": record["Status"]})
        except (Conflict, NotFound) as err:  # busy, not deployed, or unknown to Compute Nest: say so, don't retry
            results.append({"EventId": event["id"], "Error": str(err)})
    return {"Results": results}
