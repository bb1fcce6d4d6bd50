"""Reading what the caller sent: a bounded JSON body of text, known fields, and query parameters in range. Each
refusal is a 4xx the caller can fix.

Parsing is strict, as what is ambiguous to us may be read otherwise by whoever reads it next: a body is
`application/json` in UTF-8 (RFC 8259), with no duplicate keys (which one wins differs between parsers) and no NaN
or Infinity (not JSON); a whole number is ASCII digits only (`int()` and `str.isdigit()` take other scripts' digits
and superscripts), and never a boolean (Python's bool is an int).
"""
from __future__ import annotations

import json
import re
from typing import Any, Collection

from .http import ApiError, Request

MAX_BODY = 64 * 1024
MAX_NESTING = 32
_TEXT = re.compile("[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]*")


def nesting(raw: bytes) -> int:
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


def _check_text(value: object, where: str = "body") -> None:
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


_MEDIA_TYPE = re.compile(r'application/json\s*(;\s*charset\s*=\s*("utf-8"|utf-8)\s*)?', re.IGNORECASE | re.ASCII)


def require_json_media_type(req: Request) -> None:
    """A request that carries a body says it is JSON (`application/json`, optionally `; charset=utf-8`): a form or
    text body is refused rather than read as JSON it was not meant to be."""
    if req.body and not _MEDIA_TYPE.fullmatch(req.headers.get("content-type", "").strip()):
        raise ApiError(415, "UnsupportedMediaType", "a request body must be JSON: Content-Type: application/json")


class _Refused(ValueError):
    """Well-formed JSON this API does not take (a duplicate key, NaN or Infinity)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"the key {key[:64]!r} appears twice in one object")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _parse(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")        # not json.loads(bytes), which also takes UTF-16 and UTF-32
    except UnicodeDecodeError:
        raise ApiError(400, "InvalidJson", "the body is not UTF-8") from None
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _Refused as err:
        raise ApiError(400, "InvalidJson", f"the body is not valid JSON: {err}") from None
    except (ValueError, RecursionError):
        raise ApiError(400, "InvalidJson", "the body is not valid JSON") from None


def _check_types(body: dict[str, Any], integers: Collection[str], flags: Collection[str]) -> None:
    for name in integers:
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ApiError(400, "InvalidParameter", f"{name} must be a whole number")
    for name in flags:
        value = body.get(name)
        if value is not None and not isinstance(value, bool):
            raise ApiError(400, "InvalidParameter", f"{name} must be true or false")


def json_body(req: Request, allowed: set[str], required: set[str], integers: Collection[str] = (),
              flags: Collection[str] = (), max_body: int = MAX_BODY) -> dict[str, Any]:
    """The body as a JSON object of text with only `allowed` fields and every `required` one set; each of
    `integers` absent, null or a whole number (not a boolean), each of `flags` absent, null or true or false."""
    if len(req.body) > max_body:
        raise ApiError(413, "RequestTooLarge", f"the body exceeds {max_body} bytes")
    if nesting(req.body) > MAX_NESTING:
        raise ApiError(400, "InvalidJson", f"the body nests deeper than {MAX_NESTING} levels")
    body = _parse(req.body or b"{}")
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidJson", "the body must be a JSON object")
    _check_text(body)
    unknown = set(body) - allowed
    if unknown:
        raise ApiError(400, "InvalidParameter", f"unknown field(s): {', '.join(sorted(unknown))}")
    missing = [k for k in sorted(required) if body.get(k) in (None, "")]
    if missing:
        raise ApiError(400, "MissingParameter", f"{', '.join(missing)} is required")
    _check_types(body, integers, flags)
    return body


def next_token(query: dict[str, str], kind: str) -> str | None:
    """Paging tokens are the last record id of the page before: anything else was not given by this API."""
    raw = query.get("nextToken")
    if raw in (None, ""):
        return None
    if not re.fullmatch(rf"{kind[:-1]}-[0-9a-f]{{12,40}}", raw):
        raise ApiError(400, "InvalidParameter", "nextToken is not a token this API returned")
    return raw


def int_param(query: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,6}", raw) or not lo <= int(raw) <= hi:
        raise ApiError(400, "InvalidParameter", f"{name} must be a whole number from {lo} to {hi}")
    return int(raw)


def one_of(query: dict[str, str], name: str, allowed: list[str]) -> str | None:
    """An optional query parameter that must be one of `allowed` (empty counts as absent)."""
    value = query.get(name) or None
    if value is not None and value not in allowed:
        raise ApiError(400, "InvalidParameter", f"{name} must be {', '.join(allowed[:-1])} or {allowed[-1]}")
    return value


_UTC_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?Z", re.ASCII)


def utc_time(query: dict[str, str], name: str) -> float | None:
    """An optional UTC time as ISO 8601 with a Z (2026-12-06T04:00:00Z), as epoch seconds."""
    from datetime import datetime, timezone
    raw = query.get(name) or None
    if raw is None:
        return None
    parts = _UTC_TIME.fullmatch(raw)
    try:
        if parts is None:
            raise ValueError(raw)
        year, month, day, hour, minute, second = (int(part) for part in parts.groups()[:6])
        whole = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
        return whole.timestamp() + float(parts.group(7) or 0)
    except ValueError:
        raise ApiError(400, "InvalidParameter", f"{name} must be a UTC time like 2026-12-06T04:00:00Z") from None
