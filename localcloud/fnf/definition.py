"""Loading a CloudFlow new-spec definition (`Type: StateMachine`): parse the YAML, validate it, refuse what
CloudFlow refuses (or what the local cloud does not run), and give the `Flow` tree the interpreter runs.

Supported
- States: Task (`Action: FC:InvokeFunction`, `Parameters: {resourceArn, invocationType: Sync, body}`), Pass,
  Choice (`Branches[].Condition`, `Default` required), Wait (`Seconds` 1-300 or `Seconds.$`), Parallel (output
  `{Branch0: ..}`), Map inline (`ItemsPath`, `Processor`, `MaxConcuccency` or `MaxConcurrency`; output
  `{Items: [..]}`), Succeed, Fail (`Code`, `Detail`).
- `InputConstructor`, `OutputConstructor`, `Parameters`: keys ending in `.$` take an expression (see
  expressions.py, compiled here so that a bad one fails the load), other keys literal values, nested objects and
  arrays recursively. `$Output` is only allowed in `OutputConstructor`.
- Retry and Catch on Task, Parallel and Map (their meaning at run time: interpreter.py). The documented rules
  are enforced: every rule needs `Errors` and `Description`; Retry `MaxAttempts`, `IntervalSeconds` (integers,
  intervals at most 86,400 s); Catch `Next`. An inline Map's concurrency is at most 40. A definition breaking
  one is refused like any other (`InvalidDefinition`, models.py; the real CreateFlow/UpdateFlow code is
  UNCONFIRMED).
- Old FDL definitions (`type: flow`, `steps`) are refused with a message saying so.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .expressions import ExpressionError, compile_expression

MAX_WAIT_SECONDS = 300
MAX_PARALLEL_BRANCHES = 50
MAX_INLINE_MAP_CONCURRENCY = 40  # inline-mode page: an inline Map runs at most 40 iterations at once
MAX_RETRY_SECONDS = 86400  # error-handling page: IntervalSeconds and MaxBackoffSeconds at most 86,400
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,127}$")
STATE_TYPES = ("Task", "Pass", "Choice", "Wait", "Parallel", "Map", "Succeed", "Fail")
ARN_RE = re.compile(r"^acs:fc:[^:]*:[^:]*:(?:services/(?P<svc>[^/]+)/)?functions/(?P<name>[^/]+)(?:/(?P<qual>[^/]+))?$")


class FlowDefinitionError(ValueError):
    """A definition that does not load: the message says where and why."""


@dataclass
class State:
    name: str
    type: str
    spec: dict[str, Any]
    where: str
    next: str | None = None
    branches: list[Scope] = field(default_factory=list)  # Parallel
    processor: Scope | None = None  # Map


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
                if not _is_int(v) or not 0 <= v <= MAX_INLINE_MAP_CONCURRENCY:
                    raise FlowDefinitionError(f"{where}: {key} must be an integer from 0 to "
                                              f"{MAX_INLINE_MAP_CONCURRENCY} (an inline Map's limit), got {v!r}")
    elif stype == "Fail":
        if "Detail" not in st:
            raise FlowDefinitionError(f"{where}: Detail is required in a Fail state")
    if stype in ("Task", "Parallel", "Map"):
        _load_handlers(st, where)
    return state


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _load_handlers(st: dict, where: str) -> None:
    """Retry and Catch rules as the error-handling page documents them: every rule needs `Errors` and a
    `Description`; a Retry rule `MaxAttempts` and `IntervalSeconds` (integers), a Catch rule `Next`."""
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
            if not isinstance(rule.get("Description"), str) or not rule["Description"]:
                raise FlowDefinitionError(f"{label}: Description is required (a non-empty string)")
            if kind == "Retry":
                allowed = {"Errors", "Description", "MaxAttempts", "IntervalSeconds", "BackoffRate",
                           "MaxBackoffSeconds"}
                for key in ("MaxAttempts", "IntervalSeconds"):
                    if key not in rule:
                        raise FlowDefinitionError(f"{label}: {key} is required")
                for key in ("MaxAttempts", "IntervalSeconds", "MaxBackoffSeconds"):
                    v = rule.get(key, 0)
                    if not _is_int(v) or v < 0:
                        raise FlowDefinitionError(f"{label}: {key} must be a non-negative integer")
                rate = rule.get("BackoffRate", 1)
                if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0:
                    raise FlowDefinitionError(f"{label}: BackoffRate must be a non-negative number")
                if rule["IntervalSeconds"] > MAX_RETRY_SECONDS or rule.get("MaxBackoffSeconds", 0) > MAX_RETRY_SECONDS:
                    raise FlowDefinitionError(f"{label}: IntervalSeconds and MaxBackoffSeconds are at most "
                                              f"{MAX_RETRY_SECONDS}")
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
