"""Restore flow's Catch: start the instances that were running, close the record as RestoreFailed."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.restore import recover
from nestbackup.ports.steps import RecoverInput


def handler(event, context):
    step = RecoverInput.from_event(event_json(event))
    return recover(wiring(context), step.RestoreId, error=step.Error)
