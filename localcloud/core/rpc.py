"""The RPC request of ECS, RDS, FNF and Compute Nest: one flat dict of query and form parameters, typed readers over
it, and the offset NextToken paging that RDS and Compute Nest share."""
from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import ServiceError, invalid, missing

T = TypeVar("T")
_INDEXED = re.compile(r"^(?P<name>[A-Za-z]+)\.(?P<index>\d+)(?:\.(?P<rest>.+))?$")


@dataclass
class RpcRequest:
    product: str
    action: str
    params: dict[str, str]
    access_key_id: str = ""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()).upper())

    # -- scalars
    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        return default if value is None or value == "" else value

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise missing(name)
        return value

    def get_int(self, name: str, default: int | None = None, lo: int | None = None, hi: int | None = None,
                clamp: bool = False) -> int | None:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid(name, f"Expected an integer, got {raw!r}.") from None
        if clamp:
            if lo is not None:
                value = max(lo, value)
            if hi is not None:
                value = min(hi, value)
        elif (lo is not None and value < lo) or (hi is not None and value > hi):
            raise invalid(name, f"Must be between {lo} and {hi}.")
        return value

    def get_bool(self, name: str, default: bool = False) -> bool:
        raw = self.get(name)
        if raw is None:
            return default
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise invalid(name, f"Expected true or false, got {raw!r}.")

    def get_json(self, name: str, kind: type, default=None):
        """A parameter that travels as a JSON string (DiskIds, SnapshotIds, Tags, TableMeta)."""
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = json.loads(raw)
        except ValueError:
            listed = name in ("DiskIds", "SnapshotIds", "InstanceIds")
            code = f"InvalidParameter.{name}" if listed else "InvalidParameter"
            raise ServiceError(code, f"The specified parameter \"{name}\" is not a valid JSON {kind.__name__}.",
                               400) from None
        if not isinstance(value, kind):
            raise invalid(name, f"Expected a JSON {kind.__name__}.")
        return value

    # -- repeated parameters: InstanceId.1, Tag.1.Key, Disk.2.SnapshotId
    def get_list(self, name: str) -> list[str]:
        found: dict[int, str] = {}
        for key, value in self.params.items():
            m = _INDEXED.match(key)
            if m and m["name"] == name and not m["rest"]:
                found[int(m["index"])] = value
        return [found[i] for i in sorted(found)]

    def get_objects(self, name: str) -> list[dict[str, str]]:
        found: dict[int, dict[str, str]] = {}
        for key, value in self.params.items():
            m = _INDEXED.match(key)
            if m and m["name"] == name and m["rest"]:
                found.setdefault(int(m["index"]), {})[m["rest"]] = value
        return [found[i] for i in sorted(found)]

    def get_tags(self, name: str = "Tag") -> list[tuple[str, str | None]]:
        tags = []
        for obj in self.get_objects(name):
            key = obj.get("Key")
            if not key:
                if obj.get("Value"):
                    raise ServiceError("InvalidParameter.TagValue", "A tag value requires a tag key.", 400)
                continue
            tags.append((key, obj.get("Value")))
        if len(tags) > 20:
            raise invalid(name, "At most 20 tags.")
        return tags


def offset_token_page(req: RpcRequest, items: list[T], size: int) -> tuple[list[T], str]:
    """NextToken paging whose token is the offset of the next page, in decimal (RDS DescribeDBInstances, Compute Nest
    ListServiceInstanceResources): the `size` items from NextToken on (from the first without it), and the next
    page's token, "" after the last page. A token that is no offset into `items` is 400 InvalidParameter."""
    start = 0
    token = req.get("NextToken")
    if token is not None:
        if not token.isdigit() or int(token) > len(items):
            raise invalid("NextToken", "Unknown token.")
        start = int(token)
    end = start + size
    return items[start:end], str(end) if end < len(items) else ""
