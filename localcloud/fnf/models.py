"""CloudFlow / Serverless Workflow (FNF API 2019-03-15) for the unmodified `alibabacloud_fnf20190315` SDK: the API
actions.

Flows come from a directory (flowfiles.py): a file that does not validate makes StartExecution/DescribeFlow of its
name answer 400 `InvalidDefinition` with the validator's message. Executions run on background threads
(runner.py) through `interpreter.Interpreter`, calling handlers in-process (`functions.Functions`); they are stored
as history.py describes, and resume after a server restart.

API behaviour and its sources (see docs/cloud-fidelity.md, CloudFlow):
- StartExecution with the name of a running execution answers that execution; with the name of an ended one
  `ExecutionAlreadyExists` (API reference, StartExecution usage notes). Names: 1-128 characters [A-Za-z0-9_-],
  starting with a letter or an underscore (SDK `StartExecutionRequest` docstring).
- StopExecution of an execution that has ended answers `ExecutionAlreadyCompleted` (HTTP status
  `STOP_ENDED_HTTP_STATUS`, UNCONFIRMED); `Error` is at most 128 characters and `Cause` at most 4,096 (SDK
  `StopExecutionRequest` docstring).
- Unknown flow `FlowNotExists`, unknown execution `ExecutionNotExists` (codes as the Terraform provider's
  alicloud_fnf_schedule expects them). The HTTP statuses of these errors are UNCONFIRMED constants below.
- Paging (SDK request docstrings): ListExecutions `Limit` 1-99, default 60; ListFlows and GetExecutionHistory
  `Limit` 1-999, default 60. `NextToken` is the next execution name, flow name or EventId (the real token's form is
  opaque to callers).
- API rate limits: a token bucket per operation, as documented (ratelimits.py); a call past them is refused.
- DescribeExecution has no error fields in the SDK model: a failed execution's Code and Detail are in its
  `ExecutionFailed` history event (`EventDetail` `{"error": .., "cause": ..}`); Output is set only on success.

Counts in /_local/stats: `flow:executions` (executions started) and those of runner.py.
"""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from ..core.context import CloudContext
from ..core.errors import ServiceError
from ..core.product import Product
from ..core.rpc import RpcRequest
from .definition import NAME_RE
from .flowfiles import FlowFile, FlowFiles
from .functions import Functions
from .history import EXECUTION, TERMINAL, append_event, event_count, event_page, execution_key, timestamp_ms
from .interpreter import MAX_STATE_BYTES, json_size
from .ratelimits import RateLimits
from .runner import MAX_EVENTS, Runner

# UNCONFIRMED HTTP statuses (the codes have sources, the statuses do not): StopExecution's ExecutionAlreadyCompleted,
# StartExecution's ExecutionAlreadyExists, FlowNotExists and ExecutionNotExists.
STOP_ENDED_HTTP_STATUS, ALREADY_EXISTS_HTTP_STATUS, NOT_FOUND_HTTP_STATUS = 400, 400, 404
# UNCONFIRMED: what CreateFlow/UpdateFlow answer for a definition breaking a documented rule; flows come from
# files here, so the refusal shows at StartExecution/DescribeFlow of the name.
INVALID_DEFINITION = "InvalidDefinition"
LIST_EXECUTIONS_LIMIT = (60, 1, 99)     # default, min, max: SDK ListExecutionsRequest docstring
LIST_LIMIT = (60, 1, 999)               # ListFlows, GetExecutionHistory: their SDK request docstrings
MAX_STOP_ERROR, MAX_STOP_CAUSE = 128, 4096
_REPO = Path(__file__).resolve().parents[2]


def _invalid(message: str) -> ServiceError:
    return ServiceError("InvalidArgument", message, 400)


def _limit(req: RpcRequest, default: int, lo: int, hi: int) -> int:
    raw = req.get("Limit")
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise _invalid(f"Limit must be an integer from {lo} to {hi}, got {raw!r}")
    return int(raw)


