"""The restore flow's steps, in one function: the body's `Step` says which (Advance: one step of the current phase;
Recover: the flow's Catch, start the instances and close the record). One function so a restore pays one cold
start for both; the db-rename step stays its own function (its own role, and the database drivers)."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.restore import advance, recover
from nestbackup.ports.steps import RESTORE_STEPS, AdvanceInput, RecoverInput, step_of


def handler(event, context):
    body = event_json(event)
    if step_of(RESTORE_STEPS, body) == "Advance":
        step = AdvanceInput.from_event(body)
        return advance(wiring(context), step.RestoreId, step.Round)
    close = RecoverInput.from_event(body)
    return recover(wiring(context), close.RestoreId, error=close.Error)
