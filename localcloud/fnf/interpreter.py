"""A pure interpreter of the CloudFlow new-spec state language (`Type: StateMachine`), the subset the project uses.

Nothing here talks to the network, the store or the clock directly: `load_flow` parses and validates a
definition, and `Interpreter` runs one execution through a `Hooks` object that invokes functions, records
events, checkpoints top-level progress, sleeps (cancellably) and counts transitions.

Supported
- States: Task (`Action: FC:InvokeFunction`, `Parameters: {resourceArn, invocationType: Sync, body}`), Pass,
  Choice (`Branches[].Condition`, `Default` required), Wait (`Seconds` 1-300 or `Seconds.$`), Parallel (output
  `{Branch0: ..}`), Map inline (`ItemsPath`, `Processor`, `MaxConcuccency` or `MaxConcurrency`; output
  `{Items: [..]}`), Succeed, Fail (`Code`, `Detail`).
- `InputConstructor`, `OutputConstructor`, `Parameters`: keys ending in `.$` take an expression (see
  expressions.py), other keys literal values, nested objects and arrays recursively.
- Data flow: a state's input is the previous state's output; `InputConstructor` (if any) reshapes it and the result
  is `$Input` for the rest of the state. Without `OutputConstructor` the output is the (constructed) input for
  Pass/Choice/Wait/Succeed, `{"Body": <function result>}` for a Task, `{"Branch<i>": ..}` for Parallel and
  `{"Items": [..]}` for Map. `$Output` is only available in `OutputConstructor`.
- Retry then Catch on Task, Parallel and Map. `Retry[].MaxAttempts` counts retries after the first attempt (0 =
  none); the wait before retry n (1-based) is `IntervalSeconds * BackoffRate**(n-1)`, capped by
  `MaxBackoffSeconds`; the first rule whose `Errors` match decides (`FnF.ALL` matches everything catchable).
  A Catch's `OutputConstructor` builds the input of its `Next` state and may read `$Input` (the failed state's
  input) and `$Context.Current.Error.{Code,Detail}`; without one, the next input is `{"Error": code, "Cause": detail}`.

Error names
- FC answering an invocation with an error: `FC.<FC error code>` (CloudFlow error-handling reference):
  `FC_THROTTLED` (FC.ResourceThrottled), `FC_EXHAUSTED` (FC.ResourceExhausted), `FC_INTERNAL`
  (FC.InternalServerError). The in-process functions here never throttle; a test function may raise these.
- `FC_UNHANDLED`: the handler raised an exception (Detail `<ExceptionType>: <message>`). UNCONFIRMED name (no
  document gives it; functions.py raises it): flows must not retry or catch on it by name, only through `FnF.ALL`.
- `FC.FunctionNotFound`: no handler for the function named by `resourceArn`.
- `FC.InvalidArgument`: a `resourceArn` that names no function.
- `FnF.InvalidOutput`: a function result that is not a JSON object (the Task needs one under `Body`).
- `FnF.InvalidInput`: `ItemsPath` not yielding an array of objects, or `Seconds.$` not a number in 1..300.
- `EXPRESSION_ERROR` (UNCONFIRMED name): an expression failed at run time: a path read a field that the data does
  not have (see expressions.py), or a built-in was given the wrong type.
- A Fail state: its `Code` (default `FnF.Fail`) with its `Detail`; inside a Parallel/Map it fails that state,
  whose Retry/Catch apply, else the execution.
- Terminal, never retried nor caught (like ASL's States.DataLimitExceeded): `FnF.DataLimitExceeded` (a state input
  or output is not a JSON object or is over 64 KiB as compact UTF-8 JSON) and `FnF.EventLimitExceeded` (the
  execution would record more than `max_events` history events, default 5,000).

Transitions: one transition is counted each time a state is entered (one `StateEntered` event), at any nesting
level: a Choice and its chosen Task are 2, a Parallel of 3 one-task branches 4, a Map of 4 items with one task 5
(the billing examples of the reference). Retries of a state are not new transitions; a state re-entered after a
server restart (resume) is counted again.
"""
from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import yaml

