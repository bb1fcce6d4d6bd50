"""The backup flow's Start step: start the snapshots and RDS backups of one batch."""
from __future__ import annotations

from dataclasses import dataclass

from . import StepInput, StepOutput


@dataclass(frozen=True)
class StartBatchInput(StepInput):
    """One of the batches Prepare counted."""
    BackupId: str
    Batch: int = 0


@dataclass(frozen=True)
class StartBatchOutput(StepOutput):
    """How many of the batch's units started and failed."""
    BackupId: str
    Batch: int
    Started: int
    Failed: int
