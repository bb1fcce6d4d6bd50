"""Restore flow step: rename the restored RDS databases into their names, the live ones set aside (pymysql,
psycopg2). The only step of a restore that connects to the databases."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.restore_rename import rename
from nestbackup.ports.steps import RenameInput


def handler(event, context):
    step = RenameInput.from_event(event_json(event))
    return rename(wiring(context), step.RestoreId)