class Fnf(Product):
    name = "fnf"
    version = "2019-03-15"
    ACTIONS = frozenset({"StartExecution", "DescribeExecution", "StopExecution", "GetExecutionHistory",
                         "ListExecutions", "DescribeFlow", "ListFlows"})

    def __init__(self, cloud: CloudContext, flows_dir: str | Path | None = None,
                 wait_scale: float = 1.0, max_events: int = MAX_EVENTS, max_state_bytes: int = MAX_STATE_BYTES):
        super().__init__(cloud)
        if flows_dir is None and (_REPO / "flows").is_dir():
            flows_dir = _REPO / "flows"
        self.flow_files = FlowFiles(Path(flows_dir) if flows_dir else None)
        self.max_state_bytes = max_state_bytes
        # deployed from s.yaml by localcloud.fc
        self.functions = Functions(cloud.region, cloud.credentials, cloud.account_id, ram=cloud.ram)
        self.runner = Runner(cloud, self.functions, float(wait_scale), max_events, max_state_bytes)
        self.rate_limits = RateLimits()

    def dispatch(self, req: RpcRequest) -> dict[str, Any]:
        if req.action in self.ACTIONS:
            self.rate_limits.take(req.action)
        return super().dispatch(req)

    @property
    def max_events(self) -> int:
        """The history events one execution may record (tests lower it)."""
        return self.runner.max_events

    @max_events.setter
    def max_events(self, value: int) -> None:
        self.runner.max_events = value

    # -- for tests and embedders
    def register_function(self, name: str, fn: Callable[[bytes, Any], Any]) -> None:
        """Serve function `name` with `fn(event: bytes, context)` instead of the handler s.yaml deployed."""
        self.functions.register(name, fn)

    def flow_errors(self) -> dict[str, str]:
        """Definition files that do not validate: name (or file) -> message."""
        return {f.name: f.error for f in self.flow_files.files() if f.error}

    def running(self) -> list[str]:
        return self.runner.running()

    def resume(self) -> None:
        self.runner.resume()

    # -- flows
    def _flow(self, name: str | None) -> FlowFile:
        if not name:
            raise ServiceError("MissingParameter", "The input parameter \"FlowName\" that is mandatory for "
                                                   "processing this request is not supplied.", 400)
        for f in self.flow_files.files():
            if f.name == name:
                if f.error:
                    raise ServiceError(INVALID_DEFINITION, f.error, 400)
                return f
        raise ServiceError("FlowNotExists", f"flow {name} does not exist", NOT_FOUND_HTTP_STATUS)

    @staticmethod
    def _flow_view(f: FlowFile) -> dict[str, Any]:
        created = timestamp_ms(f.stamp[0] / 1e9)
        return {"Name": f.name, "Definition": f.text, "Description": f.flow.description if f.flow else "",
                "Id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"localcloud-flow:{f.name}")), "Type": "FDL",
                "ExecutionMode": "Standard", "RoleArn": "", "CreatedTime": created, "LastModifiedTime": created}

    def DescribeFlow(self, req: RpcRequest) -> dict[str, Any]:
        return self._flow_view(self._flow(req.require("Name")))

    def ListFlows(self, req: RpcRequest) -> dict[str, Any]:
        limit = _limit(req, *LIST_LIMIT)
        flows = sorted((f for f in self.flow_files.files() if not f.error), key=lambda f: f.name)
        token = req.get("NextToken")
        if token:
            flows = [f for f in flows if f.name >= token]
        page = flows[:limit]
        out: dict[str, Any] = {"Flows": [self._flow_view(f) for f in page]}
        if len(flows) > limit:
            out["NextToken"] = flows[limit].name
        return out

    # -- executions
    def _get(self, req: RpcRequest) -> dict[str, Any]:
        flow, name = req.require("FlowName"), req.require("ExecutionName")
        doc = self.cloud.store.get(EXECUTION, execution_key(flow, name))
        if doc is None:
            if not any(f.name == flow for f in self.flow_files.files()):
                raise ServiceError("FlowNotExists", f"flow {flow} does not exist", NOT_FOUND_HTTP_STATUS)
            raise ServiceError("ExecutionNotExists", f"execution {name} of flow {flow} does not exist",
                               NOT_FOUND_HTTP_STATUS)
        return doc

    @staticmethod
    def _view(doc: dict[str, Any], metadata_only: bool = False) -> dict[str, Any]:
        out = {"Name": doc["Name"], "FlowName": doc["FlowName"], "Status": doc["Status"],
               "StartedTime": doc["StartedTime"]}
        if doc.get("StoppedTime"):
            out["StoppedTime"] = doc["StoppedTime"]
        if not metadata_only:
            out["Input"] = doc["Input"]
            out["FlowDefinition"] = doc["FlowDefinition"]
            if doc.get("Output") is not None:
                out["Output"] = doc["Output"]
        return out

    def StartExecution(self, req: RpcRequest) -> dict[str, Any]:
        flow_file = self._flow(req.require("FlowName"))
        name = req.get("ExecutionName") or f"exec-{uuid.uuid4().hex}"
        if not NAME_RE.match(name):
            raise _invalid(f"ExecutionName {name!r} must be 1-128 characters [A-Za-z0-9_-] starting with a letter or "
                           f"an underscore")
        raw = req.get("Input") or "{}"
        try:
            data = json.loads(raw)
        except ValueError:
            raise _invalid("Input must be a JSON object string") from None
        if not isinstance(data, dict):
            raise _invalid("Input must be a JSON object")
        if json_size(data) > self.max_state_bytes:
            raise _invalid(f"Input is {json_size(data)} bytes of JSON, over the limit of {self.max_state_bytes}")
        key = execution_key(flow_file.name, name)
        store = self.cloud.store
        with store.tx():
            doc = store.get(EXECUTION, key)
            if doc is not None:
                if doc["Status"] in TERMINAL:
                    raise ServiceError("ExecutionAlreadyExists",
                                       f"execution {name} of flow {flow_file.name} already exists and is "
                                       f"{doc['Status']}", ALREADY_EXISTS_HTTP_STATUS)
                return self._view(doc)
            doc = {"Name": name, "FlowName": flow_file.name, "Status": "Running", "Input": raw,
                   "StartedTime": timestamp_ms(), "StoppedTime": None, "Output": None, "FlowDefinition": flow_file.text,
                   "ErrorCode": None, "ErrorMessage": None, "current": None, "current_input": None,
                   "wait_until": None}
            store.put(EXECUTION, key, doc)
            append_event(store, key, 1, "ExecutionStarted", "", {"input": data})
        self.cloud.stats.count("flow:executions")
        self.runner.launch(key, next_event=2, resumed=False)
        return self._view(doc)

    def DescribeExecution(self, req: RpcRequest) -> dict[str, Any]:
        wait = req.get_int("WaitTimeSeconds", 0, 0, 60)
        deadline = time.monotonic() + wait
        doc = self._get(req)
        while doc["Status"] not in TERMINAL and not self.cloud.stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.runner.wait_for_change(min(remaining, 0.25))
            doc = self._get(req)
        return self._view(doc)

    def StopExecution(self, req: RpcRequest) -> dict[str, Any]:
        doc = self._get(req)
        key = execution_key(doc["FlowName"], doc["Name"])
        error, cause = req.get("Error", ""), req.get("Cause", "")
        if len(error) > MAX_STOP_ERROR or len(cause) > MAX_STOP_CAUSE:
            raise _invalid(f"Error must be at most {MAX_STOP_ERROR} characters and Cause at most {MAX_STOP_CAUSE}")
        if doc["Status"] in TERMINAL:
            raise self._already_completed(doc)
        self.runner.cancel(key)  # after this the runner records nothing more: the event ids stay ours
        store = self.cloud.store
        with store.tx():
            doc = store.get(EXECUTION, key)
            if doc["Status"] != "Running":      # it ended while we got here
                raise self._already_completed(doc)
            doc.update(Status="Stopped", StoppedTime=timestamp_ms(), ErrorCode=error or None,
                       ErrorMessage=cause or None)
            store.put(EXECUTION, key, doc)
            append_event(store, key, event_count(store, key) + 1, "ExecutionStopped", "",
                         {"error": error, "cause": cause})
        self.runner.notify()
        return self._view(doc)

    @staticmethod
    def _already_completed(doc: dict[str, Any]) -> ServiceError:
        return ServiceError("ExecutionAlreadyCompleted", f"execution {doc['Name']} of flow {doc['FlowName']} has "
                                                         f"already ended ({doc['Status']})", STOP_ENDED_HTTP_STATUS)

    def ListExecutions(self, req: RpcRequest) -> dict[str, Any]:
        flow = self._flow(req.require("FlowName")).name
        limit = _limit(req, *LIST_EXECUTIONS_LIMIT)
        status, prefix = req.get("Status"), req.get("ExecutionNamePrefix")
        begin, end = req.get("StartedTimeBegin"), req.get("StartedTimeEnd")
        docs = self.cloud.store.find(EXECUTION, lambda d: d["FlowName"] == flow)
        docs = [d for d in docs if (not status or d["Status"] == status)
                and (not prefix or d["Name"].startswith(prefix))
                and (not begin or d["StartedTime"] >= begin) and (not end or d["StartedTime"] <= end)]
        token = req.get("NextToken")
        if token:
            names = [d["Name"] for d in docs]
            if token not in names:
                raise _invalid(f"NextToken {token!r} is not valid")
            docs = docs[names.index(token):]
        metadata_only = req.get_bool("MetadataOnly", False)
        out: dict[str, Any] = {"Executions": [self._view(d, metadata_only) for d in docs[:limit]]}
        if len(docs) > limit:
            out["NextToken"] = docs[limit]["Name"]
        return out

    def GetExecutionHistory(self, req: RpcRequest) -> dict[str, Any]:
        doc = self._get(req)
        key = execution_key(doc["FlowName"], doc["Name"])
        limit = _limit(req, *LIST_LIMIT)
        token = req.get("NextToken") or "1"
        if not token.isdigit():
            raise _invalid(f"NextToken {token!r} is not valid")
        events = event_page(self.cloud.store, key, int(token), limit + 1)
        out: dict[str, Any] = {"Events": events[:limit]}
        if len(events) > limit:
            out["NextToken"] = str(events[limit]["EventId"])
        return out
