"""CloudFlow (FNF 2019-03-15): start a flow execution once per record, and read its status."""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import CloudError
from .openapi import RpcClient

VERSION = "2019-03-15"


@dataclass(frozen=True)
class Execution:
    name: str
    status: str               # Starting | Running | Stopped | Succeeded | Failed | TimedOut
    output: str | None = None


class CloudFlow:
    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc

    def start_once(self, flow: str, execution_name: str, payload: dict) -> bool:
        """Start an execution named after the record. True if this call started it; False if an execution of
        that name already runs or ran (the record's own state says what happened then)."""
        try:
            self.rpc.call("StartExecution", {"FlowName": flow, "ExecutionName": execution_name,
                                             "Input": json.dumps(payload)})
            return True
        except CloudError as err:
            if err.code == "ExecutionAlreadyExists":
                return False
            raise

    def describe(self, flow: str, execution_name: str) -> Execution | None:
        try:
            body = self.rpc.call("DescribeExecution", {"FlowName": flow, "ExecutionName": execution_name},
                                 method="GET")
        except CloudError as err:
            if err.code in ("ExecutionNotExists", "ExecutionNotFound"):
                return None
            raise
        return Execution(body.get("Name", execution_name), body.get("Status", ""), body.get("Output"))

    def stop(self, flow: str, execution_name: str, cause: str) -> bool:
        """Stop a running execution; False if it is not running (or does not exist)."""
        try:
            self.rpc.call("StopExecution", {"FlowName": flow, "ExecutionName": execution_name,
                                            "Error": "Cancelled", "Cause": cause[:256]})
            return True
        except CloudError as err:
            if err.code in ("ExecutionNotExists", "ExecutionNotFound", "InvalidArgument", "ExecutionStopped"):
                return False
            raise
