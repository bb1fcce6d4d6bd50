"""How RDS reads its requests' shared parameters: times (yyyy-MM-ddTHH:mmZ), PageSize/PageNumber paging and
comma-separated id lists."""
from __future__ import annotations

from datetime import datetime, timezone

from ..core.rpc import RpcRequest
from . import errors

MINUTE = "%Y-%m-%dT%H:%MZ"
SECOND = "%Y-%m-%dT%H:%M:%SZ"      # the stored times (LocalCloud.iso)
# DescribeDatabases and DescribeBackups: PageSize 30, 50 or 100, default 30 (SDK DescribeDatabasesRequest,
# DescribeBackupsRequest). UNCONFIRMED: that any other PageSize is refused (400 InvalidParameter) rather than
# rounded; refusing keeps callers to the documented values.
PAGE_SIZES = (30, 50, 100)


def stored_time(raw: str) -> datetime:
    """A time as the store keeps it (SECOND), in UTC."""
    return datetime.strptime(raw, SECOND).replace(tzinfo=timezone.utc)


def parse_time(name: str, raw: str | None) -> datetime | None:
    """A time parameter, to the minute (seconds accepted); None when absent."""
    if raw is None:
        return None
    for fmt in (MINUTE, SECOND):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    raise errors.malformed_time(name)


def page(req: RpcRequest, default_size: int = 30, hi: int = 100) -> tuple[int, int]:
    """PageSize/PageNumber of DescribeDBInstances."""
    size = req.get_int("PageSize", default_size, lo=1, hi=hi)
    number = req.get_int("PageNumber", 1, lo=1, hi=10 ** 9)
    return size, number


def listed_page(req: RpcRequest) -> tuple[int, int]:
    """PageSize/PageNumber of DescribeDatabases and DescribeBackups (see PAGE_SIZES)."""
    size = req.get_int("PageSize", PAGE_SIZES[0])
    if size not in PAGE_SIZES:
        raise errors.invalid("PageSize", "Use 30, 50 or 100.")
    number = req.get_int("PageNumber", 1, lo=1, hi=2 ** 31 - 1)
    return size, number


def comma_set(req: RpcRequest, name: str) -> set[str]:
    """The values of a comma-separated parameter ("a,b"), blanks dropped; empty when absent."""
    return {i.strip() for i in (req.get(name) or "").split(",") if i.strip()}
