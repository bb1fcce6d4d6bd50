"""The drill flow's steps (flows/drill.yaml): DrillAdvance, one round of the drill (restore into scratch, check,
clean up), and DrillClose, the flow's Catch (clean up and close the record as Failed)."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from . import StepInput, StepOutput


class DrillState(str, Enum):
    """What the drill flow does after a round."""
    DONE = "Done"
    WAIT = "Wait"

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class DrillAdvanceInput(StepInput):
    """The drill to advance and its round."""
    DrillId: str
    Round: int = 0


@dataclass(frozen=True)
class DrillAdvanceOutput(StepOutput):
    """Where the flow goes after the round."""
    TRANSITIONS: ClassVar[int] = 3      # DrillAdvance, Route, then Pause or Finished
    STATES: ClassVar[type[Enum]] = DrillState
    DrillId: str
    State: DrillState
    Wait: int
    Round: int


@dataclass(frozen=True)
class DrillCloseInput(StepInput):
    """The drill to clean up and close; `Error` from the flow's Catch."""
    DrillId: str
    Error: dict[str, Any] | None = None


@dataclass(frozen=True)
class DrillCloseOutput(StepOutput):
    """The drill's status as the step left it (Running while its cleanup is not over: the sweeper finishes it)."""
    TRANSITIONS: ClassVar[int] = 2      # DrillClose, the end state
    DrillId: str
    Status: str
