"""The interpreter of one CloudFlow execution: it runs a loaded `Flow` (definition.py) state by state.

Nothing here talks to the network, the store or the clock directly: `Interpreter` runs one execution through a
`Hooks` object that invokes functions, records events, checkpoints top-level progress, sleeps (cancellably) and
counts transitions. The errors states fail with are in errors.py.

- Data flow: a state's input is the previous state's output; `InputConstructor` (if any) reshapes it and the result
  is `$Input` for the rest of the state. Without `OutputConstructor` the output is the (constructed) input for
  Pass/Choice/Wait/Succeed, `{"Body": <function result>}` for a Task, `{"Branch<i>": ..}` for Parallel and
  `{"Items": [..]}` for Map. `$Output` is only available in `OutputConstructor`.
- Retry then Catch on Task, Parallel and Map. `Retry[].MaxAttempts` counts retries after the first attempt (0 =
  none); the wait before retry n (1-based) is `IntervalSeconds * BackoffRate**(n-1)`, capped by
  `MaxBackoffSeconds`; the first rule whose `Errors` match decides (`FnF.ALL` matches everything catchable).
  A Catch's `OutputConstructor` builds the input of its `Next` state and may read `$Input` (the failed state's
  input) and `$Context.Current.Error.{Code,Detail}`; without one, the next input is `{"Error": code, "Cause": detail}`.

Transitions: one transition is counted each time a state is entered (one `StateEntered` event), at any nesting
level: a Choice and its chosen Task are 2, a Parallel of 3 one-task branches 4, a Map of 4 items with one task 5
(the billing examples of the reference). Retries of a state are not new transitions; a state re-entered after a
server restart (resume) is counted again.
"""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from .definition import MAX_WAIT_SECONDS, Flow, Scope, State
from .errors import ALL_ERRORS, EXPRESSION_ERROR, Cancelled, StateError, TerminalError
from .expressions import ExpressionError, compile_expression

MAX_STATE_BYTES = 64 * 1024
DEFAULT_MAP_CONCURRENCY = 40


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

    def __init__(self, hooks: Hooks, parent: _Abort | None = None):
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
