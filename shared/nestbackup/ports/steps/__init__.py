"""The contract between the flows (flows/*.yaml) and the functions they invoke: one module per step, holding its
input (the `body` the flow sends) and output (what the flow reads as `$Output.Body.X`) as dataclasses, the states the
step routes on, and the flow state transitions one run of the step takes (`TRANSITIONS`, for the record's cost): each
state entered counts once, and belongs to exactly one step (a step counts the states the flow passes through up to the
next step; the continuation's Route of a later generation is not counted). UNCONFIRMED how CloudFlow counts the
states of a Map's iterations; `bench/record_cost.py` compares the sum with the local CloudFlow's count.

Handlers parse their event with `<Input>.from_event`; operations build their answer as the step's output dataclass.
A step's module is imported by the step alone (its handler branch and its operation), so a cold start creates only
its own step's dataclasses (each costs some 1 ms on python3.10). `table.STEPS` maps every function's steps to their
input and output; `scripts/flowcheck.py` checks every flow against it: each `body` key is a field of the step's input,
and each `$Output.Body.X` a field of its output, and each Choice compares `State` only with the step's declared
states.
"""
from __future__ import annotations

from dataclasses import MISSING, asdict, fields
from enum import Enum
from typing import Any, ClassVar, Mapping, TypeVar

from ...errors import ValidationError

T = TypeVar("T", bound="StepInput")

# The functions the flows invoke. The backup's and the restore's steps each share one function so that an operation
# pays one cold start, not one per step: FC reuses the warm instance from step to step. The db-rename function runs
# one step and takes no Step.
BACKUP_STEPS = "nestbackup-backup-steps"
RESTORE_STEPS = "nestbackup-restore-steps"
DB_RENAME = "nestbackup-db-rename"


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


def step_of(function: str, steps: Mapping[str, object], body: dict[str, Any]) -> str:
    """The step a flow asks `function` to run, one of `steps` (its dispatch table's keys; `table.STEPS` holds the
    same, checked by the unit tests); ValidationError for one it does not have."""
    step = body.get("Step")
    if not isinstance(step, str) or step not in steps:
        raise ValidationError(f"{function} has no step {step!r}: one of {', '.join(map(str, steps))}")
    return step
