"""Backup locks: which lock may be set over which, when one refuses a delete, and how long the cloud locks the
artifacts. Pure; `operations/locks.py` does the I/O.

A lock is not a status (docs/statuses.md): a record carries it as `Lock` {Mode, Until, ...} and a delete, retention
or cancel of a backup whose lock has not passed is refused (409) naming it.

- Governance: the tenant of the instance or the admin sets or extends it; only the admin shortens or lifts it (with a
  reason, recorded on the record and in the audit trail).
- Compliance: nobody shortens or lifts it, nor turns it into Governance, before Until; it can only be extended.
Either mode only to a time the artifacts are kept (the earliest ExpiresAt of the backed-up artifacts: an RDS set's
retention, a snapshot's RetentionDays) and at most MAX_LOCK_DAYS ahead.
"""
from __future__ import annotations

import math
from enum import Enum
from typing import Any

from ..errors import Conflict, ValidationError
from ..model.records import epoch_of, iso_utc

GOVERNANCE, COMPLIANCE = "Governance", "Compliance"
LOCK_MODES = (GOVERNANCE, COMPLIANCE)
# ECS LockSnapshot LockDuration: "Valid values: 1 to 36500" days (SDK alibabacloud_ecs20140526 7.11.8,
# LockSnapshotRequest.lock_duration); a lock nestbackup cannot also set in the cloud is not offered.
MAX_LOCK_DAYS = 36500


class CloudLock(str, Enum):
    """Where a Compliance lock's snapshots stand in ECS (the record's `CloudLock`): ours, not a cloud status."""
    PENDING = "Pending"      # the record is written; LockSnapshot not answered yet
    LOCKED = "Locked"        # ECS locked every snapshot
    FAILED = "Failed"        # ECS refused some (CloudLockFailed): the sweeper asks again

DAY = 86400.0


def new_lock(mode: str, until: float, by: str, now: float) -> dict[str, Any]:
    return {"Mode": mode, "Until": iso_utc(until), "By": by, "SetAt": iso_utc(now)}


def until_of(lock: dict[str, Any]) -> float:
    return epoch_of(lock.get("Until")) or 0.0


def active(lock: dict[str, Any] | None, now: float) -> bool:
    """The lock holds at `now`: set, not lifted, and its Until not passed (the record's or the API's form)."""
    return lock is not None and not lock.get("Lifted") and until_of(lock) > now


def refusal(backup_id: str, lock: dict[str, Any], what: str) -> str:
    """The 409's message: it names the lock."""
    lifted = " (the admin can lift a Governance lock)" if lock["Mode"] == GOVERNANCE else ""
    return f"backup {backup_id} is locked ({lock['Mode']}) until {lock['Until']}: {what} is refused{lifted}"


def check_new_lock(current: dict[str, Any] | None, mode: object, until: float, now: float, admin: bool,
                   kept_until: float | None) -> None:
    """Refuse a lock the rules above do not allow over `current` (ValidationError for bad input, Conflict for what
    the current lock or the artifacts forbid)."""
    if mode not in LOCK_MODES:
        raise ValidationError(f"Mode must be {GOVERNANCE} or {COMPLIANCE}")
    if until <= now:
        raise ValidationError("Until must be in the future")
    if until > now + MAX_LOCK_DAYS * DAY:
        raise ValidationError(f"Until must be at most {MAX_LOCK_DAYS} days ahead (the longest lock)")
    if kept_until is not None and until > kept_until:
        raise Conflict("Until is past the time its artifacts are kept (their earliest ExpiresAt); a lock cannot "
                       "outlast what it protects")
    if not active(current, now):
        return
    assert current is not None
    held_until = until_of(current)
    if current["Mode"] == COMPLIANCE:
        if mode != COMPLIANCE:
            raise Conflict(f"the backup is locked in Compliance mode until {current['Until']}: it cannot become "
                           f"{mode}")
        if until < held_until:
            raise Conflict(f"the backup is locked in Compliance mode until {current['Until']}: the lock can only be "
                           f"extended")
    elif until < held_until and not admin:
        raise Conflict(f"the backup is locked in Governance mode until {current['Until']}: only the admin shortens "
                       f"it")


def check_lift(backup_id: str, current: dict[str, Any] | None, now: float, admin: bool, reason: object) -> None:
    if not active(current, now):
        raise Conflict(f"backup {backup_id} is not locked")
    assert current is not None
    if current["Mode"] == COMPLIANCE:
        raise Conflict(f"backup {backup_id} is locked in Compliance mode until {current['Until']}: nobody can lift "
                       f"it before then")
    if not admin:
        raise Conflict("only the admin lifts a Governance lock")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise ValidationError("Reason is required (at most 500 characters): it is kept on the record and in the "
                              "audit trail")


def cloud_lock_days(until: float, now: float) -> int:
    """ECS locks whole days from the call: the fewest that reach Until (so the cloud's lock may outlast ours by less
    than a day, never end before it)."""
    return max(1, min(MAX_LOCK_DAYS, math.ceil((until - now) / DAY)))
