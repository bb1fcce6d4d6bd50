"""The contract between the flows (flows/*.yaml) and the functions they invoke: one dataclass per step's input
(the `body` the flow sends) and output (what the flow reads as `$Output.Body.X`), the states a step routes on, and
the flow state transitions one run of the step takes (`TRANSITIONS`, for the record's cost): each state entered counts
once, and belongs to exactly one step (a step counts the states the flow passes through up to the next step; the
continuation's Route of a later generation is not counted). UNCONFIRMED how CloudFlow counts the states of a Map's
iterations; `bench/record_cost.py` compares the sum with the local CloudFlow's count.

Handlers parse their event with `<Input>.from_event`; operations build their answer as the step's output dataclass.
`scripts/flowcheck.py` checks every flow against these: each `body` key is a field of the step's input, and each
`$Output.Body.X` a field of its output, and each Choice compares `State` only with the step's declared states.
"""
from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from enum import Enum
from typing import Any, ClassVar, TypeVar

from ..errors import ValidationError

T = TypeVar("T", bound="StepInput")


class PollState(str, Enum):
    """What the backup flow does after a poll round."""
    DONE = "Done"            # every item is final: finalize
    WAIT = "Wait"            # wait `Wait` seconds, poll again
    CONTINUE = "Continue"    # this execution spent its event budget; the next generation was started

    def __str__(self) -> str:
        return str(self.value)


class AdvanceState(str, Enum):
    """What the restore flow does after an advance step."""
    DONE = "Done"
    WAIT = "Wait"
    RENAME = "Rename"        # run the db-rename function

    def __str__(self) -> str:
        return str(self.value)


class StepInput:
    """A step's input: built from the event the flow sends, with the fields checked (a malformed event is a
    ValidationError, never a KeyError). Each step's input is a frozen dataclass of its fields; this base holds none,
    so it is a plain class (a dataclass costs its generated methods' compilation on every cold start)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]      # set on each step's dataclass (for fields() and asdict())

    @classmethod
    def from_event(cls: type[T], body: dict[str, Any]) -> T:
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in body and body[f.name] is not None:
                raw = body[f.name]
                if f.type in ("int", int):
                    try:
                        raw = int(raw)
                    except (TypeError, ValueError):
                        raise ValidationError(f"{f.name} must be a whole number") from None
                elif f.type in ("str", str) and not isinstance(raw, str):
                    raise ValidationError(f"{f.name} must be a string")
                values[f.name] = raw
            elif f.default is MISSING and f.default_factory is MISSING:      # required and absent
                raise ValidationError(f"the step's input needs {f.name}")
        return cls(**values)


class StepOutput:
    """A step's output (each a frozen dataclass of its fields; the base a plain class, as StepInput)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    TRANSITIONS: ClassVar[int] = 1

    def to_event(self) -> dict[str, Any]:
        return {k: str(v) if isinstance(v, Enum) else v for k, v in asdict(self).items()}


# -- the backup flow
@dataclass(frozen=True)
class PrepareInput(StepInput):
    BackupId: str


@dataclass(frozen=True)
class PrepareOutput(StepOutput):
    TRANSITIONS: ClassVar[int] = 3      # Route, Prepare, StartAll
    BackupId: str
    Batches: list[dict[str, int]]      # [{"Batch": n}]: the Map state's items


@dataclass(frozen=True)
class StartBatchInput(StepInput):
    BackupId: str
    Batch: int = 0


@dataclass(frozen=True)
class StartBatchOutput(StepOutput):
    BackupId: str
    Batch: int
    Started: int
    Failed: int


@dataclass(frozen=True)
class PollInput(StepInput):
    BackupId: str
    Round: int = 0
    Generation: int = 1


@dataclass(frozen=True)
class PollOutput(StepOutput):
    TRANSITIONS: ClassVar[int] = 3      # Poll, Check, then Pause, Finalize or ContinuedInNextGeneration
    STATES: ClassVar[type[Enum]] = PollState
    BackupId: str
    State: PollState
    Wait: int
    Round: int
    Generation: int


@dataclass(frozen=True)
class FinalizeInput(StepInput):
    BackupId: str
    Error: dict[str, Any] | None = None     # from the flow's Catch: every item not final fails with this cause


@dataclass(frozen=True)
class FinalizeOutput(StepOutput):
    TRANSITIONS: ClassVar[int] = 0      # Finalize was counted by the Poll that routed to it
    TRANSITIONS_AFTER_ERROR: ClassVar[int] = 2      # FinalizeAfterError, BackupFailed
    BackupId: str
    Status: str


# -- the restore flow
@dataclass(frozen=True)
class AdvanceInput(StepInput):
    RestoreId: str
    Round: int = 0


@dataclass(frozen=True)
class AdvanceOutput(StepOutput):
    TRANSITIONS: ClassVar[int] = 3      # Advance, Route, then Pause, Rename or Finished
    STATES: ClassVar[type[Enum]] = AdvanceState
    RestoreId: str
    State: AdvanceState
    Wait: int
    Round: int


@dataclass(frozen=True)
class RenameInput(StepInput):
    RestoreId: str


@dataclass(frozen=True)
class RenameOutput(StepOutput):
    TRANSITIONS: ClassVar[int] = 0      # Rename was counted by the Advance that routed to it
    RestoreId: str
    Phase: str


@dataclass(frozen=True)
class RecoverInput(StepInput):
    RestoreId: str
    Error: dict[str, Any] | None = None     # from the flow's Catch


@dataclass(frozen=True)
class RecoverOutput(StepOutput):
    TRANSITIONS: ClassVar[int] = 2      # Recover, the end state
    RestoreId: str
    Status: str


# The function each step runs, and each step's input and output, by the `Step` the flow's body names (the
# db-rename function runs one step and takes no Step). The backup's and the restore's steps each share one function
# so that an operation pays one cold start, not one per step: FC reuses the warm instance from step to step.
BACKUP_STEPS = "nestbackup-backup-steps"
RESTORE_STEPS = "nestbackup-restore-steps"
DB_RENAME = "nestbackup-db-rename"
STEPS: dict[str, dict[str | None, tuple[type[StepInput], type[StepOutput]]]] = {
    BACKUP_STEPS: {"Prepare": (PrepareInput, PrepareOutput), "Start": (StartBatchInput, StartBatchOutput),
                   "Poll": (PollInput, PollOutput), "Finalize": (FinalizeInput, FinalizeOutput)},
    RESTORE_STEPS: {"Advance": (AdvanceInput, AdvanceOutput), "Recover": (RecoverInput, RecoverOutput)},
    DB_RENAME: {None: (RenameInput, RenameOutput)},
}


def step_of(function: str, body: dict[str, Any]) -> str | None:
    """The step a flow asks `function` to run; ValidationError for one it does not have."""
    step = body.get("Step")
    if step not in STEPS[function]:
        raise ValidationError(f"{function} has no step {step!r}: one of {', '.join(map(str, STEPS[function]))}")
    return step
