"""Restore flow step: one step of the current phase (safety backup, stop, restore data, start, verify, done)."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.restore import advance
from nestbackup.ports.steps import AdvanceInput


def handler(event, context):
    step = AdvanceInput.from_event(event_json(event))
    return advance(wiring(context), step.RestoreId, step.Round)