from .expressions import ExpressionError, compile_expression

MAX_STATE_BYTES = 64 * 1024
MAX_EVENTS = 5000
MAX_WAIT_SECONDS = 300
MAX_PARALLEL_BRANCHES = 50
DEFAULT_MAP_CONCURRENCY = 40
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")
STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Parallel", "Map", "Succeed", "Fail")
ALL_ERRORS = "FnF.ALL"
FC_THROTTLED, FC_EXHAUSTED, FC_INTERNAL = "FC.ResourceThrottled", "FC.ResourceExhausted", "FC.InternalServerError"
FC_UNHANDLED = "FC.Unknown"             # UNCONFIRMED: CloudFlow's name for an unhandled exception in a handler
EXPRESSION_ERROR = "FnF.ExpressionError"  # UNCONFIRMED: the name of an expression failing at run time
ARN_RE = re.compile(r"^acs:fc:[^:]*:[^:]*:(?:services/(?P<svc>[^/]+)/)?functions/(?P<name>[^/]+)(?:/(?P<qual>[^/]+))?$")


class FlowDefinitionError(ValueError):
    """A definition that does not load: the message says where and why."""


class StateError(Exception):
    """A catchable error of a state: Code and Detail as CloudFlow reports them."""

    terminal = False

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class TerminalError(StateError):
    """An error that fails the execution at once: no Retry, no Catch."""

    terminal = True


class Cancelled(Exception):
    """The execution was stopped or the server is shutting down: leave without recording anything more."""


# -- definitions


@dataclass
class State:
    name: str
    type: str
    spec: dict[str, Any]
    where: str
    next: str | None = None
    branches: list["Scope"] = field(default_factory=list)  # Parallel
    processor: "Scope | None" = None  # Map


@dataclass
class Scope:
    start_at: str
    states: dict[str, State]
    where: str


@dataclass
class Flow:
    name: str
    definition: dict[str, Any]
    text: str
    root: Scope
    description: str = ""


def parse_arn(arn: str) -> tuple[str, str | None] | None:
    """`acs:fc:<region>:<account>:functions/<name>[/<qualifier>]` (or the FC2 services form) -> (name, qualifier)."""
    m = ARN_RE.match(arn or "")
    if not m:
        return None
    qual = m["qual"]
    if m["svc"] and "." in m["svc"] and not qual:
        qual = m["svc"].split(".", 1)[1]
    return m["name"], qual


