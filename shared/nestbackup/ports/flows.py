"""The flows port: start a flow execution once per record, read its status, stop it (CloudFlow), and the typed input
each flow starts with.

The input each flow is started with is declared here, once (`BackupFlowInput`, `RestoreFlowInput`,
`DrillFlowInput`): every field
the flow's states read from the execution input before a state has written it (`$Input.X` in the first states,
`$Context.Execution.Input.X` anywhere). `scripts/flowcheck.py` compares them with flows/*.yaml.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Iterator, Protocol


@dataclass(frozen=True)
class BackupFlowInput:
    """The input of flows/backup.yaml. Generation n > 1 is a continuation execution started by the poll step."""
    DEFINITION: ClassVar[str] = "nestbackup-backup"
    BackupId: str
    Round: int = 0
    Generation: int = 1


@dataclass(frozen=True)
class RestoreFlowInput:
    """The input of flows/restore.yaml."""
    DEFINITION: ClassVar[str] = "nestbackup-restore"
    RestoreId: str
    Round: int = 0


@dataclass(frozen=True)
class DrillFlowInput:
    """The input of flows/drill.yaml."""
    DEFINITION: ClassVar[str] = "nestbackup-drill"
    DrillId: str
    Round: int = 0


FlowInput = BackupFlowInput | RestoreFlowInput | DrillFlowInput
FLOW_INPUTS = (BackupFlowInput, RestoreFlowInput, DrillFlowInput)


def execution_name(record_id: str, generation: int = 1) -> str:
    """The execution of a record's generation: the record id, then `<record id>-g<n>` for continuations."""
    return record_id if generation == 1 else f"{record_id}-g{generation}"


@dataclass(frozen=True)
class Execution:
    """A CloudFlow execution (DescribeExecution)."""
    name: str
    status: str               # Starting | Running | Stopped | Succeeded | Failed | TimedOut
    output: str | None = None

    @property
    def running(self) -> bool:
        """DescribeExecution statuses of a live execution (SDK model docstring)."""
        return self.status in ("Starting", "Running")


def generations(flows: Flows, flow: str, record_id: str, limit: int = 1000) -> Iterator[Execution]:
    """A record's executions in generation order (the first, then its continuations), up to the first that does not
    exist."""
    for generation in range(1, limit):
        execution = flows.describe(flow, execution_name(record_id, generation))
        if execution is None:
            return
        yield execution


class Flows(Protocol):
    def start_once(self, flow: str, name: str, start: FlowInput) -> bool:
        """Start an execution named after the record. True if this call started it; False if an execution of
        that name already ran. A running one answers as started."""
        ...

    def describe(self, flow: str, name: str) -> Execution | None: ...

    def stop(self, flow: str, name: str, cause: str) -> bool: ...

    def stop_generations(self, flow: str, record_id: str, cause: str, limit: int = 1000) -> list[str]:
        """Stop every running generation of a record; the names stopped."""
        ...
