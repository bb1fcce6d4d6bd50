"""The backup flow's Prepare step: count the start batches."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from . import StepInput, StepOutput


@dataclass(frozen=True)
class PrepareInput(StepInput):
    """The backup to prepare."""
    BackupId: str


class PrepareState(str, Enum):
    """Where the backup flow goes after Prepare."""
    START = "Start"          # no quiesce hooks: start every batch
    FREEZE = "Freeze"        # run the pre hooks first (the Freeze step), then start every batch, then thaw

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class PrepareOutput(StepOutput):
    """The batches the flow's Map state starts, and whether the instances are frozen first."""
    TRANSITIONS: ClassVar[int] = 4      # Route, Prepare, Quiesced, StartAll (or Freeze)
    STATES: ClassVar[type[Enum]] = PrepareState
    BackupId: str
    Batches: list[dict[str, int]]      # [{"Batch": n}]: the Map state's items
    State: PrepareState = PrepareState.START
