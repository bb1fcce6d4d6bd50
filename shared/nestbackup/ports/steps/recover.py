"""The restore flow's Recover step (its Catch): start the instances that were running and close the record."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from . import StepInput, StepOutput


@dataclass(frozen=True)
class RecoverInput(StepInput):
    """The restore to close; `Error` from the flow's Catch."""
    RestoreId: str
    Error: dict[str, Any] | None = None     # from the flow's Catch


@dataclass(frozen=True)
class RecoverOutput(StepOutput):
    """The restore's status as it closed."""
    TRANSITIONS: ClassVar[int] = 2      # Recover, the end state
    RestoreId: str
    Status: str
