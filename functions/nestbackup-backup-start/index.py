"""Flow step: start the cloud backups of one batch (snapshot groups, snapshots, RDS backups)."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.backup_start import start_batch


def handler(event, context):
    body = event_json(event)
    return start_batch(wiring(context), body["BackupId"], int(body.get("Batch", 0)))
