"""Flow step: how many start batches the backup needs (the Map runs them in parallel)."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.backup_start import start_batch_count
from nestbackup.ports.steps import PrepareInput, PrepareOutput


def handler(event, context):
    step = PrepareInput.from_event(event_json(event))
    batches = start_batch_count(wiring(context), step.BackupId)
    return PrepareOutput(step.BackupId, [{"Batch": b} for b in batches]).to_event()
