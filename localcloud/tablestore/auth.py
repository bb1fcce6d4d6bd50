"""Tablestore request signatures (v2 HMAC-SHA1, v4 HMAC-SHA256) and signed responses.

Mirrors `tablestore/auth.py` and `protocol.py` of the SDK: the request string to sign is
"/<Api>\\nPOST\\n\\n" + sorted "name:value" x-ots-* headers (minus the signature itself) + "\\n" (+ "ots" for v4);
a 2xx response carries x-ots-contentmd5/requestid/date/contenttype and
`authorization: OTS <ak>:b64(HMAC-SHA1(signing_key, sorted x-ots-* headers + "\\n" + "/<Api>"))`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import datetime, timezone

from .errors import auth_failed

MAX_SKEW_SECONDS = 15 * 60
_SIGNATURE_HEADERS = ("x-ots-signature", "x-ots-signaturev4")


def _headers_string(headers: dict, skip=()) -> str:
    items = [f"{k.lower()}:{str(v).strip()}" for k, v in headers.items()
             if k.lower().startswith("x-ots-") and k.lower() not in skip]
    return "\n".join(sorted(items))


def v4_signing_key(secret: str, sign_date: str, region: str) -> bytes:
    key = ("aliyun_v4" + secret).encode()
    for part in (sign_date, region, "ots", "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return base64.b64encode(key)


def verify_request(api: str, headers: dict, credentials: dict[str, str]) -> tuple[str, bytes]:
    """Check the request's signature and date; return (access_key_id, response signing key)."""
    ak = headers.get("x-ots-accesskeyid", "")
    secret = credentials.get(ak)
    if not ak or secret is None:
        raise auth_failed("The AccessKeyID does not exist.")
    date = headers.get("x-ots-date", "")
    try:
        sent = datetime.strptime(date, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    except ValueError:
        raise auth_failed(f"Invalid date format: {date!r}.") from None
    if abs((datetime.now(timezone.utc) - sent).total_seconds()) > MAX_SKEW_SECONDS:
        raise auth_failed("Mismatch between system time and x-ots-date: the difference is more than 15 minutes.")
    base = f"/{api}\nPOST\n\n" + _headers_string(headers, _SIGNATURE_HEADERS) + "\n"
    if "x-ots-signaturev4" in headers:
        sign_date, region = headers.get("x-ots-signdate", ""), headers.get("x-ots-signregion", "")
        if not sign_date or not region:
            raise auth_failed("x-ots-signdate and x-ots-signregion are required with x-ots-signaturev4.")
        key = v4_signing_key(secret, sign_date, region)
        expected = base64.b64encode(hmac.new(key, (base + "ots").encode(), hashlib.sha256).digest()).decode()
        given = headers["x-ots-signaturev4"]
    elif "x-ots-signature" in headers:
        key = secret.encode()
        expected = base64.b64encode(hmac.new(key, base.encode(), hashlib.sha1).digest()).decode()
        given = headers["x-ots-signature"]
    else:
        raise auth_failed("The request is not signed: x-ots-signature is missing.")
    if not hmac.compare_digest(expected.encode(), given.strip().encode()):
        raise auth_failed("Signature mismatch.")
    return ak, key


def new_request_id() -> str:
    return str(uuid.uuid4())


def response_headers(api: str, body: bytes, request_id: str, ak: str | None = None,
                     key: bytes | None = None) -> dict[str, str]:
    now = datetime.now(timezone.utc)
    headers = {
        "x-ots-contentmd5": base64.b64encode(hashlib.md5(body).digest()).decode(),
        "x-ots-requestid": request_id,
        "x-ots-date": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "x-ots-contenttype": "protocol buffer",
    }
    if ak is not None and key is not None:
        to_sign = _headers_string(headers) + "\n" + f"/{api}"
        signature = base64.b64encode(hmac.new(key, to_sign.encode(), hashlib.sha1).digest()).decode()
        headers["authorization"] = f"OTS {ak}:{signature}"
    return headers
