"""The backup flow's steps, in one function: the body's `Step` says which (Prepare: count the start batches; Start:
start the snapshots and RDS backups of one batch; Poll: one round over every running item; Finalize: aggregate,
close the record, release the lock). One function so a backup pays one cold start, not four."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.backup_poll import finalize, poll_step
from nestbackup.operations.backup_start import start_batch, start_batch_count
from nestbackup.ports.steps import (
    BACKUP_STEPS,
    FinalizeInput,
    PollInput,
    PrepareInput,
    PrepareOutput,
    StartBatchInput,
    step_of,
)


def handler(event, context):
    body = event_json(event)
    step = step_of(BACKUP_STEPS, body)
    if step == "Prepare":
        prepare = PrepareInput.from_event(body)
        batches = start_batch_count(wiring(context), prepare.BackupId)
        return PrepareOutput(prepare.BackupId, [{"Batch": b} for b in batches]).to_event()
    if step == "Start":
        start = StartBatchInput.from_event(body)
        return start_batch(wiring(context), start.BackupId, start.Batch)
    if step == "Poll":
        poll = PollInput.from_event(body)
        return poll_step(wiring(context), poll.BackupId, poll.Round, poll.Generation)
    close = FinalizeInput.from_event(body)
    return finalize(wiring(context), close.BackupId, error=close.Error)
