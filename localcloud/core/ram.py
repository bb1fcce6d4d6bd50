"""RAM as the functions meet it: each function's role, the temporary (STS) credentials FC hands the function in
its context, and the check of every call those credentials sign against the role's policy.

A role is attached with its policy document (`attach_role`); the local cloud then issues the role an AccessKey pair
and a security token, which `Functions.context` passes to every invocation of a function whose s.yaml `role` names
it. A call signed with a role's key is allowed only if a statement of its policy allows the action on the resource
and none denies it (explicit Deny wins; what nothing allows is denied) [RAM policy evaluation, docs/cloud-fidelity.md
"RAM"]. Actions and resources match with `*` and `?` wildcards; actions case-insensitively. Conditions are not
evaluated (the derived policies have none). Keys that no role was issued (the account's own, the deployer's) are
not checked: an Alibaba Cloud account's AccessKey may call everything.

Each product answers a refusal with its own documented error (`refusal`): the RPC products 403 Forbidden.RAM,
Tablestore 403 OTSAuthFailed.
"""
from __future__ import annotations

import fnmatch
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from .errors import ServiceError

# The error each product answers a call outside the caller's policy with (docs/cloud-fidelity.md, "RAM").
_RPC_DENIED = ("Forbidden.RAM", "User not authorized to operate on the specified resource, or this API doesn't "
                                "support RAM.")
REFUSALS = {"ots": ("OTSAuthFailed", "The user has no privilege to access the instance.")}


@dataclass(frozen=True)
class RoleCredentials:
    access_key_id: str
    access_key_secret: str
    security_token: str


def refusal(product: str, action: str, resource: str) -> ServiceError:
    code, message = REFUSALS.get(product, _RPC_DENIED)
    return ServiceError(code, f"{message} Action: {product}:{action}, Resource: {resource}", 403)


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(patterns: list[str], value: str, fold: bool) -> bool:
    if fold:
        return any(fnmatch.fnmatchcase(value.lower(), p.lower()) for p in patterns)
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def allows(policy: dict, action: str, resource: str) -> bool:
    """Whether `policy` allows `action` ("ecs:CreateSnapshot") on `resource` (an ARN)."""
    allowed = False
    for statement in policy.get("Statement", []):
        if not (_matches(_as_list(statement.get("Action")), action, True)
                and _matches(_as_list(statement.get("Resource")), resource, False)):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


class Ram:
    def __init__(self, credentials: dict[str, str]) -> None:
        self._credentials = credentials          # the cloud's key pairs: the roles' keys are added to them
        self._lock = threading.Lock()
        self._roles: dict[str, RoleCredentials] = {}
        self._policies: dict[str, dict] = {}
        self._role_of_key: dict[str, str] = {}

    @property
    def enforcing(self) -> bool:
        return bool(self._roles)

    def attach_role(self, role: str, policy: dict) -> RoleCredentials:
        """Give `role` this policy (replacing the one it had) and, the first time, its temporary credentials."""
        role = role.lower()        # RAM role names are case-insensitive; fc3 lower-cases them (s.yaml)
        with self._lock:
            self._policies[role] = policy
            if role not in self._roles:
                creds = RoleCredentials(f"STS.{secrets.token_hex(10)}", secrets.token_urlsafe(24),
                                        secrets.token_urlsafe(48))
                self._roles[role] = creds
                self._role_of_key[creds.access_key_id] = role
                self._credentials[creds.access_key_id] = creds.access_key_secret
            return self._roles[role]

    def credentials_of(self, role: str) -> RoleCredentials | None:
        return self._roles.get(role.rsplit("/", 1)[-1].lower()) if role else None

    def policy_of(self, role: str) -> dict | None:
        return self._policies.get(role.lower())

    def check_token(self, access_key_id: str, token: str | None, product: str = "") -> None:
        """A role's key is valid only with the security token issued with it."""
        role = self._role_of_key.get(access_key_id)
        if role is not None and token != self._roles[role].security_token:
            if product == "ots":        # Tablestore's authentication failures are all OTSAuthFailed
                raise ServiceError("OTSAuthFailed", "The security token is invalid.", 403)
            raise ServiceError("InvalidSecurityToken.Mismatch", "Specified SecurityToken is not valid.", 400)

    def authorize(self, access_key_id: str, product: str, action: str, resource: str) -> None:
        """Raise the product's documented refusal when a role's key calls outside the role's policy."""
        role = self._role_of_key.get(access_key_id)
        if role is None:
            return
        if not allows(self._policies[role], f"{product}:{action}", resource):
            raise refusal(product, action, resource)


# The resource an RPC call acts on, as RAM names it: `acs:<code>:<region>:<account>:<type>/<id>` from the first id
# parameter the call carries (e.g. ecs:CreateSnapshot on disk/d-…), else every resource of that type in the region.
_RPC_RESOURCE_PARAMS = {
    "ecs": (("DiskId", "disk"), ("InstanceId", "instance"), ("SnapshotId", "snapshot"),
            ("SnapshotGroupId", "snapshotgroup")),
    "rds": (("DBInstanceId", "dbinstance"),),
    "fnf": (("FlowName", "flow"),),
    "computenest": (("ServiceInstanceId", "serviceinstance"),),
    "kms": (("SecretName", "secret"),),
}


# Actions whose API reference documents "All Resources" (no resource-level authorization): RAM checks them against
# no particular resource, so only a statement whose Resource is "*" allows them (docs/cloud-fidelity.md, "RAM").
ALL_RESOURCES = frozenset({"rds:DescribeHistoryTasks", "fnf:StartExecution", "fnf:DescribeFlow"})


def rpc_resource(product: str, region: str, account: str, params: dict[str, str], action: str = "") -> str:
    if f"{product}:{action}" in ALL_RESOURCES:
        return "*"
    for param, kind in _RPC_RESOURCE_PARAMS.get(product, ()):
        value = params.get(param)
        if value:
            if value.startswith("acs:"):       # already an ARN (KMS accepts a secret's ARN as its name)
                return value
            return f"acs:{product}:{region}:{account}:{kind}/{value}"
    kinds = _RPC_RESOURCE_PARAMS.get(product, ())
    return f"acs:{product}:{region}:{account}:{kinds[0][1] if kinds else ''}/*" if kinds else \
        f"acs:{product}:{region}:{account}:*"
