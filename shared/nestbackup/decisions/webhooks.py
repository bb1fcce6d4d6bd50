"""Webhook decisions without I/O: which URLs and addresses a delivery may go to, how it is signed, when it is retried.

A webhook URL is the tenant's input, but the request is sent from inside the provider's account: without these rules
a tenant could make the functions call the metadata service (100.100.100.200 on Alibaba Cloud, 169.254.169.254
elsewhere), the VPC's private services or loopback (server-side request forgery).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from enum import Enum
from urllib.parse import urlsplit


class DeliveryStatus(str, Enum):
    """Where one webhook delivery is (the deliveries collection)."""
    PENDING = "Pending"           # due at NextEpoch
    DELIVERED = "Delivered"
    DEAD_LETTER = "DeadLetter"    # every attempt failed, or the address may not be called
    DROPPED = "Dropped"           # the tenant or the record is gone

    def __str__(self) -> str:
        return str(self.value)


# Standard Webhooks 1.0.0 (github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md): every delivery.
WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE = "webhook-id", "webhook-timestamp", "webhook-signature"
SECRET_PREFIX = "whsec_"                        # then the key in base64; the spec asks for 24 to 64 random bytes
# The headers before Standard Webhooks, still sent to tenants in the legacy format (docs/events.md, the overlap):
SIGNATURE_HEADER = "X-Nestbackup-Signature"     # t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">[,v1=…]
DELIVERY_HEADER = "X-Nestbackup-Delivery"       # the same id on every attempt of one delivery: receivers dedupe on it
TIMESTAMP_HEADER = "X-Nestbackup-Timestamp"
MAX_ATTEMPTS = 8                                # then the delivery is kept as a dead letter
FIRST_RETRY_SECONDS, MAX_RETRY_SECONDS = 60, 3600
SECRET_GRACE_SECONDS = 24 * 3600                # after a rotation the previous secret also signs for this long

# Addresses a webhook must not reach unless the admin allows private targets: any the standard library does not call
# global, and any IPv6 form that carries such an IPv4 address (a 6to4 relay or a NAT64 gateway would forward to it).
# Alibaba Cloud's metadata service is 100.100.100.200, inside the carrier-grade NAT range 100.64.0.0/10 (not global).
# Site-local fec0::/10 (deprecated by RFC 3879, still routed by some networks) is global to Python 3.10 and 3.11, so
# it is named here. NAT64 (64:ff9b::/96, and the local-use 64:ff9b:1::/48 of RFC 8215) and IPv4-compatible addresses
# lie in the reserved ::/8, refused whatever they carry; the IPv4 they carry is checked first only to name the reason.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")           # RFC 6052: the IPv4 address is the last 32 bits
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")        # deprecated (RFC 4291): ::a.b.c.d

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookRefused(ValueError):
    """The URL or the address it resolves to may not be called."""


def check_url(url: object) -> str:
    """The URL's host, or WebhookRefused: http(s) only, a host, no credentials in it, a valid port."""
    if not isinstance(url, str) or len(url) > 2048 or any(c.isspace() or ord(c) < 32 for c in url):
        raise WebhookRefused("Webhook must be an http(s) URL of at most 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookRefused("Webhook is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused("Webhook must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise WebhookRefused("Webhook must not carry credentials (user:password@); sign deliveries instead")
    if port == 0:
        raise WebhookRefused("Webhook port must be 1-65535")
    return parts.hostname


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: IPv4-compatible, 6to4 (2002::/16), Teredo (2001::/32: its server
    and its client), NAT64 (64:ff9b::/96). IPv4-mapped addresses are judged as the IPv4 address they are."""
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    if ip.teredo is not None:
        return list(ip.teredo)
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):      # :: and ::1 are no IPv4's
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    return []


def _private_kind(ip: IPAddress) -> str | None:
    """What kind of non-global address this is, or None for a global one."""
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (metadata service)"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "carrier-grade NAT (Alibaba Cloud's metadata service lives here)"
    if isinstance(ip, ipaddress.IPv6Address) and ip in _SITE_LOCAL:
        return "site-local"
    if not ip.is_global:
        return "private"
    return None


def _refusal(ip: IPAddress, allow_private: bool) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return _refusal(ip.ipv4_mapped, allow_private)
    if ip.is_unspecified or ip.is_multicast:
        return f"{ip} is not a unicast address"
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in embedded_ipv4(ip):
            reason = _refusal(inner, allow_private)
            if reason:
                return f"{ip} carries {inner}: {reason}"
    if ip.is_reserved and not ip.is_loopback:       # ::/8 holds ::1 (loopback) beside the unassigned and NAT64 ones
        return f"{ip} is in a reserved range"
    kind = _private_kind(ip)
    if kind and not allow_private:
        return f"{ip} is a {kind} address (the admin may allow private targets)"
    return None


def refused_address(address: str, allow_private: bool = False) -> str | None:
    """Why a delivery may not go to this IP address, or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    return _refusal(ip, allow_private)


def literal_address_refusal(host: str, allow_private: bool = False) -> str | None:
    """For a host written as an IP address, why it is refused; names are checked after resolution, at delivery."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return refused_address(host.strip("[]"), allow_private)


class WebhookFormat(str, Enum):
    """What a tenant's webhook receives (docs/events.md)."""
    CLOUDEVENTS = "cloudevents"   # the event as a structured CloudEvent, Standard Webhooks headers
    LEGACY = "legacy"             # the record as the body (a binary-mode CloudEvent), both header sets

    def __str__(self) -> str:
        return str(self.value)


def tenant_format(tenant: dict[str, object]) -> WebhookFormat:
    """A tenant stored before the formats existed receives what it always did, until the admin moves it."""
    return WebhookFormat(tenant.get("WebhookFormat") or WebhookFormat.LEGACY.value)


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for. Secrets made before Standard Webhooks are the URL-safe base64
    alphabet without padding; those made since, the standard one: the two differ only in `-_` for `+/`, so one
    reading serves both, and an old secret keeps its key (docs/events.md: its standard spelling)."""
    body = secret.removeprefix(SECRET_PREFIX).translate(str.maketrans("-_", "+/"))
    return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)


def standard_secret(secret: str) -> str:
    """The secret as the spec spells it (standard base64): what a receiver gives the Standard Webhooks library."""
    return SECRET_PREFIX + base64.b64encode(secret_key(secret)).decode()


def standard_signature(secrets: list[str], message_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per secret (the current
    one first, then one still in its grace period), space-separated."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join("v1," + base64.b64encode(hmac.new(secret_key(s), signed, hashlib.sha256).digest()).decode()
                    for s in secrets)


def legacy_signature(secrets: list[str], timestamp: int, body: bytes) -> str:
    """`X-Nestbackup-Signature`: `t=…,v1=<hex>` with one v1 per secret, keyed by the secret's text as before."""
    signed = f"{timestamp}.".encode() + body
    return ",".join([f"t={timestamp}"] + [f"v1={hmac.new(s.encode(), signed, hashlib.sha256).hexdigest()}"
                                          for s in secrets])


def delivery_id(record_id: str, status: str, tenant: str) -> str:
    """One id per (final record, tenant): a second notify of the same record finds it taken."""
    return "whd-" + hashlib.sha256(f"{record_id}\n{status}\n{tenant}".encode()).hexdigest()[:32]


def retry_delay(attempts: int) -> int:
    """Seconds before the next attempt after `attempts` failed ones: 1, 2, 4, … minutes, at most an hour."""
    return int(min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1)))
