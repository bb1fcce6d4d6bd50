"""The HTTP API, independent of how requests arrive (FC HTTP trigger, local cloud mount, tests).

The route table (routes.py) lists every endpoint; this module authorizes a request, finds its route, and turns what
goes wrong into {"Code", "Message", "RequestId"} with a 4xx for anything the caller can fix.
"""
from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Callable

from ..errors import CloudError, Conflict, NestBackupError, NotFound, ValidationError
from .access import authorize, visible_instance
from .audit import audited_route, record
from .http import ApiError, Call, Request, Response, error_response
from .inputs import json_body, require_json_media_type
from .routes import Route, route_table
from .schemas import ID, Schema

if TYPE_CHECKING:
    from ..operations.tenants import Principal
    from ..ports import Ports

log = logging.getLogger("nestbackup.api")
_CONSOLE_HEADERS = {"content-type": "text/html; charset=utf-8",
                    "content-security-policy": "default-src 'self'; script-src 'unsafe-inline' 'self'; "
                                               "style-src 'unsafe-inline'",
                    "x-frame-options": "DENY"}


def handle(req: Request, wiring_factory: Callable[[], Ports], admin_token: str | None = None) -> Response:
    """Route one request, and add a POST, PUT or DELETE of a route to the audit trail with its outcome.
    `wiring_factory()` builds the adapters on first need (not for a read refused before it needs them);
    `admin_token` overrides the deployment's admin token secret (tests)."""
    path = req.path[4:] if req.path.startswith("/api/") or req.path == "/api" else req.path
    path = "/" + path.strip("/")
    if path == "/openapi.json" and req.method == "GET":
        from .openapi import document
        return Response(200, document())
    if path in ("/", "/console") and req.method == "GET":
        from .console import PAGE
        return Response(200, PAGE, dict(_CONSOLE_HEADERS))
    audited = audited_route(req.method, path)
    caller: list[Principal] = []
    response = _answer(req, lambda: _dispatch(req, path, wiring_factory, admin_token, caller))
    if audited is not None:
        record(wiring_factory, *audited, req, response, caller[0] if caller else None)
    return response


def _answer(req: Request, dispatch: Callable[[], Response]) -> Response:
    """The route's answer, or what went wrong as {"Code", "Message", "RequestId"}."""
    try:
        return dispatch()
    except ApiError as err:
        return error_response(req, err.status, err.code, err.message)
    except ValidationError as err:
        return error_response(req, 400, "InvalidParameter", str(err))
    except NotFound as err:
        return error_response(req, 404, "NotFound", str(err))
    except Conflict as err:
        from ..ports.records import StaleWrite
        if isinstance(err, StaleWrite):     # the store's own words stay in the log
            log.warning("stale write", extra={"fields": {"request_id": req.request_id, "error": str(err)}})
            return error_response(req, 409, "Conflict", "the record changed while this request ran; try again")
        return error_response(req, 409, "Conflict", str(err))
    except CloudError as err:       # the cloud's own codes and texts stay in the log, with this RequestId
        log.warning("cloud error", extra={"fields": {"request_id": req.request_id, "action": err.action,
                                                     "code": err.code, "cloud_request_id": err.request_id,
                                                     "error": err.message[:500]}})
        if err.transient:
            return error_response(req, 503, "CloudUnavailable", "a cloud service is busy or unreachable; try again")
        action = err.action if re.fullmatch(r"[A-Z][A-Za-z]+", err.action or "") else "a cloud call"
        return error_response(req, 502, "CloudError", f"{action} failed; the logs have it under this RequestId")
    except NestBackupError as err:
        return error_response(req, 400, type(err).__name__, str(err))
    except Exception:
        log.exception("unhandled API error", extra={"fields": {"request_id": req.request_id}})
        return error_response(req, 500, "InternalError", "the request failed; see the logs for this RequestId")


def single_valued(req: Request, route: Route) -> None:
    """FC's HTTP trigger delivers a repeated query parameter as its values joined by commas (docs/cloud-fidelity.md,
    "HTTP trigger: repeated query parameter"). A parameter of one token (an id, a number, a time, one of a set) has
    no comma of its own: one there is refused in words rather than read as one odd value or, worse, as the last one
    given. A free-text parameter is its route's to read (a comma-separated list takes both forms)."""
    for param in route.params:
        if param.where == "query" and _one_token(param.schema) and "," in req.query.get(param.name, ""):
            raise ApiError(400, "InvalidParameter", f"{param.name} takes one value; it was given more than once "
                                                    f"or with a comma")


def _one_token(schema: Schema) -> bool:
    return schema is ID or schema.get("type") == "integer" or "format" in schema or "enum" in schema


def _dispatch(req: Request, path: str, wiring_factory: Callable[[], Ports], admin_token: str | None,
              caller: list[Principal]) -> Response:
    """The route of this method and path, for the caller (added to `caller` once known). A path's access checks come
    before its method is checked, as a tenant must not learn which methods another tenant's paths have."""
    principal = authorize(req, admin_token, wiring_factory)
    caller.append(principal)
    w = wiring_factory()
    on_path = [(route, params) for route in route_table() if (params := route.match(path)) is not None]
    if not on_path:
        raise ApiError(404, "NotFound", f"no such endpoint: {req.method} {path}")
    first, path_params = on_path[0]
    if first.admin_only and not principal.admin:
        raise ApiError(403, "Forbidden", first.admin_only)
    if first.instance_first:
        visible_instance(principal, path_params["id"])
    route = next((route for route, _ in on_path if route.method == req.method), None)
    if route is None:
        raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed on {first.resource}")
    if route.admin_only and not principal.admin:    # one method of a path the tenant may read (backup-settings)
        raise ApiError(403, "Forbidden", route.admin_only)
    single_valued(req, route)
    if req.body:
        require_json_media_type(req)
        if route.body is None:      # {} at most: a field this route would not read is refused, not ignored
            json_body(req, set(), set())
    return route.handler(Call(req, w, principal, path_params))
