"""A failed record's cause, root first (docs/statuses.md, "The cause line"): the failure that caused it (resource,
code, message, in full), then the count of real failures, the phase it stopped in, what the operation did about it,
and the other failures; only that tail is ever shortened. Also as a `Cause` object for the API, console and
webhooks."""
from __future__ import annotations

from typing import Any, Iterable, Protocol, Sequence

from .status import ItemStatus

MAX_DETAIL = 1000            # characters of a StatusDetail past its first failure
MAX_MESSAGE = 160            # characters of one further resource's message within it

# Failure codes that only follow from another resource's failure: never taken as the cause while a failure of its
# own is there (a disk whose group failed on another disk; a restore interrupted because another failed).
GROUP_MEMBER_FAILED, INTERRUPTED = "GroupMemberFailed", "NotRestored"
CONSEQUENCES = frozenset({GROUP_MEMBER_FAILED, INTERRUPTED})

# How the resources that are final but neither done nor failed are counted after the failures.
_COUNTED = ((ItemStatus.NOT_STARTED, "not started"), (ItemStatus.ROLLED_BACK, "rolled back"),
            (ItemStatus.CANCELLED, "cancelled"))


class FailedItem(Protocol):
    resource_id: str
    status: ItemStatus
    error_code: str | None
    error_message: str | None
    request_id: str | None
    end_time: str | None


def _one_line(text: str | None, limit: int | None = None) -> str:
    flat = " ".join((text or "").split())
    return flat if limit is None or len(flat) <= limit else flat[:limit - 1] + "…"


def _first_failed(items: Sequence[FailedItem]) -> FailedItem | None:
    """The failure that came first (by when it became final; the record's order among those of the same second), a
    failure of its own before one that only follows from another's."""
    failed = [(i.error_code in CONSEQUENCES, i.end_time or "~", n, i)
              for n, i in enumerate(items) if i.status is ItemStatus.FAILED]
    return min(failed, key=lambda t: t[:3])[3] if failed else None


def root_cause(items: Iterable[FailedItem], operation_cause: str = "", phase: str | None = None) -> dict[str, Any]:
    """The failure that caused the record's end: the first failed resource, else the operation's own cause; {} when
    there is none."""
    first = _first_failed(list(items))
    if first is not None:
        return {"ResourceId": first.resource_id, "Code": first.error_code or "Failed",
                "Message": _one_line(first.error_message), "RequestId": first.request_id, "Phase": phase}
    if operation_cause:
        return {"ResourceId": None, "Code": None, "Message": _one_line(operation_cause), "RequestId": None,
                "Phase": phase}
    return {}


def cause_line(items: Iterable[FailedItem], operation_cause: str = "", phase: str | None = None) -> str:
    """'rm-1 RestoreTableFailed: … — 1 of 6 resources failed, stopped in RestoringDatabases; 5 not started; <what
    the operation did>; also failed: d-2 …' (empty when nothing failed)."""
    items = list(items)
    root = root_cause(items, operation_cause, phase)
    if not root:
        return ""
    head = (f"{root['ResourceId']} {root['Code']}: {root['Message']}" if root["ResourceId"]
            else root["Message"])
    failed = [i for i in items if i.status is ItemStatus.FAILED]
    count = f"{len(failed)} of {len(items)} resource{'s' if len(items) != 1 else ''} failed" if items else ""
    if phase:
        count += f"{', ' if count else ''}stopped in {phase}"
    others = [f"{n} {said}" for status, said in _COUNTED if (n := sum(1 for i in items if i.status is status))]
    tail = [part for part in [count] + others if part]
    if root["ResourceId"] and operation_cause and _one_line(operation_cause) not in root["Message"]:
        tail.append(_one_line(operation_cause))
    line = f"{head} — {'; '.join(tail)}" if tail else head
    rest = [i for i in failed if i.resource_id != root["ResourceId"]]
    for n, item in enumerate(rest):
        part = (f"{'; also failed: ' if n == 0 else '; '}{item.resource_id} {item.error_code or 'Failed'}: "
                f"{_one_line(item.error_message, MAX_MESSAGE)}")
        if len(line) - len(head) + len(part) > MAX_DETAIL:
            return line + f"; … and {len(rest) - n} more failed"
        line += part
    return line
