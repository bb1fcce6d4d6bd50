"""The audit entry of one mutating request, made at the API edge once its answer is known, so no operation has to
take part: who asked (the principal's name, never its token), which route, the ids it named (in its path, its body
or the answer), the outcome (status and error code), the request id and the source address. The trail itself:
operations/audit.py."""
from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any, Callable

from .http import Request, Response
from .inputs import MAX_BODY, MAX_NESTING, nesting
from .routes import Route, route_table

if TYPE_CHECKING:
    from ..operations.tenants import Principal
    from ..ports import Ports

log = logging.getLogger("nestbackup.api")
MUTATING = ("POST", "PUT", "DELETE")
_ID = re.compile(r"[\x21-\x7e]{1,128}", re.ASCII)      # what an id of ours can be; anything else is not kept


def audited_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The mutating route this request is for, with its path parameters; None for reads (a POST that changes
    nothing, such as a restore preview, included) and unknown routes."""
    if method not in MUTATING:
        return None
    for route in route_table():
        params = route.match(path) if route.method == method else None
        if params is not None:
            return None if route.changes_nothing else (route, params)
    return None


def _kept(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) and _ID.fullmatch(value) else "(not an id)"


def _sent(req: Request) -> dict[str, Any]:
    """The body's fields, if it is a JSON object the API could read (else nothing: the refusal says why)."""
    if not req.body or len(req.body) > MAX_BODY or nesting(req.body) > MAX_NESTING:
        return {}
    try:
        body = json.loads(req.body.decode("utf-8"))
    except (ValueError, RecursionError):
        return {}
    return body if isinstance(body, dict) else {}


def entry(route: Route, params: dict[str, str], req: Request, response: Response,
          principal: Principal | None) -> dict[str, Any]:
    sent = _sent(req)
    answer = response.body if isinstance(response.body, dict) and response.status < 400 else {}
    on = params.get("id")
    instance_path, tenant_path = route.path.startswith("/service-instances/"), route.path.startswith("/tenants")
    record_path = not (instance_path or tenant_path)
    fields = {
        "Principal": principal.name if principal else None,
        "Admin": bool(principal and principal.admin),
        "Action": route.action,
        "ServiceInstanceId": _kept(answer.get("ServiceInstanceId") or sent.get("ServiceInstanceId")
                                   or (on if instance_path else None)),
        "RecordId": _kept(answer.get("RestoreId") or answer.get("BackupId") or sent.get("BackupId")
                          or (on if record_path else None)),
        "Tenant": _kept((answer.get("Name") or sent.get("Name") or on) if tenant_path else None),
        "Status": response.status,
        "ErrorCode": response.body.get("Code") if response.status >= 400 and isinstance(response.body, dict)
        else None,
        "SourceIp": _kept(req.source_ip),
        "Reason": sent["Reason"][:500] if isinstance(sent.get("Reason"), str) else None,   # a lifted lock's
    }
    return {name: value for name, value in fields.items() if value is not None}     # what is unknown is absent


def record(wiring_factory: Callable[[], Ports], route: Route, params: dict[str, str], req: Request,
           response: Response, principal: Principal | None) -> None:
    """Append the entry. The answer stands whatever happens here (the operation is done); an entry the store
    refuses is logged whole instead, under its request id."""
    from ..operations import audit
    fields = entry(route, params, req, response, principal)
    try:
        audit.append(wiring_factory(), fields, req.request_id)
    except Exception:
        log.exception("audit entry not stored", extra={"fields": {"request_id": req.request_id, **fields}})
