"""A failed record's cause in one bounded line: which resources failed, each with its code and message, so the
operator reads it on the record (and in the console's hover) instead of in the logs."""
from __future__ import annotations

from typing import Iterable, Protocol

from .status import ItemStatus

MAX_DETAIL = 1000            # characters of a StatusDetail
MAX_MESSAGE = 160            # characters of one resource's message within it


class FailedItem(Protocol):
    resource_id: str
    status: ItemStatus
    error_code: str | None
    error_message: str | None


def _one_line(text: str | None, limit: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def failure_summary(items: Iterable[FailedItem]) -> str:
    """'2 of 7 resources failed: d-1 SnapshotFailed: …; rm-2 Timeout: …' (empty when none failed), at most
    MAX_DETAIL characters: resources that do not fit are counted at the end."""
    items = list(items)
    failed = [i for i in items if i.status is ItemStatus.FAILED]
    if not failed:
        return ""
    head = f"{len(failed)} of {len(items)} resource{'s' if len(items) != 1 else ''} failed: "
    parts: list[str] = []
    for n, item in enumerate(failed):
        part = f"{item.resource_id} {item.error_code or 'Failed'}: {_one_line(item.error_message, MAX_MESSAGE)}"
        rest = len(failed) - n - 1
        tail = f"; … and {rest} more" if rest else ""
        if len(head) + len("; ".join(parts + [part])) + len(tail) > MAX_DETAIL:
            return head + "; ".join(parts) + f"; … and {len(failed) - n} more"
        parts.append(part)
    return head + "; ".join(parts)


def with_cause(detail: str, summary: str) -> str:
    """The operation's own cause (if any) followed by the resources' causes, bounded."""
    if not summary or summary in detail:
        return detail
    joined = f"{detail} — {summary}" if detail else summary
    return joined if len(joined) <= MAX_DETAIL else joined[:MAX_DETAIL - 1] + "…"
