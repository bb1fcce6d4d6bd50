"""Flow step: start the cloud backups of one batch (snapshot groups, snapshots, RDS backups)."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.backup_start import start_batch
from nestbackup.ports.steps import StartBatchInput


def handler(event, context):
    step = StartBatchInput.from_event(event_json(event))
    return start_batch(wiring(context), step.BackupId, step.Batch)
