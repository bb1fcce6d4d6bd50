"""The restore flow's Advance step: one step of the restore's current phase, and what the flow does next."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from . import StepInput, StepOutput


class AdvanceState(str, Enum):
    """What the restore flow does after an advance step."""
    DONE = "Done"
    WAIT = "Wait"
    RENAME = "Rename"        # run the db-rename function

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class AdvanceInput(StepInput):
    """The restore to advance and its round."""
    RestoreId: str
    Round: int = 0


@dataclass(frozen=True)
class AdvanceOutput(StepOutput):
    """Where the flow goes after the step."""
    TRANSITIONS: ClassVar[int] = 3      # Advance, Route, then Pause, Rename or Finished
    STATES: ClassVar[type[Enum]] = AdvanceState
    RestoreId: str
    State: AdvanceState
    Wait: int
    Round: int
