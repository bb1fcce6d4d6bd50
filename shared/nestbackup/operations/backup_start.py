"""The backup flow's start steps: start the cloud work of one batch of units (a snapshot, a snapshot group, an RDS
backup), idempotently: ECS calls carry ClientTokens, and an RDS backup (CreateBackup takes none) marks its intent
first and after a crash adopts only the manual job it started. What a finished RDS set says is recorded here too."""
from __future__ import annotations

import time

from .. import logs
from ..decisions.backup import START_BATCH_UNITS, batch_indexes, client_token, start_units
from ..errors import CloudError, ValidationError
from ..model.ids import OWNER_TAG
from ..model.records import BackupItem, BackupMethod, BackupRecord
from ..model.status import ItemStatus
from ..ports import Ports
from ..ports.records import StaleWrite, StoredRecord
from ..ports.steps import PrepareOutput, StartBatchOutput
from .artifacts import discard_started_after_close
from .costs import Meter
from .loading import load_backup, read_backup


def start_batch_count(w: Ports, backup_id: str) -> list[int]:
    meter = Meter(w)
    record = load_backup(w, backup_id)
    batches = batch_indexes(len(start_units(record.items)))
    meter.charge(backup_id, PrepareOutput.TRANSITIONS)
    return batches


def start_batch(w: Ports, backup_id: str, batch: int, now: float | None = None) -> dict:
    meter = Meter(w)
    stored, record = read_backup(w, backup_id)
    units = start_units(record.items)[batch * START_BATCH_UNITS:(batch + 1) * START_BATCH_UNITS]
    started = failed = 0
    for unit in units:
        if all(i.status is not ItemStatus.PENDING and not i.starting for i in unit):
            continue
        start_unit(w, stored, record, unit)
        started += sum(i.status is ItemStatus.RUNNING for i in unit)
        failed += sum(i.status is ItemStatus.FAILED for i in unit)
    meter.charge(backup_id, StartBatchOutput.TRANSITIONS)
    return StartBatchOutput(backup_id, batch, started, failed).to_event()


def start_unit(w: Ports, stored: StoredRecord, record: BackupRecord, unit: list[BackupItem]) -> None:
    first = unit[0]
    w.take_retries()
    try:
        if first.method is BackupMethod.SNAPSHOT_GROUP:
            group_id = w.ecs.create_snapshot_group(
                first.instance_id or "", [i.resource_id for i in unit], name=f"nestbackup-{record.backup_id}",
                description=f"nestbackup {record.backup_id} of {record.service_instance_id}",
                client_token=client_token(record.backup_id, first.instance_id or ""),
                tags={OWNER_TAG: record.backup_id})
            for item in unit:
                item.status, item.group_id = ItemStatus.RUNNING, group_id
        elif first.method is BackupMethod.SNAPSHOT:
            snapshot_id = w.ecs.create_snapshot(
                first.resource_id, name=f"nestbackup-{record.backup_id}",
                description=f"nestbackup {record.backup_id} of {record.service_instance_id}",
                client_token=client_token(record.backup_id, first.resource_id), tags={OWNER_TAG: record.backup_id})
            first.status, first.artifact_id = ItemStatus.RUNNING, snapshot_id
        else:
            _start_rds(w, stored, first)
    except CloudError as err:
        if err.transient:
            # Not applied, or not known to be: the next poll round starts it again, idempotently.
            logs.event("backup start deferred", step="start", record_id=record.backup_id, resource_id=first.resource_id,
                       code=err.code, request_id=err.request_id)
            retried = w.take_retries()
            for item in unit:           # said on the timeline; the item stays as it was
                item.retried = f"deferred to the next round after {', '.join(retried[-3:] or [err.code])}"
                w.records.write_item(stored, item.resource_id, item.to_dict())
            return
        for item in unit:
            item.fail(err.code, err.message, err.request_id)
        logs.event("backup start failed", step="start", record_id=record.backup_id, resource_id=first.resource_id,
                   code=err.code, request_id=err.request_id)
    retried = w.take_retries()
    try:
        for item in unit:
            if retried:
                item.retried = f"retried after {', '.join(retried[-3:])}" + (f" (+{len(retried) - 3} more)"
                                                                             if len(retried) > 3 else "")
            w.records.write_item(stored, item.resource_id, item.to_dict())
    except StaleWrite:
        if not discard_started_after_close(w, record.backup_id, unit):
            raise


