"""The restore flow's steps, in one function: the body's `Step` says which (Advance: one step of the current phase;
Recover: the flow's Catch, start the instances and close the record), and the drill flow's (DrillAdvance, DrillClose:
a drill restores as a restore does, with the same role). One function so a restore pays one cold
start for both; the db-rename step stays its own function (its own role, and the database drivers)."""
from nestbackup.handlers import event_json, invocation, operation, wiring
from nestbackup.ports.steps import RESTORE_STEPS, step_of

# Each step's operation, imported when the step first runs (a cold start loads only the modules of its step); each
# branch below imports its own step's contract (ports/steps/<step>.py) for the same reason.
OPERATIONS = {
    "Advance": ("nestbackup.operations.restore", "advance"),
    "Recover": ("nestbackup.operations.restore", "recover"),
    "DrillAdvance": ("nestbackup.operations.drill_steps", "advance"),
    "DrillClose": ("nestbackup.operations.drill_steps", "close"),
}


def handler(event, context):
    body = event_json(event)
    step = step_of(RESTORE_STEPS, OPERATIONS, body)
    with invocation(context, step=step, record_id=body.get("RestoreId") or body.get("DrillId")):
        run = operation(OPERATIONS[step])
        if step in ("DrillAdvance", "DrillClose"):
            return _drill(step, run, body, context)
        if step == "Advance":
            from nestbackup.ports.steps.advance import AdvanceInput
            advance = AdvanceInput.from_event(body)
            return run(wiring(context), advance.RestoreId, advance.Round)
        from nestbackup.ports.steps.recover import RecoverInput
        close = RecoverInput.from_event(body)
        return run(wiring(context), close.RestoreId, error=close.Error)


def _drill(step, run, body, context):
    if step == "DrillAdvance":
        from nestbackup.ports.steps.drill import DrillAdvanceInput
        advance = DrillAdvanceInput.from_event(body)
        return run(wiring(context), advance.DrillId, advance.Round)
    from nestbackup.ports.steps.drill import DrillCloseInput
    close = DrillCloseInput.from_event(body)
    return run(wiring(context), close.DrillId, error=close.Error)
