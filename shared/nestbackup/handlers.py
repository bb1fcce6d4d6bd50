"""What every Function Compute handler shares: event parsing, settings, adapters, logging, step dispatch.

Handlers stay thin: bind the invocation's log fields, parse the event, call an operation, shape the reply. Adapters
are built once per function instance (module state survives between invocations) and only when first used; a step's
operation module is imported on the step's first invocation, so a cold start loads only the step it runs.
"""
from __future__ import annotations

import base64
import importlib
import json
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager

from . import logs
from .errors import ValidationError

if TYPE_CHECKING:
    from .ports import Ports
    from .settings import Settings
    from .wiring import Wiring

_wirings: dict[Settings, Wiring] = {}
# Wirings kept per process: one per function's credentials where functions share a process (the local cloud runs
# every function, each with its role's credentials, in one), so that they do not rebuild each other's adapters.
_WIRINGS_KEPT = 8


def layer_first(path: list[str]) -> None:
    """Put the directory this package was loaded from (the layer's python/ on FC) first on `path`. FC's python3.10
    runtime ships its own older tablestore (5.4.1), PyMySQL and requests (the runtime's built-in modules page);
    where its site-packages would come before the layer (UNCONFIRMED: the order is not documented), the versions
    the layer locks must still be the ones imported. The SDKs are imported only after this (adapters import them
    when first used)."""
    root = str(Path(__file__).resolve().parents[1])
    if path and path[0] == root:
        return
    path[:] = [root] + [p for p in path if p != root]


layer_first(sys.path)


def event_json(event: bytes | str | dict) -> dict[str, Any]:
    if isinstance(event, dict):
        return event
    try:
        value = json.loads(event or b"{}")
    except ValueError:
        raise ValidationError("the event is not JSON") from None
    if not isinstance(value, dict):
        raise ValidationError("the event must be a JSON object")
    return value


def invocation(context, *, step: str | None = None, record_id: str | None = None,
               request_id: str | None = None) -> ContextManager[None]:
    """Bind the invocation's log fields once, at its start: FC's request id (`context.request_id`; the HTTP
    trigger's for the API), the step and the record the event names. They end with the invocation."""
    return logs.bound(fc_request_id=request_id or getattr(context, "request_id", None), step=step,
                      record_id=record_id)


def operation(target: tuple[str, str]) -> Callable[..., Any]:
    """A step's operation, `(module, function)` from its function's dispatch table, imported when the step first
    runs in this instance: a function's other steps, and their modules, may never run here.
    (`scripts/ram.py` reads the same tables to grant each function the actions of every step.)"""
    module, name = target
    return getattr(importlib.import_module(module), name)


def wiring(context: object = None) -> Ports:
    """Adapters for the current settings, built once per function instance (and again if the settings change,
    e.g. when STS credentials rotate)."""
    from .settings import Settings
    from .wiring import Wiring
    settings = Settings.from_env(context=context)
    if settings not in _wirings:
        logs.setup()
        if len(_wirings) >= _WIRINGS_KEPT:        # FC runs one function per instance: old credentials only
            _wirings.pop(next(iter(_wirings)))
        _wirings[settings] = Wiring(settings)
    return _wirings[settings]


def http_request(event: dict):
    """An FC3 HTTP-trigger event as an API Request."""
    from .api.http import Request
    ctx = event.get("requestContext") or {}
    http = ctx.get("http") or {}
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    return Request(method=(http.get("method") or "GET").upper(), path=http.get("path") or event.get("rawPath") or "/",
                   query=dict(event.get("queryParameters") or {}),
                   headers={k.lower(): v for k, v in (event.get("headers") or {}).items()}, body=raw,
                   request_id=ctx.get("requestId") or str(uuid.uuid4()), source_ip=http.get("sourceIp") or None)


def http_reply(response) -> dict:
    return {"statusCode": response.status, "headers": response.headers, "isBase64Encoded": False,
            "body": response.encoded().decode()}
