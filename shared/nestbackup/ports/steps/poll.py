"""The backup flow's Poll step: one round over every running item, and what the flow does next."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from . import StepInput, StepOutput


class PollState(str, Enum):
    """What the backup flow does after a poll round."""
    DONE = "Done"            # every item is final: finalize
    WAIT = "Wait"            # wait `Wait` seconds, poll again
    CONTINUE = "Continue"    # this execution spent its event budget; the next generation was started

    def __str__(self) -> str:
        return str(self.value)


@dataclass(frozen=True)
class PollInput(StepInput):
    """The round to run, in the flow's generation (its execution)."""
    BackupId: str
    Round: int = 0
    Generation: int = 1


@dataclass(frozen=True)
class PollOutput(StepOutput):
    """Where the flow goes after the round."""
    TRANSITIONS: ClassVar[int] = 3      # Poll, Check, then Pause, Finalize or ContinuedInNextGeneration
    STATES: ClassVar[type[Enum]] = PollState
    BackupId: str
    State: PollState
    Wait: int
    Round: int
    Generation: int
