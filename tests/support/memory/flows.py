"""The flows port (CloudFlow) in memory: executions are recorded, not run; the operation tests run them with the
flow player (tests/support/flowplay.py), which sets their status when they end."""
from __future__ import annotations

from dataclasses import asdict

from nestbackup.ports.flows import Execution, FlowInput, generations

from .compute import Refusals


class MemoryFlows:
    def __init__(self) -> None:
        self.refusals = Refusals()
        self.executions: dict[tuple[str, str], dict] = {}      # (flow, name) -> {"status", "input"}

    def start_once(self, flow: str, name: str, start: FlowInput) -> bool:
        self.refusals.call("StartExecution")
        found = self.executions.get((flow, name))
        if found:                       # a running one answers as started; one that ended, as already run
            return found["status"] in ("Starting", "Running")
        self.executions[(flow, name)] = {"status": "Running", "input": asdict(start)}
        return True

    def describe(self, flow: str, name: str) -> Execution | None:
        self.refusals.call("DescribeExecution")
        found = self.executions.get((flow, name))
        return Execution(name, found["status"]) if found else None

    def stop(self, flow: str, name: str, cause: str) -> bool:
        self.refusals.call("StopExecution")
        found = self.executions.get((flow, name))
        if not found or found["status"] not in ("Starting", "Running"):
            return False
        found["status"] = "Stopped"
        return True

    def stop_generations(self, flow: str, record_id: str, cause: str, limit: int = 1000) -> list[str]:
        return [e.name for e in generations(self, flow, record_id, limit)
                if e.running and self.stop(flow, e.name, cause)]

    def end(self, flow: str, name: str, status: str = "Succeeded") -> None:
        self.executions[(flow, name)]["status"] = status
