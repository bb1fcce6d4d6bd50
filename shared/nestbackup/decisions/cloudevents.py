"""Final records as CloudEvents 1.0 (https://github.com/cloudevents/spec, v1.0.2), without I/O.

One event per record that became final: the same id for every receiver (a webhook of each tenant, an EventBridge
bus), so a consumer that gets it twice, or from two routes, can tell. The record, as the API shows it, is `data`.

Two HTTP encodings (the spec's HTTP protocol binding):
- structured: the body is the event as JSON (`application/cloudevents+json`); what new webhooks get.
- binary: the body is `data` alone (the record, as before this change) and the attributes are `ce-*` headers; what
  webhooks created before the change get until the admin moves them, so their receivers keep working unchanged.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

SPECVERSION = "1.0"
DATA_CONTENT_TYPE = "application/json"
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"

# What became final, by the key that names its record, and the event type it is; the most specific key first (a
# restore's and a drill's record also name their backup). A breach of a service instance's recovery objectives is
# an event of its own (operations/objectives.py), named by its BreachId.
KINDS: dict[str, tuple[str, str]] = {
    "BreachId": ("breach", "com.nestbackup.breach.detected"),
    "DrillId": ("drill", "com.nestbackup.drill.final"),
    "RestoreId": ("restore", "com.nestbackup.restore.final"),
    "BackupId": ("backup", "com.nestbackup.backup.final"),
}
EVENT_TYPES = dict(KINDS.values())


def record_kind(record: dict[str, Any]) -> tuple[str, str]:
    """(kind, record id) of a final record: which key names it decides."""
    for key in KINDS:
        if key in record:
            return KINDS[key][0], str(record[key])
    raise ValueError("not a record this product sends events for")


def event_id(record_id: str, status: str) -> str:
    """One id per record and final status: the same on every route and every retry."""
    return "evt-" + hashlib.sha256(f"{record_id}\n{status}".encode()).hexdigest()[:32]


def source(service_instance_id: str) -> str:
    """The event's source (a URI reference): the service instance the record belongs to."""
    return f"/nestbackup/service-instances/{service_instance_id}"


def final_record_event(record: dict[str, Any], service_instance_id: str, fallback_time: str) -> dict[str, Any]:
    """The event of a final record. `time` is when it became final (its EndTime; `fallback_time` for a record
    without one), so every retry carries the same event. `status` is an extension attribute (lowercase letters, as
    the spec asks) so a router can filter on it without reading `data`."""
    kind, record_id = record_kind(record)
    status = str(record.get("Status"))
    record = without_hook_output(record)
    return {"specversion": SPECVERSION, "id": event_id(record_id, status), "source": source(service_instance_id),
            "type": EVENT_TYPES[kind], "subject": record_id, "time": record.get("EndTime") or fallback_time,
            "datacontenttype": DATA_CONTENT_TYPE, "status": status, "data": record}


def without_hook_output(record: dict[str, Any]) -> dict[str, Any]:
    """A record as events carry it: each quiesce hook run without its output (what a command prints on a tenant's
    machine stays on the record, read through the API, and goes to no webhook or bus)."""
    if not record.get("Hooks"):
        return record
    return {**record, "Hooks": [{k: v for k, v in run.items() if k != "Output"} for run in record["Hooks"]]}


def structured(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """Headers and body of the event in structured content mode."""
    return {"content-type": STRUCTURED_CONTENT_TYPE}, json.dumps(event).encode()


def binary(event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """Headers and body of the event in binary content mode: `data` is the body, each attribute a `ce-` header.
    The values here are ids, paths, a time and a status word, none with a character the binding percent-encodes."""
    headers = {"content-type": event["datacontenttype"]}
    headers.update({f"ce-{name}": str(value) for name, value in event.items()
                    if name not in ("data", "datacontenttype")})
    return headers, json.dumps(event["data"]).encode()
