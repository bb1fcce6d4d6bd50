"""Restore flow step: rename the restored RDS databases into their names, the live ones set aside (pymysql,
psycopg2). The only step of a restore that connects to the databases."""
from nestbackup.handlers import event_json, invocation, wiring
from nestbackup.operations.restore_rename import rename
from nestbackup.ports.steps.rename import RenameInput


def handler(event, context):
    body = event_json(event)
    with invocation(context, step="Rename", record_id=body.get("RestoreId")):
        step = RenameInput.from_event(body)
        return rename(wiring(context), step.RestoreId)
