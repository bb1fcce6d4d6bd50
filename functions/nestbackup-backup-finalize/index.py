"""Flow step: close the record (aggregate, end time) and release the instance's lock."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.backup_poll import finalize


def handler(event, context):
    body = event_json(event)
    return finalize(wiring(context), body["BackupId"], error=body.get("Error"))
