"""Timer trigger: {"Job": "schedules"} runs due schedules and retention, then retries due webhook deliveries;
{"Job": "sweep"} finishes stuck records, then deletes the audit trail's expired days."""
import json

from nestbackup.handlers import event_json, wiring
from nestbackup.operations.audit import prune
from nestbackup.operations.notify import deliver_due
from nestbackup.operations.schedules import tick
from nestbackup.operations.sweeper import sweep


def handler(event, context):
    body = event_json(event)
    payload = body.get("payload") or "{}"
    job = (json.loads(payload) if isinstance(payload, str) else payload).get("Job", "schedules")
    if job == "sweep":
        w = wiring(context)
        return sweep(w) | {"AuditPruned": prune(w)}
    if job == "schedules":
        w = wiring(context)
        out = tick(w)
        return {k: v for k, v in out.items() if k != "Results"} | {
            "Errors": [r for r in out["Results"] if r.get("Error")], "Webhooks": deliver_due(w)}
    raise ValueError(f"unknown timer job {job!r}: use schedules or sweep")
