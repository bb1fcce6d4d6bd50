"""Flow step: how many start batches the backup needs (the Map runs them in parallel)."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.backup_start import start_batch_count


def handler(event, context):
    backup_id = event_json(event)["BackupId"]
    batches = start_batch_count(wiring(context), backup_id)
    return {"BackupId": backup_id, "Batches": [{"Batch": b} for b in batches]}
