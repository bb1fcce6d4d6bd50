"""The backup flow's start steps: start the cloud work of one batch of units (a snapshot, a snapshot group, an RDS
backup), idempotently, each through its kind's action (operations/kinds): ECS calls carry ClientTokens, and an RDS
backup (CreateBackup takes none) marks its intent first and after a crash adopts only the manual job it started."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import logs
from ..decisions.backup import START_BATCH_UNITS, batch_indexes, start_units
from ..errors import CloudError
from ..model.status import ItemStatus
from ..ports.records import StaleWrite, StoredRecord
from ..ports.steps import PrepareOutput, StartBatchOutput
from .artifacts import discard_started_after_close
from .costs import Meter
from .kinds import kind_of
from .loading import load_backup, read_backup, save

if TYPE_CHECKING:
    from ..model.records import BackupItem, BackupRecord
    from ..ports import Ports


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
    kind = kind_of(first)
    if kind is None:            # nothing to back up (Skipped): no step hands such an item over
        return
    w.take_retries()
    try:
        kind.start(w, stored, record, unit)
    except CloudError as err:
        if err.transient:
            # Not applied, or not known to be: the next poll round starts it again, idempotently.
            logs.event("backup start deferred", step="start", record_id=record.backup_id, resource_id=first.resource_id,
                       code=err.code, request_id=err.request_id)
            retried = w.take_retries()
            for item in unit:           # said on the timeline; the item stays as it was
                item.retried = f"deferred to the next round after {', '.join(retried[-3:] or [err.code])}"
            save(w, stored, record)
            return
        for item in unit:
            item.fail(err.code, err.message, err.request_id)
        logs.event("backup start failed", step="start", record_id=record.backup_id, resource_id=first.resource_id,
                   code=err.code, request_id=err.request_id)
    retried = w.take_retries()
    for item in unit:
        if retried:
            item.retried = f"retried after {', '.join(retried[-3:])}" + (f" (+{len(retried) - 3} more)"
                                                                         if len(retried) > 3 else "")
    try:
        save(w, stored, record)
    except StaleWrite:
        if not discard_started_after_close(w, record.backup_id, unit):
            raise

