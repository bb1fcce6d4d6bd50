"""The HTTP API, independent of how requests arrive (FC HTTP trigger, local cloud mount, tests).

POST /backups, GET /backups?serviceInstanceId=…, GET /backups/{id}, and the same for /restores. Bearer-token auth;
errors as {"Code", "Message", "RequestId"} with a 4xx for anything the caller can fix.
"""
from __future__ import annotations

import json
import logging
import os
import re
import uuid
from dataclasses import dataclass, field

from ..errors import CloudError, Conflict, NestBackupError, NotFound, ValidationError

log = logging.getLogger("nestbackup.api")
MAX_BODY = 64 * 1024
MAX_NESTING = 32
_TEXT = re.compile("[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]*")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)   # lower-case names
    body: bytes = b""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class Response:
    status: int
    body: dict | str
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})

    def encoded(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else json.dumps(self.body).encode()


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _authorize(req: Request, admin_token: str | None, wiring_factory):
    """The caller's principal: the admin, or a tenant confined to its service instances."""
    from ..operations.tenants import authenticate
    auth = req.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "Unauthorized", "a bearer token is required (Authorization: Bearer <token>)")
    if len(token) > 256:
        raise ApiError(401, "Unauthorized", "the bearer token is not valid")
    principal = authenticate(wiring_factory(), token, admin_token)
    if principal is None:
        raise ApiError(401, "Unauthorized", "the bearer token is not valid")
    return principal


def _nesting(raw: bytes) -> int:
    """How deep arrays and objects nest, outside strings; checked before parsing, which would recurse that deep."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            escaped = not escaped and byte == 0x5C                # backslash
            in_string = escaped or byte != 0x22                    # quote ends the string unless escaped
            continue
        if byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _check_text(value, where: str = "body") -> None:
    """Strings must be valid Unicode text: no lone surrogates (JSON allows them, UTF-8 cannot carry them) and no
    control characters but tab and line breaks (they break log lines and strict parsers downstream)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _check_text(item, key if isinstance(key, str) else where)
    elif isinstance(value, list):
        for item in value:
            _check_text(item, where)
    elif isinstance(value, str) and not _TEXT.fullmatch(value):
        raise ApiError(400, "InvalidParameter", f"{where} must be text without control characters or lone "
                                                f"surrogates")


