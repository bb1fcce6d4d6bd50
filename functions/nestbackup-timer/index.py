"""Timer trigger: {"Job": "schedules"} runs due schedules and retention, {"Job": "sweep"} finishes stuck records."""
import json

from nestbackup.handlers import event_json, wiring
from nestbackup.operations.schedules import sweep, tick


def handler(event, context):
    body = event_json(event)
    payload = body.get("payload") or "{}"
    job = (json.loads(payload) if isinstance(payload, str) else payload).get("Job", "schedules")
    if job == "sweep":
        return sweep(wiring(context))
    if job == "schedules":
        out = tick(wiring(context))
        return {k: v for k, v in out.items() if k != "Results"} | {"Errors": [r for r in out["Results"]
                                                                            if r.get("Error")]}
    raise ValueError(f"unknown timer job {job!r}: use schedules or sweep")
