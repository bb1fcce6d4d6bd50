"""The errors a CloudFlow state fails with: their names as CloudFlow reports them, and the exceptions carrying them.

Both the interpreter (interpreter.py) and the in-process functions (functions.py) raise these, so they live apart
from either.

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
"""
from __future__ import annotations

ALL_ERRORS = "FnF.ALL"
FC_THROTTLED, FC_EXHAUSTED, FC_INTERNAL = "FC.ResourceThrottled", "FC.ResourceExhausted", "FC.InternalServerError"
FC_UNHANDLED = "FC.Unknown"             # UNCONFIRMED: CloudFlow's name for an unhandled exception in a handler
EXPRESSION_ERROR = "FnF.ExpressionError"  # UNCONFIRMED: the name of an expression failing at run time


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

