"""Running executions: each on a background thread of its own, recorded in the store as it goes (history.py).

Threads of their own rather than the cloud's job pool, which a long Wait would starve. `ExecutionHooks` is what the
interpreter calls for one execution: it invokes functions in-process (functions.py), records history events,
checkpoints top-level progress, sleeps cancellably and counts. The execution document is written when each
top-level state is entered, so a server killed mid-execution and started again on the same state dir resumes every
Running execution from the top-level state it was in (`Runner.resume`): that state runs again from its start
(at-least-once, as CloudFlow Standard; a Parallel/Map re-runs whole), except that a Wait only waits for what was
left.

Counts in /_local/stats: `flow:transitions` (one per state entered, see interpreter.py), `flow:invocations`
(in-process function calls, retries included) and `fc:<function>` (invocations per function).
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

from .definition import FlowDefinitionError, load_flow, parse_arn
from .errors import Cancelled, StateError, TerminalError
from .functions import Functions
from .history import EXECUTION, append_event, event_count, execution_key, timestamp_ms
from .interpreter import Interpreter

if TYPE_CHECKING:
    from ..core.context import CloudContext

log = logging.getLogger("localcloud.fnf")

MAX_EVENTS = 5000   # history events of one execution; one more fails it with FnF.EventLimitExceeded


class ExecutionHooks:
    """The hooks of one running execution: functions, history events, checkpoints, sleeps, counting."""

    def __init__(self, runner: Runner, key: str, cancel: threading.Event, next_event: int):
        self.runner = runner
        self.cloud = runner.cloud
        self.key = key
        self.cancel = cancel
        self.next_event = next_event
        self.lock = threading.Lock()

    def cancelled(self) -> bool:
        return self.cancel.is_set() or self.cloud.stopping

    def invoke(self, arn: str, body: Any, state: str) -> Any:
        if self.cancelled():
            raise Cancelled()
        self.cloud.stats.count("flow:invocations")
        parsed = parse_arn(arn) if isinstance(arn, str) else None
        if parsed:
            self.cloud.stats.count(f"fc:{parsed[0]}")     # invocations per function, as FC would bill them
        return self.runner.functions.invoke(arn, body)

    def emit(self, type: str, step: str, detail: dict[str, Any], force: bool = False) -> None:
        with self.lock:
            if not force:
                if self.cancelled():
                    raise Cancelled()
                max_events = self.runner.max_events
                if self.next_event > max_events:
                    raise TerminalError("FnF.EventLimitExceeded",
                                        f"the execution reached the limit of {max_events} history events")
            append_event(self.cloud.store, self.key, self.next_event, type, step, detail)
            self.next_event += 1

    def _update(self, change: Callable[[dict], None]) -> None:
        store = self.cloud.store
        with store.tx():
            doc = store.get(EXECUTION, self.key)
            if doc is None or doc["Status"] != "Running":
                raise Cancelled()
            change(doc)
            store.put(EXECUTION, self.key, doc)

    def checkpoint(self, state: str, state_input: dict[str, Any], wait_until: float | None = None) -> None:
        if self.cancelled():
            raise Cancelled()

        def change(doc: dict[str, Any]) -> None:
            doc["current"] = state
            doc["current_input"] = state_input
            doc["wait_until"] = wait_until
        self._update(change)

    def sleep(self, seconds: float, state: str, top: bool, until: float | None = None) -> None:
        if until is None:
            until = time.time() + max(0.0, seconds) * self.runner.wait_scale
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
        self.cloud.stats.count("flow:transitions")


class Runner:
    """The executions running in this server, their threads, and the signal that one of them changed."""

    def __init__(self, cloud: CloudContext, functions: Functions, wait_scale: float, max_events: int,
                 max_state_bytes: int):
        self.cloud = cloud
        self.functions = functions
        self.wait_scale = wait_scale
        self.max_events = max_events
        self.max_state_bytes = max_state_bytes
        self._runs: dict[str, ExecutionHooks] = {}
        self._runs_lock = threading.Lock()
        self._changed = threading.Condition()

    def running(self) -> list[str]:
        with self._runs_lock:
            return list(self._runs)

    def notify(self) -> None:
        """An execution changed (ended or stopped): wake those waiting on it."""
        with self._changed:
            self._changed.notify_all()

    def wait_for_change(self, timeout: float) -> None:
        with self._changed:
            self._changed.wait(timeout)

    def cancel(self, key: str) -> None:
        """Stop the thread running `key`, if any; once this returns it records nothing more."""
        with self._runs_lock:
            run = self._runs.get(key)
        if run is not None:
            with run.lock:  # after this the runner records nothing more: the event ids stay the caller's
                run.cancel.set()

    def resume(self) -> None:
        """Start again every execution the store holds as Running (the server was stopped while they ran)."""
        store = self.cloud.store
        for doc in store.find(EXECUTION, lambda d: d["Status"] == "Running"):
            key = execution_key(doc["FlowName"], doc["Name"])
            self.launch(key, next_event=event_count(store, key) + 1, resumed=True)

    def launch(self, key: str, next_event: int, resumed: bool) -> None:
        run = ExecutionHooks(self, key, threading.Event(), next_event)
        with self._runs_lock:
            if key in self._runs:
                return
            self._runs[key] = run
        thread = threading.Thread(target=self._run, args=(run, resumed),
                                  name=f"localcloud-flow-{key}", daemon=True)
        thread.start()

    def _finish(self, key: str, status: str, run: ExecutionHooks, output: dict | None = None,
                error: str | None = None, cause: str | None = None) -> None:
        store = self.cloud.store
        with store.tx():
            doc = store.get(EXECUTION, key)
            if doc is None or doc["Status"] != "Running":
                return
            doc.update(Status=status, StoppedTime=timestamp_ms(), current=None, current_input=None,
                       wait_until=None, Output=json.dumps(output, ensure_ascii=False) if output is not None else None,
                       ErrorCode=error, ErrorMessage=cause)
            store.put(EXECUTION, key, doc)
            if status == "Succeeded":
                run.emit("ExecutionSucceeded", "", {"output": output}, force=True)
            else:
                run.emit("ExecutionFailed", "", {"error": error, "cause": cause}, force=True)
        self.notify()

    def _run(self, run: ExecutionHooks, resumed: bool) -> None:
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
