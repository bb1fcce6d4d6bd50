"""Flow step: one poll round over every running item of a backup."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.backup_poll import poll_step
from nestbackup.ports.steps import PollInput


def handler(event, context):
    step = PollInput.from_event(event_json(event))
    return poll_step(wiring(context), step.BackupId, step.Round, step.Generation)
