"""Restore flow step: rename the restored RDS databases into their names, the live ones set aside (pymysql,
psycopg2). The only function that connects to the databases, so it also answers `nestbackup doctor`'s check of
the database accounts (invoked with {"Preflight": "<service instance id>"}: operations/preflight.py)."""
from nestbackup.handlers import event_json, invocation, operation, wiring
from nestbackup.operations.restore_rename import rename
from nestbackup.ports.steps.rename import RenameInput

PREFLIGHT = ("nestbackup.operations.preflight", "database_privileges")


def handler(event, context):
    body = event_json(event)
    if "Preflight" in body:
        with invocation(context, step="Preflight"):
            return operation(PREFLIGHT)(wiring(context), str(body["Preflight"]))
    with invocation(context, step="Rename", record_id=body.get("RestoreId")):
        step = RenameInput.from_event(body)
        return rename(wiring(context), step.RestoreId)
