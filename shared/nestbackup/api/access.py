"""Who may see what at the API edge: the caller's principal from its bearer token, and the one check that a service
instance (or a record of one) is the caller's; another tenant's is answered as missing."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .http import ApiError, Request

if TYPE_CHECKING:
    from ..operations.tenants import Principal
    from ..ports import Ports


def authorize(req: Request, admin_token: str | None, wiring_factory: Callable[[], Ports]) -> Principal:
    """The caller's principal: the admin, or a tenant confined to its service instances. The admin token is
    `admin_token` when given (tests), else the deployment's secret; a token that matches nothing reads the secret
    again (it may have been rotated), at most once a minute."""
    from ..operations.tenants import authenticate
    auth = req.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "Unauthorized", "a bearer token is required (Authorization: Bearer <token>)")
    if len(token) > 256:
        raise ApiError(401, "Unauthorized", "the bearer token is not valid")
    w = wiring_factory()
    admin = admin_token if admin_token is not None else w.admin_token()
    principal = authenticate(w, token, admin)
    if principal is None and admin_token is None:
        rotated = w.admin_token(fresh=True)
        if rotated and rotated != admin:
            principal = authenticate(w, token, rotated)
    if principal is None:
        raise ApiError(401, "Unauthorized", "the bearer token is not valid")
    return principal


def hidden(what: str) -> ApiError:
    """Another tenant's record or instance: answered as if it did not exist."""
    return ApiError(404, "NotFound", f"no {what}")


def visible_instance(principal: Principal, service_instance_id: object) -> None:
    """Refuse a service instance the caller may not act on. A value that is not a string is left to the operation,
    which refuses it as invalid."""
    if isinstance(service_instance_id, str) and not principal.may_act_on(service_instance_id):
        raise hidden(f"service instance {service_instance_id}")


def own_record(w: Ports, principal: Principal, kind: str, record_id: str) -> dict[str, Any]:
    """A backup or restore record the caller may see; another tenant's is answered as missing."""
    from ..operations import backup, restore
    record = backup.get_backup(w, record_id) if kind == "backups" else restore.get_restore(w, record_id)
    if not principal.may_act_on(record["ServiceInstanceId"]):
        raise hidden(f"{kind[:-1]} {record_id}")
    return record
