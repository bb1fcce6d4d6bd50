"""Server-side checks of the two Alibaba Cloud RPC signatures the SDKs send.

ACS3-HMAC-SHA256 (ECS, RDS, FC3) and SignatureVersion 1.0 (FNF). The recipes mirror
alibabacloud_tea_openapi.utils so that a request signed with the wrong secret is refused.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote, quote_plus

from .errors import ServiceError


def _acs3_canonical_query(query: dict[str, str]) -> str:
    return "&".join(f"{k}={quote(query[k], safe='~', encoding='utf-8')}" for k in sorted(query))


def verify_acs3(method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes,
                secrets: dict[str, str]) -> str:
    """Return the access key id of a correctly signed ACS3 request, else raise ServiceError."""
    auth = headers.get("authorization", "")
    if not auth.startswith("ACS3-HMAC-SHA256 "):
        raise ServiceError("MissingAuthorization", "The request is not signed with ACS3-HMAC-SHA256.", 400)
    fields = dict(part.strip().split("=", 1) for part in auth[len("ACS3-HMAC-SHA256 "):].split(",") if "=" in part)
    ak, signed, signature = fields.get("Credential", ""), fields.get("SignedHeaders", ""), fields.get("Signature", "")
    secret = secrets.get(ak)
    if secret is None:
        raise ServiceError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
    payload = hashlib.sha256(body).hexdigest()
    if headers.get("x-acs-content-sha256", payload) != payload:
        raise ServiceError("IncompleteSignature", "The request body does not match x-acs-content-sha256.", 400)
    names = [n for n in signed.split(";") if n]
    canonical_headers = "".join(f"{n}:{headers.get(n, '').strip()}\n" for n in names)
    canonical = f"{method}\n{path or '/'}\n{_acs3_canonical_query(query)}\n{canonical_headers}\n{signed}\n{payload}"
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    expected = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise ServiceError("SignatureDoesNotMatch",
                           "The request signature does not conform to Aliyun standards.", 400)
    return ak


def verify_v1(method: str, query: dict[str, str], form: dict[str, str], secrets: dict[str, str]) -> str:
    """Return the access key id of a correctly signed SignatureVersion 1.0 request, else raise ServiceError."""
    params = {**query, **form}
    signature = params.pop("Signature", None)
    ak = params.get("AccessKeyId", "")
    if signature is None:
        raise ServiceError("MissingSignature", "Signature is mandatory for this action.", 400)
    secret = secrets.get(ak)
    if secret is None:
        raise ServiceError("InvalidAccessKeyId.NotFound", "Specified access key is not found.", 404)
    canonical = "".join(f"&{quote(k, safe='~')}={quote(params[k], safe='~')}" for k in sorted(params))
    to_sign = f"{method}&%2F&{quote_plus(canonical[1:], safe='~')}"
    expected = base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()
    if not hmac.compare_digest(expected, signature):
        raise ServiceError("SignatureDoesNotMatch",
                           "Specified signature is not matched with our calculation.", 400)
    return ak
