"""Flow step: one poll round over every running item of a backup."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.backup_poll import poll_step


def handler(event, context):
    body = event_json(event)
    return poll_step(wiring(context), body["BackupId"], int(body.get("Round", 0)), int(body.get("Generation", 1)))
