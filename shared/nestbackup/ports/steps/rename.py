"""The restore flow's db-rename step: rename the restored databases into their names."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from . import StepInput, StepOutput


@dataclass(frozen=True)
class RenameInput(StepInput):
    """The restore whose databases to rename."""
    RestoreId: str


@dataclass(frozen=True)
class RenameOutput(StepOutput):
    """The restore's phase after the renames."""
    TRANSITIONS: ClassVar[int] = 0      # Rename was counted by the Advance that routed to it
    RestoreId: str
    Phase: str