def _json_body(req: Request) -> dict:
    if len(req.body) > MAX_BODY:
        raise ApiError(413, "RequestTooLarge", f"the body exceeds {MAX_BODY} bytes")
    if _nesting(req.body) > MAX_NESTING:
        raise ApiError(400, "InvalidJson", f"the body nests deeper than {MAX_NESTING} levels")
    try:
        body = json.loads(req.body or b"{}")
    except (ValueError, RecursionError):
        raise ApiError(400, "InvalidJson", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidJson", "the body must be a JSON object")
    _check_text(body)
    return body


def _next_token(query: dict, kind: str) -> str | None:
    """Paging tokens are the last record id of the page before: anything else was not given by this API."""
    raw = query.get("nextToken")
    if raw in (None, ""):
        return None
    if not re.fullmatch(rf"{kind[:-1]}-[0-9a-f]{{12,40}}", raw):
        raise ApiError(400, "InvalidParameter", "nextToken is not a token this API returned")
    return raw


def _fields(body: dict, allowed: set[str], required: set[str]) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise ApiError(400, "InvalidParameter", f"unknown field(s): {', '.join(sorted(unknown))}")
    missing = [k for k in sorted(required) if body.get(k) in (None, "")]
    if missing:
        raise ApiError(400, "MissingParameter", f"{', '.join(missing)} is required")


def _int_param(query: dict, name: str, default: int, lo: int, hi: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,6}", raw) or not lo <= int(raw) <= hi:
        raise ApiError(400, "InvalidParameter", f"{name} must be a whole number from {lo} to {hi}")
    return int(raw)


def handle(req: Request, wiring_factory, admin_token: str | None = None) -> Response:
    """Route one request. `wiring_factory()` builds the adapters on first need (not for refused requests)."""
    admin_token = admin_token if admin_token is not None else os.environ.get("NESTBACKUP_ADMIN_TOKEN")
    path = req.path[4:] if req.path.startswith("/api/") or req.path == "/api" else req.path
    path = "/" + path.strip("/")
    if path == "/openapi.json" and req.method == "GET":
        from .openapi import document
        return Response(200, document())
    if path in ("/", "/console") and req.method == "GET":
        from .console import PAGE
        return Response(200, PAGE, {"content-type": "text/html; charset=utf-8",
                                    "content-security-policy": "default-src 'self'; script-src 'unsafe-inline' 'self';"
                                                               " style-src 'unsafe-inline'",
                                    "x-frame-options": "DENY"})
    try:
        principal = _authorize(req, admin_token, wiring_factory)
        return _route(req, path, wiring_factory, principal)
    except ApiError as err:
        return _error(req, err.status, err.code, err.message)
    except ValidationError as err:
        return _error(req, 400, "InvalidParameter", str(err))
    except NotFound as err:
        return _error(req, 404, "NotFound", str(err))
    except Conflict as err:
        from ..ports.records import StaleWrite
        if isinstance(err, StaleWrite):     # the store's own words stay in the log
            log.warning("stale write", extra={"fields": {"request_id": req.request_id, "error": str(err)}})
            return _error(req, 409, "Conflict", "the record changed while this request ran; try again")
        return _error(req, 409, "Conflict", str(err))
    except CloudError as err:       # the cloud's own codes and texts stay in the log, with this RequestId
        log.warning("cloud error", extra={"fields": {"request_id": req.request_id, "action": err.action,
                                                     "code": err.code, "cloud_request_id": err.request_id,
                                                     "error": err.message[:500]}})
        if err.transient:
            return _error(req, 503, "CloudUnavailable", "a cloud service is busy or unreachable; try again")
        action = err.action if re.fullmatch(r"[A-Z][A-Za-z]+", err.action or "") else "a cloud call"
        return _error(req, 502, "CloudError", f"{action} failed; the logs have it under this RequestId")
    except NestBackupError as err:
        return _error(req, 400, type(err).__name__, str(err))
    except Exception:
        log.exception("unhandled API error", extra={"fields": {"request_id": req.request_id}})
        return _error(req, 500, "InternalError", "the request failed; see the logs for this RequestId")


def _own_record(w, principal, kind: str, record_id: str) -> dict:
    """A backup or restore record the caller may see; another tenant's is answered as missing."""
    from ..operations import backup, restore
    record = backup.get_backup(w, record_id) if kind == "backups" else restore.get_restore(w, record_id)
    if not principal.may_act_on(record["ServiceInstanceId"]):
        raise _hidden(f"{kind[:-1]} {record_id}")
    return record


def _hidden(what: str) -> ApiError:
    """Another tenant's record or instance: answered as if it did not exist."""
    return ApiError(404, "NotFound", f"no {what}")


def _schedule(req: Request, si: str, w, principal) -> Response:
    from ..operations import schedules
    if not principal.may_act_on(si):
        raise _hidden(f"service instance {si}")
    if req.method == "GET":
        return Response(200, schedules.get_schedule(w, si))
    if req.method == "DELETE":
        return Response(200, schedules.delete_schedule(w, si))
    if req.method != "PUT":
        raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed on a schedule")
    body = _json_body(req)
    _fields(body, {"Cron", "KeepLast", "KeepDays", "Enabled"}, {"Cron"})
    return Response(200, schedules.set_schedule(w, si, body["Cron"], body.get("KeepLast"), body.get("KeepDays"),
                                                body.get("Enabled", True)))


def _tenants(req: Request, name: str | None, sub: str | None, w, principal) -> Response:
    from ..operations import tenants
    if not principal.admin:
        raise ApiError(403, "Forbidden", "only the admin token manages tenants")
    if name is not None and sub == "webhook-secret":
        if req.method != "POST":
            raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed on a webhook secret")
        return Response(200, tenants.rotate_webhook_secret(w, name))
    if name is not None and sub == "deliveries":
        if req.method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed on deliveries")
        from ..operations.notify import deliveries
        status = req.query.get("status") or None
        if status not in (None, "Pending", "Delivered", "DeadLetter", "Dropped"):
            raise ApiError(400, "InvalidParameter", "status must be Pending, Delivered, DeadLetter or Dropped")
        return Response(200, {"Deliveries": deliveries(w, name, status)})
    if name is not None:
        if req.method != "DELETE":
            raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed on /tenants/{{name}}")
        return Response(200, tenants.delete_tenant(w, name))
    if req.method == "GET":
        return Response(200, tenants.list_tenants(w))
    if req.method != "POST":
        raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed on /tenants")
    body = _json_body(req)
    _fields(body, {"Name", "Instances", "Webhook"}, {"Name", "Instances"})
    return Response(201, tenants.create_tenant(w, body["Name"], body["Instances"], webhook=body.get("Webhook")))


def _route(req: Request, path: str, wiring_factory, principal) -> Response:
    from ..operations import backup, restore
    w = wiring_factory()
    if path == "/leftovers":
        if not principal.admin:
            raise ApiError(403, "Forbidden", "only the admin token lists leftovers")
        if req.method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed on /leftovers")
        from ..operations.artifacts import leftovers
        return Response(200, leftovers(w))
    m = re.fullmatch(r"/tenants(?:/([^/]+)(?:/(webhook-secret|deliveries))?)?", path)
    if m:
        return _tenants(req, m[1], m[2], w, principal)
    m = re.fullmatch(r"/service-instances/([^/]+)/schedule", path)
    if m:
        return _schedule(req, m[1], w, principal)
    m = re.fullmatch(r"/service-instances/([^/]+)/plan", path)
    if m:
        if req.method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed on a plan")
        if not principal.may_act_on(m[1]):
            raise _hidden(f"service instance {m[1]}")
        from ..operations.plan import plan_backup
        return Response(200, plan_backup(w, m[1]))
    m = re.fullmatch(r"/(backups|restores)/([^/]+)/events", path)
    if m:
        if req.method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed on a timeline")
        _own_record(w, principal, m[1], m[2])
        return Response(200, {"Events": w.records.events(m[2])})
    m = re.fullmatch(r"/(backups|restores)/([^/]+)/cancel", path)
    if m:
        from ..operations import cancel
        if req.method != "POST":
            raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed on a cancel")
        kind, record_id = m[1], m[2]
        _own_record(w, principal, kind, record_id)
        if kind == "backups":
            cancel.cancel_backup(w, record_id)
            return Response(200, backup.get_backup(w, record_id))
        cancel.cancel_restore(w, record_id)
        return Response(200, restore.get_restore(w, record_id))
    m = re.fullmatch(r"/(backups|restores)(?:/([^/]+))?", path)
    if not m:
        raise ApiError(404, "NotFound", f"no such endpoint: {req.method} {path}")
    kind, record_id = m[1], m[2]
    if record_id is not None:
        if req.method not in ("GET", "DELETE") or (req.method == "DELETE" and kind != "backups"):
            raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed on /{kind}/{{id}}")
        record = _own_record(w, principal, kind, record_id)
        if req.method == "DELETE":
            from ..operations.artifacts import delete_backup
            return Response(200, delete_backup(w, record_id))
        return Response(200, record)
    if req.method == "GET":
        si = req.query.get("serviceInstanceId") or req.query.get("ServiceInstanceId")
        if not si:
            raise ApiError(400, "MissingParameter", "serviceInstanceId is required")
        if not principal.may_act_on(si):
            raise _hidden(f"service instance {si}")
        limit = _int_param(req.query, "maxResults", 20, 1, 100)
        listing = backup.list_backups if kind == "backups" else restore.list_restores
        return Response(200, listing(w, si, limit, _next_token(req.query, kind)))
    if req.method != "POST":
        raise ApiError(405, "MethodNotAllowed", f"{req.method} is not allowed on /{kind}")
    body = _json_body(req)
    if kind == "backups":
        _fields(body, {"ServiceInstanceId", "Description", "ClientToken"}, {"ServiceInstanceId"})
        si = body["ServiceInstanceId"]
        if isinstance(si, str) and not principal.may_act_on(si):
            raise _hidden(f"service instance {si}")
        return Response(202, backup.create_backup(w, si, body.get("Description") or "", body.get("ClientToken")))
    _fields(body, {"BackupId", "ClientToken", "SafetyBackup"}, {"BackupId"})
    source = backup.get_backup(w, body["BackupId"])
    if not principal.may_act_on(source["ServiceInstanceId"]):
        raise _hidden(f"backup {body['BackupId']}")
    return Response(202, restore.create_restore(w, body["BackupId"], body.get("ClientToken"),
                                                 body.get("SafetyBackup", True)))


def _error(req: Request, status: int, code: str, message: str) -> Response:
    return Response(status, {"Code": code, "Message": message, "RequestId": req.request_id})
