"""Which backups a retention rule expires, and when a schedule is due. Pure: the clock is passed in."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import pairwise
from typing import Any, NamedTuple

from ..errors import ValidationError
from ..model.records import COUNTED_ORIGINS
from ..model.status import BackupStatus

DAY = 86400


@dataclass(frozen=True)
class Retention:
    """Keep the newest `keep_last` counted backups (Created, whole, asked for by an operator or a schedule) and/or
    those younger than `keep_days`. With both, a backup goes only when it is outside both. The newest counted backup
    is always kept, whatever the rule says."""
    keep_last: int | None = None
    keep_days: int | None = None

    def __post_init__(self) -> None:
        if self.keep_last is None and self.keep_days is None:
            raise ValidationError("a retention rule needs KeepLast and/or KeepDays")
        if self.keep_last is not None and not (isinstance(self.keep_last, int) and 1 <= self.keep_last <= 1000):
            raise ValidationError("KeepLast must be a whole number from 1 to 1000")
        if self.keep_days is not None and not (isinstance(self.keep_days, int) and 1 <= self.keep_days <= 3650):
            raise ValidationError("KeepDays must be a whole number from 1 to 3650")


class BackupSummary(NamedTuple):
    """What retention needs to know of a backup."""
    backup_id: str
    status: str            # a backup status (docs/statuses.md)
    started_epoch: float
    origin: str = "user"   # model/records.ORIGINS
    scope: str = "whole"   # model/records.SCOPES
    lock: dict[str, Any] | None = None   # the record's Lock (decisions/locks.py): a locked backup the rule dooms stays

    @property
    def counted(self) -> bool:
        """Counts towards KeepLast: a Created backup of the whole service instance an operator or a schedule asked
        for. A safety, undo or event backup, or a partial one, never pushes one of those out."""
        return self.status == BackupStatus.CREATED and self.origin in COUNTED_ORIGINS and self.scope == "whole"


def expired(backups: list[BackupSummary], rule: Retention, now: float) -> list[str]:
    """Backups to delete, oldest first. Running and already deleted ones are never chosen. Only counted backups
    (`BackupSummary.counted`) count towards KeepLast; a Created backup that does not count (a restore's safety
    backup, partial or whole) is kept while it is not older than the oldest counted backup kept, and goes with the
    counted backups around it; failed backups (which may hold partial snapshots) age out like the others."""
    counted = sorted((b for b in backups if b.counted), key=lambda b: -b.started_epoch)
    kept = counted[:max(1, rule.keep_last or 1)]
    protected = {b.backup_id for b in kept}
    kept_since = min((b.started_epoch for b in kept), default=None)
    out = []
    for b in sorted(backups, key=lambda b: b.started_epoch):
        deletable = b.status in (BackupStatus.CREATED, BackupStatus.PARTIALLY_CREATED, BackupStatus.CREATE_FAILED,
                                 BackupStatus.CANCELLED, BackupStatus.DELETE_FAILED)
        if not deletable or b.backup_id in protected:
            continue
        beside_kept = b.status == BackupStatus.CREATED and not b.counted and \
            (kept_since is None or b.started_epoch >= kept_since)
        if beside_kept and rule.keep_last is not None:
            continue
        if rule.keep_days is not None and now - b.started_epoch < rule.keep_days * DAY:
            continue
        out.append(b.backup_id)
    return out


SAMPLED_FIRES = 200      # enough consecutive fire times to meet every gap a five-field cron can have within a year


def validate_cron(expression: str, min_interval_seconds: int = 0, now: float = 0.0) -> str:
    """Five fields, minute hour day-of-month month day-of-week, in UTC (croniter's dialect). Refused too: a cron that
    never fires (e.g. the 30th of February) and one that fires more often than `min_interval_seconds`."""
    from datetime import timedelta

    from croniter import CroniterBadDateError, croniter
    if not isinstance(expression, str) or len(expression.split()) != 5 or not croniter.is_valid(expression):
        raise ValidationError("Cron must have five fields (minute hour day month weekday), e.g. '0 3 * * *'")
    start = datetime.fromtimestamp(now, timezone.utc)
    times = croniter(expression, start)
    try:
        fires = [times.get_next(datetime)]
        while len(fires) < SAMPLED_FIRES and fires[-1] - start < timedelta(days=400):
            fires.append(times.get_next(datetime))
    except (CroniterBadDateError, ValueError, OverflowError):
        raise ValidationError(f"Cron {expression!r} never fires") from None
    if fires[0] - start > timedelta(days=400):
        raise ValidationError(f"Cron {expression!r} does not fire within a year")
    gaps = [(b - a).total_seconds() for a, b in pairwise(fires)]
    if gaps and min(gaps) < min_interval_seconds:
        raise ValidationError(f"Cron {expression!r} fires {int(min(gaps) // 60)} minutes apart; the minimum is "
                              f"{min_interval_seconds // 60} minutes (NESTBACKUP_SCHEDULE_MIN_INTERVAL_MINUTES)")
    return expression


def due(expression: str, since: float, now: float) -> float | None:
    """The latest time the schedule fired in (since, now], or None. Missed runs collapse into one."""
    from datetime import timedelta

    from croniter import croniter
    after_now = datetime.fromtimestamp(now, timezone.utc) + timedelta(seconds=1)
    latest = croniter(expression, after_now).get_prev(datetime).timestamp()
    return latest if since < latest <= now else None


def next_fire(expression: str, after: float) -> float | None:
    """The first time the schedule fires after `after`; None for one that never does (stored before crons were
    checked)."""
    from croniter import CroniterBadDateError, croniter
    try:
        return float(croniter(expression, datetime.fromtimestamp(after, timezone.utc)).get_next(datetime).timestamp())
    except (CroniterBadDateError, ValueError, OverflowError, KeyError):
        return None
