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


def setup(level: int = logging.INFO) -> None:
    root = logging.getLogger("nestbackup")
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)   # FC collects both streams; stdout stays the CLI's
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(level)
        root.propagate = False
