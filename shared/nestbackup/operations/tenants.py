"""Tenants: bearer tokens mapped to the service instances a caller may act on.

Tokens are random, shown once, and stored only as their SHA-256 (collection `tenants`, keyed by the hash; the
collection `tenant-names` maps a name to its hash). The admin token (NESTBACKUP_ADMIN_TOKEN) manages tenants and may
act on every service instance.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from typing import NamedTuple

from ..decisions import webhooks
from ..errors import Conflict, NotFound, ValidationError
from ..model.ids import is_service_instance_id
from ..ports import Ports

TENANTS, NAMES = "tenants", "tenant-names"
TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


class Principal(NamedTuple):
    """Who calls the API, and the service instances it may see."""
    name: str
    instances: frozenset[str] | None      # None: every service instance (the admin)

    @property
    def admin(self) -> bool:
        return self.instances is None

    def may_act_on(self, service_instance_id: str) -> bool:
        return self.instances is None or service_instance_id in self.instances


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(w: Ports, token: str, admin_token: str | None) -> Principal | None:
    """The principal a bearer token stands for, or None."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal("admin", None)
    found = w.documents.get_doc(TENANTS, _hash(token))
    if found is None:
        return None
    return Principal(found[0]["Name"], frozenset(found[0]["Instances"]))


def _validate(name: str, instances: list[str]) -> None:
    if not isinstance(name, str) or not TENANT_NAME.match(name):
        raise ValidationError("Name must be 1-64 letters, digits or _.- starting with a letter or digit")
    if not isinstance(instances, list) or not instances or len(instances) > 1000 or \
            not all(is_service_instance_id(i) for i in instances):
        raise ValidationError("Instances must be a list of 1-1000 service instance ids")


def _validate_webhook(w: Ports, url: str | None) -> None:
    """URL rules, and addresses written as IPs; a name is checked against what it resolves to at each delivery."""
    if url is None:
        return
    try:
        host = webhooks.check_url(url)
    except webhooks.WebhookRefused as err:
        raise ValidationError(str(err)) from None
    reason = webhooks.literal_address_refusal(host, w.settings.webhook_allow_private)
    if reason:
        raise ValidationError(f"Webhook refused: {reason}")


def _new_secret() -> str:
    """32 random bytes in standard base64 behind `whsec_`, as Standard Webhooks spells a symmetric secret."""
    return webhooks.SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def create_tenant(w: Ports, name: str, instances: list[str], now: float | None = None,
                  webhook: str | None = None) -> dict:
    _validate(name, instances)
    _validate_webhook(w, webhook)
    token = "nbt_" + secrets.token_urlsafe(32)
    digest = _hash(token)
    # The name row is taken first, only if free: of two creations at once one gets it and the other writes nothing,
    # so every token row has the name that revokes it (a crash before the token row leaves a name delete clears).
    if not w.documents.create_doc(NAMES, name, {"Hash": digest}):
        raise Conflict(f"tenant {name} exists")
    secret = _new_secret() if webhook else None
    w.documents.put_doc(TENANTS, digest, {"Name": name, "Instances": sorted(set(instances)), "Webhook": webhook,
                                        "WebhookSecret": secret, "CreatedEpoch": time.time() if now is None else now,
                                        "WebhookFormat": str(webhooks.WebhookFormat.CLOUDEVENTS)})
    out = {"Name": name, "Instances": sorted(set(instances)), "Token": token}
    return out | ({"WebhookSecret": secret} if secret else {})


def _hooked_tenant(w: Ports, name: str) -> tuple[str, dict, int]:
    """The tenant's key, document and version; NotFound, or Conflict when it has no webhook."""
    found = w.documents.get_doc(NAMES, name) if isinstance(name, str) and TENANT_NAME.match(name) else None
    key = found[0]["Hash"] if found else None
    tenant = w.documents.get_doc(TENANTS, key) if key else None
    if key is None or tenant is None:
        raise NotFound(f"no tenant {name!r}")
    if not tenant[0].get("Webhook"):
        raise Conflict(f"tenant {name} has no webhook")
    return key, tenant[0], tenant[1]


def rotate_webhook_secret(w: Ports, name: str, now: float | None = None) -> dict:
    """A new signing secret, shown once; the previous one keeps signing beside it for SECRET_GRACE_SECONDS."""
    now = time.time() if now is None else now
    key, doc, version = _hooked_tenant(w, name)
    secret = _new_secret()
    w.documents.update_doc(TENANTS, key, {
        **doc, "WebhookSecret": secret, "PreviousWebhookSecret": doc.get("WebhookSecret"),
        "PreviousSecretUntil": now + webhooks.SECRET_GRACE_SECONDS}, version)
    return {"Name": name, "WebhookSecret": secret,
            "PreviousSecretValidSeconds": webhooks.SECRET_GRACE_SECONDS if doc.get("WebhookSecret") else 0}


def set_webhook_format(w: Ports, name: str, webhook_format: object) -> dict:
    """Move a tenant's webhook to the CloudEvents format once its receiver reads it (or back, to undo)."""
    formats = [str(f) for f in webhooks.WebhookFormat]
    if webhook_format not in formats:
        raise ValidationError(f"WebhookFormat must be one of {', '.join(formats)}")
    key, doc, version = _hooked_tenant(w, name)
    w.documents.update_doc(TENANTS, key, {**doc, "WebhookFormat": webhook_format}, version)
    return {"Name": name, "WebhookFormat": webhook_format}


def signing_secrets(doc: dict, now: float) -> list[str]:
    """The secrets a delivery to this tenant is signed with: the current one, and the previous during its grace."""
    out = [doc["WebhookSecret"]] if doc.get("WebhookSecret") else []
    if doc.get("PreviousWebhookSecret") and now < float(doc.get("PreviousSecretUntil") or 0):
        out.append(doc["PreviousWebhookSecret"])
    return out


def list_tenants(w: Ports) -> dict:
    return {"Tenants": [{"Name": doc["Name"], "Instances": doc["Instances"], "Webhook": bool(doc.get("Webhook"))}
                        | ({"WebhookFormat": str(webhooks.tenant_format(doc))} if doc.get("Webhook") else {})
                        for _, doc, _ in w.documents.docs(TENANTS)]}


def delete_tenant(w: Ports, name: str) -> dict:
    found = w.documents.get_doc(NAMES, name) if isinstance(name, str) and TENANT_NAME.match(name) else None
    if found is None:
        raise NotFound(f"no tenant {name!r}")
    w.documents.delete_doc(TENANTS, found[0]["Hash"])
    w.documents.delete_doc(NAMES, name)
    return {"Name": name, "Deleted": True}
