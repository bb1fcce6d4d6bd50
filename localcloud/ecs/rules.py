"""ECS request rules shared by the actions: tags, names, ids lists, paging, ClientToken, DryRun, RegionId.

The errors they raise are built by `errors.py`."""
from __future__ import annotations

import base64
import re
from typing import Any, Sequence

from ..core.errors import ServiceError
from ..core.rpc import RpcRequest
from . import errors

_RESERVED_TAG_PREFIXES = ("acs:", "aliyun")
# 2-128 chars, first a letter or CJK character, then letters, digits, CJK, ":", "_", ".", "-".
_NAME = re.compile(r"^[A-Za-z\u4e00-\u9fff][A-Za-z0-9\u4e00-\u9fff:_.\-]{1,127}$")


def user_tags(req: RpcRequest) -> dict[str, str]:
    """Tag.N of a create call: keys ≤128 chars without the reserved `acs:`/`aliyun` prefixes, values ≤128."""
    tags: dict[str, str] = {}
    for key, value in req.get_tags("Tag"):
        if len(key) > 128 or key.lower().startswith(_RESERVED_TAG_PREFIXES) or key.startswith(("http://", "https://")):
            raise errors.error("InvalidTagKey.Malformed",
                               f"The tag key {key!r} is invalid: at most 128 characters, and it must not start with "
                               "\"acs:\", \"aliyun\", \"http://\" or \"https://\".", 400)
        value = value or ""
        if len(value) > 128 or value.startswith(("http://", "https://")):
            raise errors.error("InvalidTagValue.Malformed",
                               f"The tag value of {key!r} is invalid: at most 128 characters, not starting with http(s)://.",
                               400)
        tags[key] = value
    return tags


def tag_filter(req: RpcRequest, too_many: ServiceError = errors.TOO_MANY_TAGS) -> list[tuple[str, str | None]]:
    """Tag.N of a query (N 1-20); more are refused with the action's documented code."""
    if len(req.get_objects("Tag")) > 20:
        raise too_many
    return req.get_tags("Tag")


def tags_match(tags: dict[str, str], wanted: Sequence[tuple[str, str | None]]) -> bool:
    """Every wanted pair must be present (AND); a key without a value matches any value."""
    return all(k in tags and (v is None or tags[k] == v) for k, v in wanted)


def tag_rows(tags: dict[str, str], key: str = "TagKey", value: str = "TagValue") -> dict[str, list[dict[str, str]]]:
    return {"Tag": [{key: k, value: v} for k, v in tags.items()]}


def check_name(value: str | None, code: str, what: str) -> None:
    """Snapshot and group names: 2-128 characters, a letter or CJK first, not `auto…` nor a URL."""
    if value is None:
        return
    if not _NAME.match(value) or value.lower().startswith("auto") or value.startswith(("http://", "https://")):
        raise errors.error(code, f"The specified {what} {value!r} is malformed: 2-128 characters starting with a "
                                 "letter, made of letters, digits and \":_.-\", not starting with \"auto\" or "
                                 "http(s)://.", 400)


def check_description(value: str | None) -> None:
    if value is None:
        return
    if not 2 <= len(value) <= 256 or value.startswith(("http://", "https://")):
        # 404, as CreateSnapshot's and CreateSnapshotGroup's error tables give it.
        raise errors.error("InvalidDescription.Malformed",
                           "The specified description is malformed: 2-256 characters, not starting with "
                           "http(s)://.", 404)


def client_token(req: RpcRequest) -> str | None:
    token = req.get("ClientToken")
    if token is not None and (len(token) > 64 or not token.isascii()):
        raise errors.error("InvalidClientToken.Malformed", "ClientToken must be at most 64 ASCII characters.", 400)
    return token


def id_list(req: RpcRequest, name: str, limit: int, too_many: ServiceError) -> list[str] | None:
    """A JSON-array-in-a-string parameter (DiskIds, SnapshotIds, InstanceIds) of at most `limit` ids; more ids are
    refused with the action's own error (`too_many`)."""
    ids = req.get_json(name, list)
    if ids is None:
        return None
    if not all(isinstance(i, str) for i in ids):
        raise errors.invalid(name, "Expected a JSON array of strings.")
    if len(ids) > limit:
        raise too_many
    return ids


# DescribeSnapshots (Tag.N, documented) and DescribeDisks/DescribeInstances (SDK docstrings) return at most 1,000
# resources for a tag query; beyond that the reference sends callers to ListTagResources.
TAG_QUERY_CAP = 1000


def cap_tag_query(docs: list, wanted: Sequence) -> list:
    return docs[:TAG_QUERY_CAP] if wanted else docs


def repeated(req: RpcRequest, name: str, limit: int) -> list[str]:
    values = req.get_list(name)
    if len(values) > limit:
        raise errors.invalid(f"{name}.N", f"At most {limit} values are allowed, got {len(values)}.")
    return values


def dry_run(req: RpcRequest, code: str = "DryRunOperation") -> None:
    if req.get_bool("DryRun"):
        raise errors.dry_run_passed(code)


def require_region(req: RpcRequest, region: str) -> None:
    value = req.require("RegionId")
    if value != region:
        raise errors.unknown_region(value)


def check_region(req: RpcRequest, region: str) -> None:
    value = req.get("RegionId")
    if value is not None and value != region:
        raise errors.unknown_region(value)


# -- paging


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"ecs:{offset}".encode()).decode().rstrip("=")


def _decode_token(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, offset = text.split(":")
        if prefix != "ecs" or int(offset) < 0:
            raise ValueError
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        raise errors.error(errors.INVALID_NEXT_TOKEN_CODE, f"The specified NextToken {token!r} is not valid.",
                           400) from None


def page(req: RpcRequest, items: list[Any], *, max_lo: int, max_hi: int, max_default: int,
         size_hi: int, size_default: int = 10) -> tuple[list[Any], dict[str, Any]]:
    """NextToken paging when MaxResults or NextToken is given (MaxResults clamped to [max_lo, max_hi]),
    else the deprecated PageNumber/PageSize paging. Returns the page and the paging fields of the response."""
    token = req.get("NextToken")
    if token is not None or req.get("MaxResults") is not None:
        size = req.get_int("MaxResults", max_default, lo=max_lo, hi=max_hi, clamp=True)
        start = _decode_token(token) if token else 0
        chunk = items[start:start + size]
        more = start + size < len(items)
        return chunk, {"NextToken": _encode_token(start + size) if more else "", "TotalCount": len(items),
                       "MaxResults": size}
    number = req.get_int("PageNumber", 1, lo=1, hi=1_000_000)
    size = req.get_int("PageSize", size_default, lo=1, hi=size_hi)
    start = (number - 1) * size
    return items[start:start + size], {"TotalCount": len(items), "PageNumber": number, "PageSize": size,
                                       "NextToken": ""}


def token_page(req: RpcRequest, items: list[Any], size: int) -> tuple[list[Any], str]:
    token = req.get("NextToken")
    start = _decode_token(token) if token else 0
    more = start + size < len(items)
    return items[start:start + size], _encode_token(start + size) if more else ""