def capture_counts_after(w: Ports, item: BackupItem) -> None:
    """Row counts again once the set is done: with those from before, the window the set was taken in."""
    if not item.row_counts:
        return
    try:
        databases = w.database(item.resource_id, item.engine or "")
        item.row_counts_after = {db: databases.row_counts(db) for db in item.row_counts}
    except Exception as err:  # noqa: BLE001 - best effort: without them the window is the count from before
        logs.event("row counts after the backup skipped", step="poll", resource_id=item.resource_id, reason=str(err))


def _capture_databases(w: Ports, item: BackupItem) -> None:
    """What the restore needs to know: the databases of the instance, and their row counts to verify against."""
    item.databases = [d.name for d in w.rds.databases(item.resource_id) if d.running or not d.status]
    try:
        databases = w.database(item.resource_id, item.engine or "")
        item.row_counts = {db: databases.row_counts(db) for db in item.databases}
    except (ValidationError, CloudError) as err:     # no account configured, or no connection: verify by presence
        logs.event("row counts skipped", step="start", resource_id=item.resource_id, reason=str(err))


def _start_rds(w: Ports, stored: StoredRecord, item: BackupItem) -> None:
    """CreateBackup has no ClientToken: mark the intent first, and after a crash adopt the job it started. Only a
    manual task that was not already running at the intent can be ours: automatic tasks (the instance's backup
    policy) and tasks started by others before are never adopted."""
    if not item.databases:
        _capture_databases(w, item)
    if item.starting:
        running = [j for j in w.rds.running_backup_jobs(item.resource_id)
                   if j.mode == "Manual" and j.job_id not in item.jobs_before]
        if running:
            item.status, item.job_id, item.wait_reason = ItemStatus.RUNNING, running[0].job_id, None
            item.starting = False
            return
        finished = w.rds.manual_backups_since(item.resource_id, item.started_at or time.time() - 3600)
        if finished:               # the job it started has already ended: adopt its backup set
            item.status, item.artifact_id, item.progress = ItemStatus.SUCCEEDED, finished[0], 100
            item.wait_reason, item.starting = None, False
            record_backup_set(w, item)
            return
    else:
        item.jobs_before = [j.job_id for j in w.rds.running_backup_jobs(item.resource_id)]
        item.starting, item.started_at = True, time.time()
        w.records.write_item(stored, item.resource_id, item.to_dict())
    retention = w.settings.rds_backup_retention_days if item.engine == "MySQL" else None
    try:
        item.job_id = w.rds.create_backup(item.resource_id, retention)
        item.starting = False
    except CloudError as err:
        if not w.rds.backup_must_wait(err):
            raise
        # Refused before it was applied (another backup task runs, e.g. an automatic one; the instance is not
        # Running): nothing to adopt. The next poll rounds ask again until the RDS deadline.
        item.starting, item.started_at, item.jobs_before = False, None, []
        item.wait_reason = f"{err.code}: {err.message}"
        w.records.write_item(stored, item.resource_id, item.to_dict())
        logs.event("rds backup waits", step="start", resource_id=item.resource_id, code=err.code,
                   request_id=err.request_id)
        return
    item.status, item.wait_reason = ItemStatus.RUNNING, None


def record_backup_set(w: Ports, item: BackupItem) -> None:
    """What the finished set's entry says: when the cloud deletes it (ExpectExpireTime), and for MySQL whether
    RestoreTable can use it (MetaStatus OK; "" means taken without database/table restore, LARGE too many
    tables). Unknown facts stay None rather than failing a finished backup."""
    try:
        found = w.rds.backup_set(item.resource_id, item.artifact_id or "")
    except CloudError as err:
        logs.event("backup set facts unknown", step="poll", resource_id=item.resource_id, code=err.code)
        return
    if found is None:
        return
    item.expires_at = found.expires_at
    item.size_bytes = found.size_bytes
    if item.engine == "MySQL" and found.meta_status != "OK":
        item.restorable = False
        item.restorable_reason = (f"MetaStatus {found.meta_status!r}: the backup set was taken without database "
                                  f"and table restore enabled (or holds too many tables), so RestoreTable "
                                  f"cannot restore from it")
    else:
        item.restorable, item.restorable_reason = True, None
