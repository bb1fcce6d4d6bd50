"""Structured JSON log lines, one per event, as Function Compute's log service indexes them.

One helper: `event(name, **fields)`. Each line also carries what the invocation bound once at its start (`bound`:
`record_id`, `step`, `fc_request_id`), so an operator finds every line of one step of one record; fields passed to
`event` win over bound ones (a sweep names each record it finishes). Keys that could carry secrets are dropped,
never printed."""
from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, TypeVar

_SECRET_WORDS = ("secret", "password", "token", "authorization", "credential")
T = TypeVar("T")
_bound: ContextVar[Mapping[str, Any]] = ContextVar("nestbackup_log_fields", default=MappingProxyType({}))  # replaced


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Every line logged inside carries `fields` (those not None); nothing of them is left once it exits, so the
    next invocation of a warm instance starts clean even when this one raised."""
    token = _bound.set({k: v for k, v in fields.items() if v is not None})
    try:
        yield
    finally:
        _bound.reset(token)


def carried(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` for a thread pool: a worker thread starts with an empty context, so each call runs with the fields
    bound where `carried` was called."""
    fields = _bound.get()

    def run(*args: Any, **kwargs: Any) -> T:
        token = _bound.set(fields)
        try:
            return fn(*args, **kwargs)
        finally:
            _bound.reset(token)
    return run


def event(name: str, **fields: Any) -> None:
    """One INFO line named `name`, logged as the calling module (`nestbackup.operations.backup_poll`)."""
    caller = sys._getframe(1).f_globals.get("__name__", "nestbackup")
    logging.getLogger(caller).info(name, extra={"fields": fields})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for key, value in ({**_bound.get(), **(getattr(record, "fields", None) or {})}).items():
            if not any(word in key.lower() for word in _SECRET_WORDS):
                line[key] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


_quiet = False                                   # set by the CLI: no log lines unless asked for (-v)


def quiet_third_party() -> None:
    """The tablestore package warns at import that its native codec is missing; that is expected and says
    nothing to an operator."""
    logging.getLogger("tablestore").setLevel(logging.ERROR)


def cli(json_logs: bool) -> None:
    """The command line: JSON log lines on stderr only when asked (-v, --log-format json); else none at all, even
    from the functions the local cloud runs in this process. Human output is the CLI's own."""
    global _quiet
    quiet_third_party()
    if json_logs:
        setup()
        return
    _quiet = True
    root = logging.getLogger("nestbackup")
    root.handlers[:] = [logging.NullHandler()]
    root.propagate = False


def setup(level: int = logging.INFO) -> None:
    quiet_third_party()
    if _quiet:
        return
    root = logging.getLogger("nestbackup")
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)   # FC collects both streams; stdout stays the CLI's
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(level)
        root.propagate = False
