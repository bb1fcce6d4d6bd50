"""Timer trigger: {"Job": "schedules"} runs due schedules and retention, then retries due webhook deliveries;
{"Job": "sweep"} finishes stuck records, then deletes the audit trail's expired days."""
import json

from nestbackup.handlers import event_json, invocation, operation, wiring

# Each job's operation, imported when the job first runs (a cold start loads only the modules of its job).
JOBS = {
    "schedules": ("nestbackup.operations.schedules", "tick"),
    "sweep": ("nestbackup.operations.sweeper", "sweep"),
}
# What each job runs after it, filed under the job too, so the other job's cold start does not load it.
AFTER = {
    "schedules": ("nestbackup.operations.notify", "deliver_due"),    # webhooks due again
    "sweep": ("nestbackup.operations.audit", "prune"),               # the audit trail's expired days
}


def handler(event, context):
    body = event_json(event)
    payload = body.get("payload") or "{}"
    job = (json.loads(payload) if isinstance(payload, str) else payload).get("Job", "schedules")
    if job not in JOBS:
        raise ValueError(f"unknown timer job {job!r}: use schedules or sweep")
    with invocation(context, step=job):
        w = wiring(context)
        if job == "sweep":
            return operation(JOBS[job])(w) | {"AuditPruned": operation(AFTER[job])(w)}
        out = operation(JOBS[job])(w)
        return {k: v for k, v in out.items() if k != "Results"} | {
            "Errors": [r for r in out["Results"] if r.get("Error")], "Webhooks": operation(AFTER[job])(w)}
