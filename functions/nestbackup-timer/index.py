"""Timer trigger: {"Job": "schedules"} runs due schedules and retention, then retries due webhook deliveries;
{"Job": "sweep"} finishes stuck records, then deletes the audit trail's expired days."""
import json

from nestbackup.handlers import event_json, invocation, operation, wiring

# Each job's operation, imported when the job first runs (a cold start loads only the modules of its job).
JOBS = {
    "schedules": ("nestbackup.operations.schedules", "tick"),
    "sweep": ("nestbackup.operations.sweeper", "sweep"),
}
DELIVERIES = ("nestbackup.operations.notify", "deliver_due")      # after the schedules, webhooks due again
AUDIT_PRUNE = ("nestbackup.operations.audit", "prune")            # after the sweep, the audit trail's expired days


def handler(event, context):
    body = event_json(event)
    payload = body.get("payload") or "{}"
    job = (json.loads(payload) if isinstance(payload, str) else payload).get("Job", "schedules")
    if job not in JOBS:
        raise ValueError(f"unknown timer job {job!r}: use schedules or sweep")
    with invocation(context, step=job):
        w = wiring(context)
        if job == "sweep":
            return operation(JOBS[job])(w) | {"AuditPruned": operation(AUDIT_PRUNE)(w)}
        out = operation(JOBS[job])(w)
        return {k: v for k, v in out.items() if k != "Results"} | {
            "Errors": [r for r in out["Results"] if r.get("Error")], "Webhooks": operation(DELIVERIES)(w)}
