"""Listing backups or restores: one service instance's or every instance's, newest first, filtered by status and
creation time, a page at a time.

Record ids sort by creation time, so `until` is where the scan starts and `since` where it stops; a status filter
reads each record. One call looks at SCAN_LIMIT records at most: a filter that matches rarely answers a short (even
empty) page with a NextToken, as the cloud APIs do, and the caller follows it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import NotFound
from ..model.ids import check_service_instance_id
from ..model.records import record_time
from ..ports import Ports

SCAN_LIMIT = 500


@dataclass(frozen=True)
class Filter:
    statuses: frozenset[str] = frozenset()          # empty: any status
    since: float | None = None                      # created at or after (epoch seconds)
    until: float | None = None                      # created at or before
    visible: Callable[[str], bool] = field(default=lambda si: True)   # which service instances the caller sees


EVERYTHING = Filter()


def list_records(w: Ports, kind: str, si: str | None, limit: int, after: str | None, flt: Filter,
                 to_api: Callable[[Any], dict]) -> tuple[list[dict], str | None]:
    """A page of `kind` ("backup" or "restore") records as `to_api` renders a stored record, and the token of the
    next page (None when the listing is exhausted). `si` None: every service instance's (the admin's view)."""
    if si is not None:
        check_service_instance_id(si, "serviceInstanceId")
    cursor = after
    if flt.until is not None:      # ids of records created at or before `until` sort below this one
        bound = f"{kind}-{int(flt.until * 1000) + 1:012x}"
        cursor = bound if cursor is None or bound < cursor else cursor
    out: list[dict] = []
    looked = 0
    while True:
        ids, more = w.records.list_ids(si, kind, min(100, limit - len(out) + 1), cursor)
        for record_id in ids:
            if flt.since is not None and record_time(record_id) < flt.since:
                return out, None
            looked += 1
            cursor = record_id
            stored = w.records.read(record_id)
            if stored is None:            # a listing row whose header was never written (a create that died)
                continue
            if not flt.visible(stored.header["ServiceInstanceId"]):
                continue
            record = to_api(stored)
            if flt.statuses and record["Status"] not in flt.statuses:
                continue
            out.append(record)
            if len(out) == limit:
                return out, (record_id if record_id != ids[-1] or more else None)
            if looked >= SCAN_LIMIT:
                return out, (record_id if record_id != ids[-1] or more else None)
        if more is None:
            return out, None


def check_known(w: Ports, si: str) -> None:
    """NotFound for a service instance nothing knows: not Compute Nest, and no backup or restore names it (a
    deleted instance's records are still listed)."""
    if any(w.records.list_ids(si, kind, 1)[0] for kind in ("backup", "restore")):
        return
    if w.computenest.service_instance(si) is None:
        raise NotFound(f"no service instance {si}: Compute Nest does not know it and no backup or restore names it")
