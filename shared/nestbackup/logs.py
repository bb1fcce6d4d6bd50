"""Structured JSON log lines, one per event, as Function Compute's log service indexes them.

Callers pass fields with `extra={"fields": {...}}`; keys that could carry secrets are dropped, never printed."""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

_SECRET_WORDS = ("secret", "password", "token", "authorization", "credential")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for key, value in (getattr(record, "fields", None) or {}).items():
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
