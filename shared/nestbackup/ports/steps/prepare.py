"""The backup flow's Prepare step: count the start batches."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from . import StepInput, StepOutput


@dataclass(frozen=True)
class PrepareInput(StepInput):
    """The backup to prepare."""
    BackupId: str


@dataclass(frozen=True)
class PrepareOutput(StepOutput):
    """The batches the flow's Map state starts."""
    TRANSITIONS: ClassVar[int] = 3      # Route, Prepare, StartAll
    BackupId: str
    Batches: list[dict[str, int]]      # [{"Batch": n}]: the Map state's items
