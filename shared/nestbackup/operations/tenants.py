"""Tenants: bearer tokens mapped to the service instances a caller may act on.

Tokens are random, shown once, and stored only as their SHA-256 (collection `tenants`, keyed by the hash; the
collection `tenant-names` maps a name to its hash). The admin token (NESTBACKUP_ADMIN_TOKEN) manages tenants and may
act on every service instance.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from ..errors import Conflict, NotFound, ValidationError
from .backup import SERVICE_INSTANCE_ID

TENANTS, NAMES = "tenants", "tenant-names"
TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Principal:
    name: str
    instances: frozenset[str] | None      # None: every service instance (the admin)

    @property
    def admin(self) -> bool:
        return self.instances is None

    def may_act_on(self, service_instance_id: str) -> bool:
        return self.instances is None or service_instance_id in self.instances


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(w, token: str, admin_token: str | None) -> Principal | None:
    """The principal a bearer token stands for, or None."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal("admin", None)
    found = w.records.get_doc(TENANTS, _hash(token))
    if found is None:
        return None
    return Principal(found[0]["Name"], frozenset(found[0]["Instances"]))


def _validate(name: str, instances: list[str]) -> None:
    if not isinstance(name, str) or not TENANT_NAME.match(name):
        raise ValidationError("Name must be 1-64 letters, digits or _.- starting with a letter or digit")
    if not isinstance(instances, list) or not instances or len(instances) > 1000 or \
            not all(isinstance(i, str) and SERVICE_INSTANCE_ID.match(i) for i in instances):
        raise ValidationError("Instances must be a list of 1-1000 service instance ids")


def _validate_webhook(url: str | None) -> None:
    if url is None:
        return
    if not isinstance(url, str) or len(url) > 2048 or not re.match(r"^https?://[^\s/]+(/\S*)?$", url):
        raise ValidationError("Webhook must be an http(s) URL")


def create_tenant(w, name: str, instances: list[str], now: float | None = None, webhook: str | None = None) -> dict:
    _validate(name, instances)
    _validate_webhook(webhook)
    if w.records.get_doc(NAMES, name) is not None:
        raise Conflict(f"tenant {name} exists")
    token = "nbt_" + secrets.token_urlsafe(32)
    digest = _hash(token)
    w.records.put_doc(TENANTS, digest, {"Name": name, "Instances": sorted(set(instances)), "Webhook": webhook,
                                        "CreatedEpoch": time.time() if now is None else now})
    w.records.put_doc(NAMES, name, {"Hash": digest})
    return {"Name": name, "Instances": sorted(set(instances)), "Token": token}


def list_tenants(w) -> dict:
    return {"Tenants": [{"Name": doc["Name"], "Instances": doc["Instances"], "Webhook": bool(doc.get("Webhook"))}
                        for _, doc, _ in w.records.docs(TENANTS)]}


def delete_tenant(w, name: str) -> dict:
    found = w.records.get_doc(NAMES, name) if isinstance(name, str) and TENANT_NAME.match(name) else None
    if found is None:
        raise NotFound(f"no tenant {name!r}")
    w.records.delete_doc(TENANTS, found[0]["Hash"])
    w.records.delete_doc(NAMES, name)
    return {"Name": name, "Deleted": True}
