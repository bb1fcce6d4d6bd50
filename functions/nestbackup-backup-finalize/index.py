"""Flow step: close the record (aggregate, end time) and release the instance's lock."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.backup_poll import finalize
from nestbackup.ports.steps import FinalizeInput


def handler(event, context):
    step = FinalizeInput.from_event(event_json(event))
    return finalize(wiring(context), step.BackupId, error=step.Error)
