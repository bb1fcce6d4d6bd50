"""The backup flow's quiesce steps: Freeze (run the pre hooks on every instance and wait for them) before the
snapshots are created, Thaw (run the post hooks) right after they are (operations/backup_hooks.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar

from . import StepInput, StepOutput


class FreezeState(str, Enum):
    """Where the backup flow goes after the pre hooks."""
    FROZEN = "Frozen"        # the pre hooks ran (or failed under OnFailure Continue): create the snapshots
    FAILED = "Failed"        # a pre hook failed under OnFailure Fail (the items fail, naming it): finalize, which thaws

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class FreezeInput(StepInput):
    """The backup to freeze, and the batches Prepare counted (handed on to the Map state)."""
    BackupId: str
    Batches: list[dict[str, int]] = field(default_factory=list)     # [{"Batch": n}]


@dataclass(frozen=True)
class FreezeOutput(StepOutput):
    TRANSITIONS: ClassVar[int] = 3      # Freeze, Frozen, StartAllFrozen (or Finalize)
    STATES: ClassVar[type[Enum]] = FreezeState
    BackupId: str
    Batches: list[dict[str, int]]
    State: FreezeState


@dataclass(frozen=True)
class ThawInput(StepInput):
    """The backup whose snapshots were just created."""
    BackupId: str


@dataclass(frozen=True)
class ThawOutput(StepOutput):
    TRANSITIONS: ClassVar[int] = 1      # Thaw
    BackupId: str
    Round: int = 0
    Generation: int = 1
