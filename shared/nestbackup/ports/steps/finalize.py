"""The backup flow's Finalize step: aggregate, close the record, release the lock."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from . import StepInput, StepOutput


@dataclass(frozen=True)
class FinalizeInput(StepInput):
    """The backup to close; `Error` when the flow's Catch runs it."""
    BackupId: str
    Error: dict[str, Any] | None = None     # from the flow's Catch: every item not final fails with this cause


@dataclass(frozen=True)
class FinalizeOutput(StepOutput):
    """The backup's status as it closed."""
    TRANSITIONS: ClassVar[int] = 0      # Finalize was counted by the Poll that routed to it
    TRANSITIONS_AFTER_ERROR: ClassVar[int] = 2      # FinalizeAfterError, BackupFailed
    BackupId: str
    Status: str
