"""Restore flow's Catch: start the instances that were running, close the record as RestoreFailed."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.restore import recover


def handler(event, context):
    body = event_json(event)
    return recover(wiring(context), body["RestoreId"], error=body.get("Error"))
