"""CloudFlow / Serverless Workflow (FNF API 2019-03-15) for the unmodified `alibabacloud_fnf20190315` SDK.

Flows are the `*.yaml`/`*.yml` files of a directory (the flow name is the file's `Name`), re-read when a file
changes; a file that does not validate makes StartExecution/DescribeFlow of its name answer 400
`InvalidDefinition` with the validator's message. Executions run on background threads of their own (not the
cloud's job pool, which a long Wait would starve) through `interpreter.Interpreter`, calling handlers in-process
(`functions.Functions`).

Durability: an execution is one `fnf.execution` document (status, input, output, the definition it started with,
the top-level state it is in and that state's input, and the wall-clock end of a top-level Wait); each history
event is one `fnf.event` document. The document is written when each top-level state is entered, so a server
killed mid-execution and started again on the same state dir resumes every Running execution from the top-level
state it was in (`resume()`): that state runs again from its start (at-least-once, as CloudFlow Standard; a
Parallel/Map re-runs whole), except that a Wait only waits for what was left.

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
- DescribeExecution has no error fields in the SDK model: a failed execution's Code and Detail are in its
  `ExecutionFailed` history event (`EventDetail` `{"error": .., "cause": ..}`); Output is set only on success.

Counts in /_local/stats: `flow:transitions` (one per state entered, see interpreter.py), `flow:executions`
(executions started), `flow:invocations` (in-process function calls, retries included).
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from ..cloud import Product
from ..core.errors import ServiceError
from ..core.rpc import RpcRequest
from .functions import Functions
from .interpreter import (parse_arn, MAX_EVENTS, MAX_STATE_BYTES, NAME_RE, Cancelled, Flow, FlowDefinitionError, Interpreter,
                          StateError, TerminalError, json_size, load_flow)

log = logging.getLogger("localcloud.fnf")

EXECUTION = "fnf.execution"
EVENT = "fnf.event"
TERMINAL = ("Succeeded", "Failed", "Stopped", "TimedOut")
# UNCONFIRMED HTTP statuses (the codes have sources, the statuses do not): StopExecution's ExecutionAlreadyCompleted,
# StartExecution's ExecutionAlreadyExists, FlowNotExists and ExecutionNotExists.
STOP_ENDED_HTTP_STATUS, ALREADY_EXISTS_HTTP_STATUS, NOT_FOUND_HTTP_STATUS = 400, 400, 404
LIST_EXECUTIONS_LIMIT = (60, 1, 99)     # default, min, max: SDK ListExecutionsRequest docstring
LIST_LIMIT = (60, 1, 999)               # ListFlows, GetExecutionHistory: their SDK request docstrings
MAX_STOP_ERROR, MAX_STOP_CAUSE = 128, 4096
_REPO = Path(__file__).resolve().parents[2]


def _ms(ts: float | None = None) -> str:
    dt = datetime.fromtimestamp(ts if ts is not None else time.time(), timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _invalid(message: str) -> ServiceError:
    return ServiceError("InvalidArgument", message, 400)


def _limit(req: RpcRequest, default: int, lo: int, hi: int) -> int:
    raw = req.get("Limit")
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise _invalid(f"Limit must be an integer from {lo} to {hi}, got {raw!r}")
    return int(raw)


@dataclass
class _FlowFile:
    name: str
    path: Path
    text: str
    stamp: tuple[int, int]
    flow: Flow | None
    error: str | None


class _Run:
    """The hooks of one running execution: functions, history events, checkpoints, sleeps, counting."""

    def __init__(self, fnf: "Fnf", key: str, cancel: threading.Event, next_event: int):
        self.fnf = fnf
        self.key = key
        self.cancel = cancel
        self.next_event = next_event
        self.lock = threading.Lock()

    def cancelled(self) -> bool:
        return self.cancel.is_set() or self.fnf.cloud.stopping

    def invoke(self, arn: str, body: Any, state: str) -> Any:
        if self.cancelled():
            raise Cancelled()
        self.fnf.cloud.stats.count("flow:invocations")
        parsed = parse_arn(arn) if isinstance(arn, str) else None
        if parsed:
            self.fnf.cloud.stats.count(f"fc:{parsed[0]}")     # invocations per function, as FC would bill them
        return self.fnf.functions.invoke(arn, body)

    def emit(self, type: str, step: str, detail: dict[str, Any], force: bool = False) -> None:
        with self.lock:
            if not force:
                if self.cancelled():
                    raise Cancelled()
                if self.next_event > self.fnf.max_events:
                    raise TerminalError("FnF.EventLimitExceeded",
                                        f"the execution reached the limit of {self.fnf.max_events} history events")
            self.fnf._append_event(self.key, self.next_event, type, step, detail)
            self.next_event += 1

    def _update(self, change: Callable[[dict], None]) -> None:
        store = self.fnf.cloud.store
        with store.tx():
            doc = store.get(EXECUTION, self.key)
            if doc is None or doc["Status"] != "Running":
                raise Cancelled()
            change(doc)
            store.put(EXECUTION, self.key, doc)

    def checkpoint(self, state: str, state_input: dict[str, Any], wait_until: float | None = None) -> None:
        if self.cancelled():
            raise Cancelled()

        def change(doc):
            doc["current"] = state
            doc["current_input"] = state_input
            doc["wait_until"] = wait_until
        self._update(change)

    def sleep(self, seconds: float, state: str, top: bool, until: float | None = None) -> None:
        if until is None:
            until = time.time() + max(0.0, seconds) * self.fnf.wait_scale
            if top:
                self._update(lambda doc: doc.__setitem__("wait_until", until))
        while True:
            if self.cancelled():
                raise Cancelled()
            remaining = until - time.time()
            if remaining <= 0:
                return
            self.cancel.wait(min(remaining, 0.05))

    def transition(self, state: str) -> None:
        self.fnf.cloud.stats.count("flow:transitions")


class Fnf(Product):
    name = "fnf"
    version = "2019-03-15"
    ACTIONS = frozenset({"StartExecution", "DescribeExecution", "StopExecution", "GetExecutionHistory",
                         "ListExecutions", "DescribeFlow", "ListFlows"})

    def __init__(self, cloud, flows_dir: str | Path | None = None,
                 wait_scale: float = 1.0, max_events: int = MAX_EVENTS, max_state_bytes: int = MAX_STATE_BYTES):
        super().__init__(cloud)
        if flows_dir is None and (_REPO / "flows").is_dir():
            flows_dir = _REPO / "flows"
        self.flows_dir = Path(flows_dir) if flows_dir else None
        self.wait_scale = float(wait_scale)
        self.max_events = max_events
        self.max_state_bytes = max_state_bytes
        self.functions = Functions(cloud.region, cloud.credentials)     # deployed from s.yaml by localcloud.fc
        self._files: dict[Path, _FlowFile] = {}
        self._files_lock = threading.Lock()
        self._runs: dict[str, _Run] = {}
        self._runs_lock = threading.Lock()
        self._changed = threading.Condition()

    # -- for tests and embedders
    def register_function(self, name: str, fn: Callable[[bytes, Any], Any]) -> None:
        """Serve function `name` with `fn(event: bytes, context)` instead of the handler s.yaml deployed."""
        self.functions.register(name, fn)

    def flow_errors(self) -> dict[str, str]:
        """Definition files that do not validate: name (or file) -> message."""
        return {f.name: f.error for f in self._catalog_files() if f.error}

    def running(self) -> list[str]:
        with self._runs_lock:
            return list(self._runs)

    # -- flows
    def _catalog_files(self) -> list[_FlowFile]:
        if self.flows_dir is None or not self.flows_dir.is_dir():
            return []
        paths = sorted(p for p in self.flows_dir.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
        out = []
        with self._files_lock:
            for path in paths:
                st = path.stat()
                stamp = (st.st_mtime_ns, st.st_size)
                cached = self._files.get(path)
                if cached is None or cached.stamp != stamp:
                    text = path.read_text(encoding="utf-8")
                    try:
                        flow = load_flow(text)
                        cached = _FlowFile(flow.name, path, text, stamp, flow, None)
                    except FlowDefinitionError as err:
                        name = path.stem
                        try:
                            import yaml
                            doc = yaml.safe_load(text)
                            if isinstance(doc, dict) and isinstance(doc.get("Name"), str):
                                name = doc["Name"]
                        except Exception:
                            pass
                        log.warning("flow definition %s does not load: %s", path, err)
                        cached = _FlowFile(name, path, text, stamp, None, f"{path.name}: {err}")
                    self._files[path] = cached
                out.append(cached)
        seen: dict[str, _FlowFile] = {}
        for f in out:
            if f.name in seen:
                other = seen[f.name]
                msg = f"flow {f.name!r} is defined twice: {other.path.name} and {f.path.name}"
                seen[f.name] = _FlowFile(f.name, f.path, f.text, f.stamp, None, msg)
            else:
                seen[f.name] = f
        return list(seen.values())

    def _flow(self, name: str | None) -> _FlowFile:
        if not name:
            raise ServiceError("MissingParameter", "The input parameter \"FlowName\" that is mandatory for "
                                                   "processing this request is not supplied.", 400)
        for f in self._catalog_files():
            if f.name == name:
                if f.error:
                    raise ServiceError("InvalidDefinition", f.error, 400)
                return f
        raise ServiceError("FlowNotExists", f"flow {name} does not exist", NOT_FOUND_HTTP_STATUS)

    @staticmethod
    def _flow_view(f: _FlowFile) -> dict[str, Any]:
        created = _ms(f.stamp[0] / 1e9)
        return {"Name": f.name, "Definition": f.text, "Description": f.flow.description if f.flow else "",
                "Id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"localcloud-flow:{f.name}")), "Type": "FDL",
                "ExecutionMode": "Standard", "RoleArn": "", "CreatedTime": created, "LastModifiedTime": created}

    def DescribeFlow(self, req: RpcRequest) -> dict[str, Any]:
        return self._flow_view(self._flow(req.require("Name")))

    def ListFlows(self, req: RpcRequest) -> dict[str, Any]:
        limit = _limit(req, *LIST_LIMIT)
        flows = sorted((f for f in self._catalog_files() if not f.error), key=lambda f: f.name)
        token = req.get("NextToken")
        if token:
            flows = [f for f in flows if f.name >= token]
        page = flows[:limit]
        out: dict[str, Any] = {"Flows": [self._flow_view(f) for f in page]}
        if len(flows) > limit:
            out["NextToken"] = flows[limit].name
        return out

    # -- executions
    @staticmethod
    def _key(flow: str, name: str) -> str:
        return f"{flow}/{name}"

    def _get(self, req: RpcRequest) -> dict[str, Any]:
        flow, name = req.require("FlowName"), req.require("ExecutionName")
        doc = self.cloud.store.get(EXECUTION, self._key(flow, name))
        if doc is None:
            if not any(f.name == flow for f in self._catalog_files()):
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
        key = self._key(flow_file.name, name)
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
                   "StartedTime": _ms(), "StoppedTime": None, "Output": None, "FlowDefinition": flow_file.text,
                   "ErrorCode": None, "ErrorMessage": None, "current": None, "current_input": None,
                   "wait_until": None}
            store.put(EXECUTION, key, doc)
            self._append_event(key, 1, "ExecutionStarted", "", {"input": data})
        self.cloud.stats.count("flow:executions")
        self._launch(key, next_event=2, resumed=False)
        return self._view(doc)

    def DescribeExecution(self, req: RpcRequest) -> dict[str, Any]:
        wait = req.get_int("WaitTimeSeconds", 0, 0, 60)
        deadline = time.monotonic() + wait
        doc = self._get(req)
        while doc["Status"] not in TERMINAL and not self.cloud.stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with self._changed:
                self._changed.wait(min(remaining, 0.25))
            doc = self._get(req)
        return self._view(doc)

    def StopExecution(self, req: RpcRequest) -> dict[str, Any]:
        doc = self._get(req)
        key = self._key(doc["FlowName"], doc["Name"])
        error, cause = req.get("Error", ""), req.get("Cause", "")
        if len(error) > MAX_STOP_ERROR or len(cause) > MAX_STOP_CAUSE:
            raise _invalid(f"Error must be at most {MAX_STOP_ERROR} characters and Cause at most {MAX_STOP_CAUSE}")
        if doc["Status"] in TERMINAL:
            raise self._already_completed(doc)
        with self._runs_lock:
            run = self._runs.get(key)
        if run is not None:
            with run.lock:  # after this the runner records nothing more: the event ids stay ours
                run.cancel.set()
        store = self.cloud.store
        with store.tx():
            doc = store.get(EXECUTION, key)
            if doc["Status"] != "Running":      # it ended while we got here
                raise self._already_completed(doc)
            doc.update(Status="Stopped", StoppedTime=_ms(), ErrorCode=error or None, ErrorMessage=cause or None)
            store.put(EXECUTION, key, doc)
            self._append_event(key, self._event_count(key) + 1, "ExecutionStopped", "",
                               {"error": error, "cause": cause})
        self._notify()
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
        key = self._key(doc["FlowName"], doc["Name"])
        limit = _limit(req, *LIST_LIMIT)
        token = req.get("NextToken") or "1"
        if not token.isdigit():
            raise _invalid(f"NextToken {token!r} is not valid")
        rows = self.cloud.store.query("SELECT body FROM docs WHERE kind = ? AND id >= ? AND id < ? ORDER BY id "
                                      "LIMIT ?", (EVENT, f"{key}#{int(token):08d}", f"{key}$", limit + 1))
        events = [json.loads(r[0]) for r in rows]
        out: dict[str, Any] = {"Events": events[:limit]}
        if len(events) > limit:
            out["NextToken"] = str(events[limit]["EventId"])
        return out

    # -- running
    def _event_count(self, key: str) -> int:
        rows = self.cloud.store.query("SELECT COUNT(*) FROM docs WHERE kind = ? AND id > ? AND id < ?",
                                      (EVENT, f"{key}#", f"{key}$"))
        return rows[0][0]

    def _append_event(self, key: str, event_id: int, type: str, step: str, detail: dict[str, Any]) -> None:
        self.cloud.store.put(EVENT, f"{key}#{event_id:08d}", {
            "EventId": event_id, "Type": type, "StepName": step, "Time": _ms(),
            "EventDetail": json.dumps(detail, ensure_ascii=False), "ScheduleEventId": 0})

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _launch(self, key: str, next_event: int, resumed: bool) -> None:
        run = _Run(self, key, threading.Event(), next_event)
        with self._runs_lock:
            if key in self._runs:
                return
            self._runs[key] = run
        thread = threading.Thread(target=self._run, args=(run, resumed),
                                  name=f"localcloud-flow-{key}", daemon=True)
        thread.start()

    def _finish(self, key: str, status: str, run: _Run, output: dict | None = None, error: str | None = None,
                cause: str | None = None) -> None:
        store = self.cloud.store
        with store.tx():
            doc = store.get(EXECUTION, key)
            if doc is None or doc["Status"] != "Running":
                return
            doc.update(Status=status, StoppedTime=_ms(), current=None, current_input=None, wait_until=None,
                       Output=json.dumps(output, ensure_ascii=False) if output is not None else None,
                       ErrorCode=error, ErrorMessage=cause)
            store.put(EXECUTION, key, doc)
            if status == "Succeeded":
                run.emit("ExecutionSucceeded", "", {"output": output}, force=True)
            else:
                run.emit("ExecutionFailed", "", {"error": error, "cause": cause}, force=True)
        self._notify()

    def _run(self, run: _Run, resumed: bool) -> None:
        key = run.key
        try:
            doc = self.cloud.store.get(EXECUTION, key)
            if doc is None or doc["Status"] != "Running":
                return
            try:
                flow = load_flow(doc["FlowDefinition"])
                interpreter = Interpreter(flow, run, doc["Name"], json.loads(doc["Input"]),
                                          max_state_bytes=self.max_state_bytes)
                if resumed:
                    run.emit("ExecutionResumed", doc.get("current") or "", {"state": doc.get("current")})
                output = interpreter.run(doc.get("current"), doc.get("current_input"), doc.get("wait_until"))
            except StateError as err:
                self._finish(key, "Failed", run, error=err.code, cause=err.detail)
            except FlowDefinitionError as err:
                self._finish(key, "Failed", run, error="FnF.InvalidDefinition", cause=str(err))
            else:
                self._finish(key, "Succeeded", run, output=output)
        except Cancelled:
            pass
        except Exception as err:
            if not self.cloud.stopping:
                log.exception("flow execution %s failed in the local cloud", key)
                try:
                    self._finish(key, "Failed", run, error="FnF.InternalError", cause=f"{type(err).__name__}: {err}")
                except Exception:
                    pass
        finally:
            with self._runs_lock:
                if self._runs.get(key) is run:
                    del self._runs[key]

    def resume(self) -> None:
        for doc in self.cloud.store.find(EXECUTION, lambda d: d["Status"] == "Running"):
            key = self._key(doc["FlowName"], doc["Name"])
            self._launch(key, next_event=self._event_count(key) + 1, resumed=True)
