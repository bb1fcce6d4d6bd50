"""Restore flow step: rename the restored RDS databases into their names, the live ones set aside (pymysql,
psycopg2). The only step of a restore that connects to the databases."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.restore_rename import rename


def handler(event, context):
    return rename(wiring(context), event_json(event)["RestoreId"])
