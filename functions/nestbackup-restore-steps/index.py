"""The restore flow's steps, in one function: the body's `Step` says which (Advance: one step of the current phase;
Recover: the flow's Catch, start the instances and close the record). One function so a restore pays one cold
start for both; the db-rename step stays its own function (its own role, and the database drivers)."""
from nestbackup.handlers import event_json, invocation, operation, wiring
from nestbackup.ports.steps import RESTORE_STEPS, step_of

# Each step's operation, imported when the step first runs (a cold start loads only the modules of its step); each
# branch below imports its own step's contract (ports/steps/<step>.py) for the same reason.
OPERATIONS = {
    "Advance": ("nestbackup.operations.restore", "advance"),
    "Recover": ("nestbackup.operations.restore", "recover"),
}


def handler(event, context):
    body = event_json(event)
    step = step_of(RESTORE_STEPS, OPERATIONS, body)
    with invocation(context, step=step, record_id=body.get("RestoreId")):
        run = operation(OPERATIONS[step])
        if step == "Advance":
            from nestbackup.ports.steps.advance import AdvanceInput
            advance = AdvanceInput.from_event(body)
            return run(wiring(context), advance.RestoreId, advance.Round)
        from nestbackup.ports.steps.recover import RecoverInput
        close = RecoverInput.from_event(body)
        return run(wiring(context), close.RestoreId, error=close.Error)
