"""The backup flow's steps, in one function: the body's `Step` says which (Prepare: count the start batches;
Freeze: run the pre hooks; Start: start the snapshots and RDS backups of one batch; Thaw: run the post hooks; Poll:
one round over every running item; Finalize: aggregate, close the record, release the lock). One function so a
backup pays one cold start, not one per step."""
from nestbackup.handlers import event_json, invocation, operation, wiring
from nestbackup.ports.steps import BACKUP_STEPS, step_of

# Each step's operation, imported when the step first runs (a cold start loads only the modules of its step); each
# branch below imports its own step's contract (ports/steps/<step>.py) for the same reason.
OPERATIONS = {
    "Prepare": ("nestbackup.operations.backup_start", "prepare"),
    "Start": ("nestbackup.operations.backup_start", "start_batch"),
    "Poll": ("nestbackup.operations.backup_poll", "poll_step"),
    "Finalize": ("nestbackup.operations.backup_finalize", "finalize"),
    "Freeze": ("nestbackup.operations.backup_hooks", "freeze"),
    "Thaw": ("nestbackup.operations.backup_hooks", "thaw_step"),
}


def handler(event, context):
    body = event_json(event)
    step = step_of(BACKUP_STEPS, OPERATIONS, body)
    with invocation(context, step=step, record_id=body.get("BackupId")):
        run = operation(OPERATIONS[step])
        if step == "Prepare":
            from nestbackup.ports.steps.prepare import PrepareInput, PrepareOutput
            prepare = PrepareInput.from_event(body)
            batches, state = run(wiring(context), prepare.BackupId)
            return PrepareOutput(prepare.BackupId, [{"Batch": b} for b in batches], state).to_event()
        if step == "Start":
            from nestbackup.ports.steps.start import StartBatchInput
            start = StartBatchInput.from_event(body)
            return run(wiring(context), start.BackupId, start.Batch)
        if step == "Poll":
            from nestbackup.ports.steps.poll import PollInput
            poll = PollInput.from_event(body)
            return run(wiring(context), poll.BackupId, poll.Round, poll.Generation)
        if step == "Freeze":
            from nestbackup.ports.steps.quiesce import FreezeInput
            frozen = FreezeInput.from_event(body)
            return run(wiring(context), frozen.BackupId, frozen.Batches)
        if step == "Thaw":
            from nestbackup.ports.steps.quiesce import ThawInput
            return run(wiring(context), ThawInput.from_event(body).BackupId)
        from nestbackup.ports.steps.finalize import FinalizeInput
        close = FinalizeInput.from_event(body)
        return run(wiring(context), close.BackupId, error=close.Error)
