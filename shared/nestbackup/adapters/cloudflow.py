"""CloudFlow (FNF 2019-03-15): the flows port (`ports.flows.Flows`): start a flow execution once per record, read
its status, stop it."""
from __future__ import annotations

import json
from dataclasses import asdict

from ..errors import CloudError
from ..ports.flows import Execution, FlowInput, generations
from .openapi import RpcClient

VERSION = "2019-03-15"
# StartExecution of a name whose execution has ended (API reference, StartExecution usage notes).
ALREADY_EXISTS = "ExecutionAlreadyExists"
# No such execution (the code the Terraform provider's alicloud_fnf_schedule expects).
NOT_FOUND = ("ExecutionNotExists",)
# StopExecution of an execution that has ended. UNCONFIRMED: the code comes from the project's brief, no public
# source found; `stop` treats it as "already over", and `stop_running` only stops what DescribeExecution says runs.
ALREADY_COMPLETED = "ExecutionAlreadyCompleted"


class CloudFlow:
    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc

    def start_once(self, flow: str, name: str, start: FlowInput) -> bool:
        """Start an execution named after the record. True if this call started it; False if an execution of
        that name already ran (the record's own state says what happened then). A running one answers as started."""
        try:
            self.rpc.call("StartExecution", {"FlowName": flow, "ExecutionName": name,
                                             "Input": json.dumps(asdict(start))})
            return True
        except CloudError as err:
            if err.code == ALREADY_EXISTS:
                return False
            raise

    def describe(self, flow: str, name: str) -> Execution | None:
        try:
            body = self.rpc.call("DescribeExecution", {"FlowName": flow, "ExecutionName": name}, method="GET")
        except CloudError as err:
            if err.code in NOT_FOUND:
                return None
            raise
        return Execution(body.get("Name", name), body.get("Status", ""), body.get("Output"))

    def stop(self, flow: str, name: str, cause: str) -> bool:
        """Stop a running execution; False if it has already ended or does not exist."""
        try:
            self.rpc.call("StopExecution", {"FlowName": flow, "ExecutionName": name,
                                            "Error": "Cancelled", "Cause": cause[:4096]})
            return True
        except CloudError as err:
            if err.code == ALREADY_COMPLETED or err.code in NOT_FOUND:
                return False
            raise

    def stop_generations(self, flow: str, record_id: str, cause: str, limit: int = 1000) -> list[str]:
        """Stop every running generation of a record, in whatever order they ended; the names stopped."""
        return [e.name for e in generations(self, flow, record_id, limit)
                if e.running and self.stop(flow, e.name, cause)]
