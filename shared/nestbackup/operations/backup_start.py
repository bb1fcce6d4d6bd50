"""The backup flow's start steps: start the cloud work of one batch of units (a snapshot, a snapshot group, an RDS
backup), idempotently, each through its kind's action (operations/kinds): ECS calls carry ClientTokens, and an RDS
backup (CreateBackup takes none) marks its intent first and after a crash adopts only the manual job it started."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..decisions.backup import START_BATCH_UNITS, batch_indexes, start_units
from ..model.status import ItemStatus
from ..ports.steps.prepare import PrepareOutput, PrepareState
from ..ports.steps.start import StartBatchOutput
from .backup_unit import start_unit
from .costs import Meter
from .loading import load_backup, read_backup

if TYPE_CHECKING:
    from ..ports import Ports


def start_batch_count(w: Ports, backup_id: str) -> list[int]:
    return prepare(w, backup_id)[0]


def prepare(w: Ports, backup_id: str) -> tuple[list[int], PrepareState]:
    """The flow's Prepare step: the batches to start, and whether the instances are frozen first (the record took
    quiesce hooks)."""
    meter = Meter(w)
    record = load_backup(w, backup_id)
    batches = batch_indexes(len(start_units(record.items)))
    meter.charge(backup_id, PrepareOutput.TRANSITIONS)
    return batches, PrepareState.FREEZE if record.quiesce else PrepareState.START


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