def load_flow(text: str, expected_name: str | None = None) -> Flow:
    """Parse and validate a YAML (or JSON) definition; raise FlowDefinitionError with a precise message."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise FlowDefinitionError(f"the definition is not valid YAML: {err}") from None
    if not isinstance(doc, dict):
        raise FlowDefinitionError("the definition must be a YAML mapping")
    if doc.get("Type") != "StateMachine":
        if "steps" in doc or doc.get("type") == "flow":
            raise FlowDefinitionError("old FDL definitions (type: flow, steps) are not supported; "
                                      "write the new spec (Type: StateMachine)")
        raise FlowDefinitionError(f"Type must be StateMachine, got {doc.get('Type')!r}")
    name = doc.get("Name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise FlowDefinitionError(f"Name must be 1-128 characters [A-Za-z0-9_-] starting with a letter or "
                                  f"underscore, got {name!r}")
    if expected_name is not None and name != expected_name:
        raise FlowDefinitionError(f"Name {name!r} must equal the flow name {expected_name!r}")
    if doc.get("SpecVersion", "v1") != "v1":
        raise FlowDefinitionError(f"SpecVersion must be v1, got {doc.get('SpecVersion')!r}")
    unknown = set(doc) - {"Type", "Name", "SpecVersion", "StartAt", "States", "Description"}
    if unknown:
        raise FlowDefinitionError(f"unknown top-level field(s): {', '.join(sorted(unknown))}")
    root = _load_scope(doc, "the flow")
    return Flow(name=name, definition=doc, text=text, root=root, description=str(doc.get("Description") or ""))


def _load_scope(spec: Any, where: str) -> Scope:
    if not isinstance(spec, dict):
        raise FlowDefinitionError(f"{where} must be a mapping with StartAt and States")
    states_spec = spec.get("States")
    if not isinstance(states_spec, list) or not states_spec:
        raise FlowDefinitionError(f"{where}: States must be a non-empty list of states")
    states: dict[str, State] = {}
    for i, st in enumerate(states_spec):
        label = f"{where}: States[{i}]"
        if not isinstance(st, dict):
            raise FlowDefinitionError(f"{label} must be a mapping")
        name = st.get("Name")
        if not isinstance(name, str) or not name:
            raise FlowDefinitionError(f"{label} has no Name")
        label = f"{where}: state {name!r}"
        if name in states:
            raise FlowDefinitionError(f"{where}: duplicate state name {name!r}")
        stype = st.get("Type")
        if stype not in STATE_TYPES:
            raise FlowDefinitionError(f"{label}: unknown Type {stype!r} (expected one of {', '.join(STATE_TYPES)})")
        states[name] = _load_state(st, name, stype, label)
    start = spec.get("StartAt")
    if start not in states:
        raise FlowDefinitionError(f"{where}: StartAt {start!r} names no state of this scope"
                                  f" (states: {', '.join(states)})")
    scope = Scope(start_at=start, states=states, where=where)
    for st in states.values():
        targets = []
        if st.next is not None:
            targets.append(("Next", st.next))
        if st.type == "Choice":
            targets += [(f"Branches[{i}].Next", b["Next"]) for i, b in enumerate(st.spec["Branches"])]
            targets.append(("Default", st.spec["Default"]))
        targets += [(f"Catch[{i}].Next", c["Next"]) for i, c in enumerate(st.spec.get("Catch") or [])]
        for what, target in targets:
            if target not in states:
                raise FlowDefinitionError(f"{st.where}: {what} {target!r} names no state of {where}"
                                          f" (states: {', '.join(states)})")
    return scope


_COMMON = {"Name", "Type", "Description", "InputConstructor", "OutputConstructor", "Next", "End"}
_FIELDS = {
    "Task": _COMMON | {"Action", "TaskMode", "Parameters", "Timeout", "Retry", "Catch"},
    "Pass": _COMMON,
    "Choice": {"Name", "Type", "Description", "InputConstructor", "OutputConstructor", "Branches", "Default"},
    "Wait": _COMMON | {"Seconds", "Seconds.$"},
    "Parallel": _COMMON | {"Branches", "Retry", "Catch"},
    "Map": _COMMON | {"ItemsPath", "Processor", "MaxConcuccency", "MaxConcurrency", "Retry", "Catch",
                      "ProcessorConfig"},
    "Succeed": {"Name", "Type", "Description", "InputConstructor", "OutputConstructor", "End"},
    "Fail": {"Name", "Type", "Description", "InputConstructor", "Code", "Detail", "End"},
}


def _check_expr(text: Any, where: str, output_allowed: bool = False) -> None:
    try:
        expr = compile_expression(text)
    except ExpressionError as err:
        raise FlowDefinitionError(f"{where}: invalid expression: {err}") from None
    if "$Output" in expr.variables and not output_allowed:
        raise FlowDefinitionError(f"{where}: $Output is only available in OutputConstructor ({text!r})")


def _check_constructor(value: Any, where: str, output_allowed: bool = False) -> None:
    if isinstance(value, dict):
        for key, v in value.items():
            if not isinstance(key, str):
                raise FlowDefinitionError(f"{where}: keys must be strings, got {key!r}")
            if key.endswith(".$"):
                _check_expr(v, f"{where}.{key}", output_allowed)
            else:
                _check_constructor(v, f"{where}.{key}", output_allowed)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_constructor(v, f"{where}[{i}]", output_allowed)


def _load_state(st: dict, name: str, stype: str, where: str) -> State:
    unknown = set(st) - _FIELDS[stype]
    if unknown:
        raise FlowDefinitionError(f"{where}: unknown field(s) for a {stype} state: {', '.join(sorted(unknown))}")
    state = State(name=name, type=stype, spec=st, where=where)
    for key in ("InputConstructor", "OutputConstructor"):
        if key in st:
            if not isinstance(st[key], dict):
                raise FlowDefinitionError(f"{where}: {key} must be a mapping")
            _check_constructor(st[key], f"{where}: {key}", output_allowed=key == "OutputConstructor")
    # -- Next / End
    if stype in ("Choice", "Succeed", "Fail"):
        if "Next" in st:
            raise FlowDefinitionError(f"{where}: a {stype} state has no Next")
    else:
        has_next, end = "Next" in st, st.get("End", False)
        if end not in (True, False):
            raise FlowDefinitionError(f"{where}: End must be true or false")
        if has_next and end:
            raise FlowDefinitionError(f"{where}: has both Next and End: true")
        if not has_next and not end:
            raise FlowDefinitionError(f"{where}: needs Next or End: true")
        if has_next:
            if not isinstance(st["Next"], str):
                raise FlowDefinitionError(f"{where}: Next must be a state name")
            state.next = st["Next"]
    # -- per type
    if stype == "Task":
        if st.get("Action") != "FC:InvokeFunction":
            raise FlowDefinitionError(f"{where}: Action {st.get('Action')!r} is not supported locally "
                                      f"(only FC:InvokeFunction)")
        if st.get("TaskMode", "RequestComplete") != "RequestComplete":
            raise FlowDefinitionError(f"{where}: TaskMode {st.get('TaskMode')!r} is not supported locally "
                                      f"(only RequestComplete)")
        params = st.get("Parameters")
        if not isinstance(params, dict):
            raise FlowDefinitionError(f"{where}: Parameters must be a mapping with resourceArn and invocationType")
        _check_constructor(params, f"{where}: Parameters")
        if "resourceArn" in params:
            if parse_arn(params["resourceArn"]) is None:
                raise FlowDefinitionError(f"{where}: Parameters.resourceArn {params['resourceArn']!r} is not "
                                          f"acs:fc:<region>:<account>:functions/<name>[/<qualifier>]")
        elif "resourceArn.$" not in params:
            raise FlowDefinitionError(f"{where}: Parameters.resourceArn is required")
        if params.get("invocationType", None) != "Sync" and "invocationType.$" not in params:
            raise FlowDefinitionError(f"{where}: Parameters.invocationType must be Sync "
                                      f"(got {params.get('invocationType')!r}; Async is not supported locally)")
        if "Timeout" in st:
            try:
                timeout = int(st["Timeout"])
            except (TypeError, ValueError):
                raise FlowDefinitionError(f"{where}: Timeout must be seconds as a string") from None
            if not 0 <= timeout <= 604800:
                raise FlowDefinitionError(f"{where}: Timeout must be 0-604800 seconds")
    elif stype == "Choice":
        branches = st.get("Branches")
        if not isinstance(branches, list) or not branches:
            raise FlowDefinitionError(f"{where}: Branches must be a non-empty list of {{Condition, Next}}")
        for i, b in enumerate(branches):
            if not isinstance(b, dict) or "Condition" not in b or "Next" not in b:
                raise FlowDefinitionError(f"{where}: Branches[{i}] needs Condition and Next")
            _check_expr(b["Condition"], f"{where}: Branches[{i}].Condition")
        if "Default" not in st:
            raise FlowDefinitionError(f"{where}: Default is required in a Choice state")
    elif stype == "Wait":
        if ("Seconds" in st) == ("Seconds.$" in st):
            raise FlowDefinitionError(f"{where}: needs exactly one of Seconds or Seconds.$")
        if "Seconds" in st:
            secs = st["Seconds"]
            if isinstance(secs, bool) or not isinstance(secs, int) or not 1 <= secs <= MAX_WAIT_SECONDS:
                raise FlowDefinitionError(f"{where}: Seconds must be an integer from 1 to {MAX_WAIT_SECONDS}, "
                                          f"got {secs!r}")
        else:
            _check_expr(st["Seconds.$"], f"{where}: Seconds.$")
    elif stype == "Parallel":
        branches = st.get("Branches")
        if not isinstance(branches, list) or not branches:
            raise FlowDefinitionError(f"{where}: Branches must be a non-empty list of {{StartAt, States}}")
        if len(branches) > MAX_PARALLEL_BRANCHES:
            raise FlowDefinitionError(f"{where}: at most {MAX_PARALLEL_BRANCHES} branches")
        state.branches = [_load_scope(b, f"{where} Branches[{i}]") for i, b in enumerate(branches)]
    elif stype == "Map":
        if "ItemsPath" not in st:
            raise FlowDefinitionError(f"{where}: ItemsPath is required")
        _check_expr(st["ItemsPath"], f"{where}: ItemsPath")
        if "Processor" not in st:
            raise FlowDefinitionError(f"{where}: Processor is required")
        state.processor = _load_scope(st["Processor"], f"{where} Processor")
        for key in ("MaxConcuccency", "MaxConcurrency"):
            if key in st:
                v = st[key]
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    raise FlowDefinitionError(f"{where}: {key} must be a non-negative integer")
    elif stype == "Fail":
        if "Detail" not in st:
            raise FlowDefinitionError(f"{where}: Detail is required in a Fail state")
    if stype in ("Task", "Parallel", "Map"):
        _load_handlers(st, where)
    return state


def _load_handlers(st: dict, where: str) -> None:
    for kind in ("Retry", "Catch"):
        rules = st.get(kind)
        if rules is None:
            continue
        if not isinstance(rules, list):
            raise FlowDefinitionError(f"{where}: {kind} must be a list")
        for i, rule in enumerate(rules):
            label = f"{where}: {kind}[{i}]"
            if not isinstance(rule, dict):
                raise FlowDefinitionError(f"{label} must be a mapping")
            errors = rule.get("Errors")
            if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
                raise FlowDefinitionError(f"{label}: Errors must be a non-empty list of error names")
            if kind == "Retry":
                allowed = {"Errors", "Description", "MaxAttempts", "IntervalSeconds", "BackoffRate",
                           "MaxBackoffSeconds"}
                for key in ("MaxAttempts", "IntervalSeconds"):
                    if key not in rule:
                        raise FlowDefinitionError(f"{label}: {key} is required")
                for key in ("MaxAttempts", "IntervalSeconds", "BackoffRate", "MaxBackoffSeconds"):
                    v = rule.get(key, 0)
                    if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                        raise FlowDefinitionError(f"{label}: {key} must be a non-negative number")
                if rule["IntervalSeconds"] > 86400 or rule.get("MaxBackoffSeconds", 0) > 86400:
                    raise FlowDefinitionError(f"{label}: IntervalSeconds and MaxBackoffSeconds are at most 86400")
            else:
                allowed = {"Errors", "Description", "Next", "OutputConstructor"}
                if not isinstance(rule.get("Next"), str):
                    raise FlowDefinitionError(f"{label}: Next is required")
                if "OutputConstructor" in rule:
                    if not isinstance(rule["OutputConstructor"], dict):
                        raise FlowDefinitionError(f"{label}: OutputConstructor must be a mapping")
                    _check_constructor(rule["OutputConstructor"], f"{label}.OutputConstructor")
            unknown = set(rule) - allowed
            if unknown:
                raise FlowDefinitionError(f"{label}: unknown field(s) {', '.join(sorted(unknown))}")


# -- running


class Hooks(Protocol):
    def invoke(self, arn: str, body: Any, state: str) -> Any: ...

    def emit(self, type: str, step: str, detail: dict[str, Any]) -> None: ...

    def checkpoint(self, state: str, state_input: dict[str, Any], wait_until: float | None = None) -> None: ...

    def sleep(self, seconds: float, state: str, top: bool, until: float | None = None) -> None:
        """Wait `seconds` (scaled by the host) or, when resuming, until the epoch time `until`; raise Cancelled."""

    def transition(self, state: str) -> None: ...

    def cancelled(self) -> bool: ...


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def construct(template: Any, env: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            if key.endswith(".$"):
                try:
                    out[key[:-2]] = compile_expression(value).evaluate(env)
                except ExpressionError as err:
                    raise StateError(EXPRESSION_ERROR, str(err)) from None
            else:
                out[key] = construct(value, env)
        return out
    if isinstance(template, list):
        return [construct(v, env) for v in template]
    return template


def evaluate(text: str, env: dict[str, Any]) -> Any:
    try:
        return compile_expression(text).evaluate(env)
    except ExpressionError as err:
        raise StateError(EXPRESSION_ERROR, str(err)) from None


class _Abort:
    """Cancellation of one scope: set by a failing sibling branch or, through the hooks, by a stop."""

    def __init__(self, hooks: Hooks, parent: "_Abort | None" = None):
        self.hooks = hooks
        self.parent = parent
        self.event = threading.Event()

    def is_set(self) -> bool:
        return self.event.is_set() or (self.parent.is_set() if self.parent else self.hooks.cancelled())

    def check(self) -> None:
        if self.is_set():
            raise Cancelled()


class Interpreter:
    def __init__(self, flow: Flow, hooks: Hooks, execution_name: str, execution_input: dict[str, Any],
                 max_state_bytes: int = MAX_STATE_BYTES, global_vars: dict[str, Any] | None = None):
        self.flow = flow
        self.hooks = hooks
        self.execution = {"Name": execution_name, "Input": execution_input, "RoleArn": ""}
        self.max_state_bytes = max_state_bytes
        self.global_vars = global_vars if global_vars is not None else {}

    # -- entry point
    def run(self, start_state: str | None = None, start_input: dict[str, Any] | None = None,
            wait_until: float | None = None) -> dict[str, Any]:
        """Run the top-level scope from `start_state` (resume) or StartAt; return the execution output."""
        scope = self.flow.root
        name = start_state or scope.start_at
        data = start_input if start_input is not None else self.execution["Input"]
        abort = _Abort(self.hooks)
        while True:
            abort.check()
            if wait_until is None:
                self.hooks.checkpoint(name, data)
            out, nxt = self._run_state(scope.states[name], data, abort, top=True, wait_until=wait_until)
            wait_until = None
            if nxt is None:
                return out
            name, data = nxt, out

    def _run_scope(self, scope: Scope, data: dict[str, Any], abort: _Abort) -> dict[str, Any]:
        name = scope.start_at
        while True:
            abort.check()
            out, nxt = self._run_state(scope.states[name], data, abort)
            if nxt is None:
                return out
            name, data = nxt, out

    # -- one state
    def _check_data(self, state: State, what: str, value: Any) -> None:
        if not isinstance(value, dict):
            raise TerminalError("FnF.DataLimitExceeded",
                                f"the {what} of state {state.name!r} must be a JSON object, got "
                                f"{type(value).__name__}")
        size = json_size(value)
        if size > self.max_state_bytes:
            raise TerminalError("FnF.DataLimitExceeded",
                                f"the {what} of state {state.name!r} is {size} bytes of JSON, over the limit of "
                                f"{self.max_state_bytes} bytes (64 KiB)")

    def _env(self, current: dict[str, Any], output: Any = None, with_output: bool = False) -> dict[str, Any]:
        ctx_current = dict(current)
        if with_output:
            ctx_current["Output"] = output
        env = {"Input": current["Input"], "Context": {"Execution": self.execution, "Current": ctx_current},
               "Global": self.global_vars}
        if with_output:
            env["Output"] = output
        return env

    def _run_state(self, state: State, raw_input: dict[str, Any], abort: _Abort, top: bool = False,
                   wait_until: float | None = None) -> tuple[dict[str, Any], str | None]:
        hooks = self.hooks
        spec = state.spec
        self._check_data(state, "input", raw_input)
        hooks.emit("StateEntered", state.name, {"input": raw_input})
        hooks.transition(state.name)
        current: dict[str, Any] = {"Name": state.name, "Input": raw_input, "RetryCount": 0}
        if "InputConstructor" in spec:
            try:
                data = construct(spec["InputConstructor"], self._env(current))
            except StateError as err:
                return self._fail_state(state, err, current)
            self._check_data(state, "input", data)
            current["Input"] = data
        data = current["Input"]
        nxt = state.next
        try:
            if state.type == "Choice":
                nxt = spec["Default"]
                for branch in spec["Branches"]:
                    if evaluate(branch["Condition"], self._env(current)) is True:
                        nxt = branch["Next"]
                        break
                raw_out = data
            elif state.type in ("Pass", "Succeed"):
                raw_out = data
            elif state.type == "Wait":
                if "Seconds" in spec:
                    secs = spec["Seconds"]
                else:
                    secs = evaluate(spec["Seconds.$"], self._env(current))
                    if isinstance(secs, bool) or not isinstance(secs, (int, float)) or \
                            not 1 <= secs <= MAX_WAIT_SECONDS:
                        raise StateError("FnF.InvalidInput", f"Seconds.$ of state {state.name!r} must be a number "
                                                             f"from 1 to {MAX_WAIT_SECONDS}, got {secs!r}")
                if wait_until is not None:
                    hooks.sleep(-1, state.name, top, wait_until)  # resumed: only what was left
                else:
                    hooks.sleep(float(secs), state.name, top)
                abort.check()
                raw_out = data
            elif state.type == "Fail":
                raise StateError(str(spec.get("Code") or "FnF.Fail"), str(spec.get("Detail") or ""))
            else:
                raw_out = self._with_retry(state, current, abort)
        except StateError as err:
            return self._fail_state(state, err, current)
        if "OutputConstructor" in spec:
            try:
                out = construct(spec["OutputConstructor"], self._env(current, raw_out, with_output=True))
            except StateError as err:
                return self._fail_state(state, err, current)
        else:
            out = raw_out
        self._check_data(state, "output", out)
        hooks.emit("StateExited", state.name, {"output": out})
        if state.type == "Succeed" or spec.get("End"):
            nxt = None
        return out, nxt

    def _fail_state(self, state: State, err: StateError, current: dict[str, Any]):
        if err.terminal:
            raise err
        self.hooks.emit("StateFailed", state.name, {"error": err.code, "cause": err.detail})
        for rule in state.spec.get("Catch") or []:
            if ALL_ERRORS in rule["Errors"] or err.code in rule["Errors"]:
                current = {**current, "Error": {"Code": err.code, "Detail": err.detail}}
                if "OutputConstructor" in rule:
                    out = construct(rule["OutputConstructor"], self._env(current))
                else:
                    out = {"Error": err.code, "Cause": err.detail}
                self._check_data(state, "output", out)
                self.hooks.emit("StateCaught", state.name, {"error": err.code, "cause": err.detail,
                                                            "next": rule["Next"], "output": out})
                return out, rule["Next"]
        raise err

    def _with_retry(self, state: State, current: dict[str, Any], abort: _Abort) -> Any:
        rules = state.spec.get("Retry") or []
        attempts = [0] * len(rules)
        while True:
            abort.check()
            try:
                return self._execute(state, current, abort)
            except TerminalError:
                raise
            except StateError as err:
                for i, rule in enumerate(rules):
                    if ALL_ERRORS in rule["Errors"] or err.code in rule["Errors"]:
                        if attempts[i] >= rule["MaxAttempts"]:
                            raise
                        attempts[i] += 1
                        delay = rule["IntervalSeconds"] * (rule.get("BackoffRate") or 1) ** (attempts[i] - 1)
                        if rule.get("MaxBackoffSeconds"):
                            delay = min(delay, rule["MaxBackoffSeconds"])
                        current["RetryCount"] = current.get("RetryCount", 0) + 1
                        self.hooks.emit("StateRetried", state.name, {"error": err.code, "cause": err.detail,
                                                                     "retryCount": current["RetryCount"],
                                                                     "delaySeconds": delay})
                        self.hooks.sleep(float(delay), state.name, False)
                        break
                else:
                    raise

    def _execute(self, state: State, current: dict[str, Any], abort: _Abort) -> dict[str, Any]:
        env = self._env(current)
        if state.type == "Task":
            params = construct(state.spec["Parameters"], env)
            arn = params.get("resourceArn")
            if params.get("invocationType") != "Sync":
                raise StateError("FC.InvalidArgument", f"invocationType {params.get('invocationType')!r} is not "
                                                       f"supported locally (only Sync)")
            body = params.get("body")
            self.hooks.emit("TaskSubmitted", state.name, {"resourceArn": arn, "body": body})
            try:
                result = self.hooks.invoke(arn, body, state.name)
            except StateError as err:
                self.hooks.emit("TaskFailed", state.name, {"error": err.code, "cause": err.detail})
                raise
            if not isinstance(result, dict):
                err = StateError("FnF.InvalidOutput", f"the function of state {state.name!r} returned "
                                                      f"{type(result).__name__}, not a JSON object")
                self.hooks.emit("TaskFailed", state.name, {"error": err.code, "cause": err.detail})
                raise err
            self.hooks.emit("TaskSucceeded", state.name, {"output": result})
            return {"Body": result}
        if state.type == "Parallel":
            outs = self._fan_out([(scope, current["Input"]) for scope in state.branches], abort,
                                 len(state.branches))
            return {f"Branch{i}": out for i, out in enumerate(outs)}
        if state.type == "Map":
            items = evaluate(state.spec["ItemsPath"], env)
            if not isinstance(items, list):
                raise StateError("FnF.InvalidInput", f"ItemsPath of state {state.name!r} must yield an array, got "
                                                     f"{type(items).__name__}")
            for i, item in enumerate(items):
                if not isinstance(item, dict):
                    raise StateError("FnF.InvalidInput", f"item {i} of state {state.name!r} is "
                                                         f"{type(item).__name__}; Map items must be JSON objects")
            limit = state.spec.get("MaxConcuccency", state.spec.get("MaxConcurrency")) or DEFAULT_MAP_CONCURRENCY
            return {"Items": self._fan_out([(state.processor, item) for item in items], abort, limit)}
        raise AssertionError(state.type)

    def _fan_out(self, jobs: list[tuple[Scope, dict[str, Any]]], abort: _Abort, workers: int) -> list[Any]:
        if not jobs:
            return []
        child = _Abort(self.hooks, abort)
        results: list[Any] = [None] * len(jobs)
        errors: list[BaseException] = []
        lock = threading.Lock()

        def run(i: int, scope: Scope, data: dict[str, Any]) -> None:
            try:
                results[i] = self._run_scope(scope, data, child)
            except Cancelled:
                pass
            except BaseException as err:  # the first failure fails the state and cancels the siblings
                with lock:
                    errors.append(err)
                child.event.set()

        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(jobs))),
                                thread_name_prefix="localcloud-flow-branch") as pool:
            for i, (scope, data) in enumerate(jobs):
                pool.submit(run, i, scope, data)
        abort.check()
        if errors:
            raise errors[0]
        return results

