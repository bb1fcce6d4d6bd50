import pytest

from nestbackup.decisions.retention import DAY, BackupSummary, Retention, due, expired, validate_cron
from nestbackup.errors import ValidationError

NOW = 100 * DAY


def b(n, age_days, status="Created", origin="user", scope="whole"):
    return BackupSummary(f"backup-{n}", status, NOW - age_days * DAY, origin, scope)


@pytest.mark.parametrize("rule, backups, expected", [
    (Retention(keep_last=2), [b(1, 3), b(2, 2), b(3, 1)], ["backup-1"]),
    (Retention(keep_days=7), [b(1, 10), b(2, 8), b(3, 1)], ["backup-1", "backup-2"]),
    (Retention(keep_days=7), [b(1, 30), b(2, 20)], ["backup-1"]),                   # the newest Created stays
    (Retention(keep_last=1, keep_days=7), [b(1, 10), b(2, 5), b(3, 1)], ["backup-1"]),   # outside both
    (Retention(keep_last=3, keep_days=1), [b(1, 10), b(2, 5), b(3, 2)], []),            # inside KeepLast
    (Retention(keep_last=1), [b(1, 5, "CreateFailed"), b(2, 1)], ["backup-1"]),         # failed ones age out
    (Retention(keep_last=1), [b(1, 5, "Creating"), b(2, 4, "Deleted"), b(3, 1)], []),   # never running/deleted
    (Retention(keep_last=1), [b(1, 5, "DeleteFailed"), b(2, 1)], ["backup-1"]),          # deletion is retried
], ids=["keep-last", "keep-days", "always-one", "both-outside", "both-inside", "failed", "untouchable", "retry"])
def test_expired(rule, backups, expected):
    assert expired(backups, rule, NOW) == expected


@pytest.mark.parametrize("rule, backups, expected", [
    # a safety backup (whole or partial) taken after the last scheduled one does not push the older one out
    (Retention(keep_last=2), [b(1, 3, origin="schedule"), b(2, 2, origin="schedule"),
                              b(3, 1, origin="safety", scope="partial")], []),
    (Retention(keep_last=1), [b(1, 3), b(2, 2, origin="safety"), b(3, 1, origin="undo")], []),
    # ... and goes with the counted backups around it once those go
    (Retention(keep_last=1), [b(1, 4), b(2, 3, origin="safety", scope="partial"), b(3, 1, origin="schedule")],
     ["backup-1", "backup-2"]),
    # a partial backup an operator asked for does not count either
    (Retention(keep_last=1), [b(1, 3), b(2, 1, scope="partial")], []),
    # with KeepDays alone, an uncounted backup ages out like the others
    (Retention(keep_days=7), [b(1, 10, origin="safety"), b(2, 1)], ["backup-1"]),
], ids=["safety-after", "safety-undo-no-count", "goes-with-its-span", "partial-user", "keep-days"])
def test_only_whole_user_and_scheduled_backups_count(rule, backups, expected):
    assert expired(backups, rule, NOW) == expected


@pytest.mark.parametrize("kw", [{}, {"keep_last": 0}, {"keep_days": -1}, {"keep_last": "3"}, {"keep_days": 5000}])
def test_bad_rules_are_refused(kw):
    with pytest.raises(ValidationError):
        Retention(**kw)


def test_cron_validation():
    assert validate_cron("0 3 * * *") == "0 3 * * *"
    for bad in ["", "0 3 * *", "0 3 * * * *", "61 * * * *", "every day", None]:
        with pytest.raises(ValidationError):
            validate_cron(bad)


def test_due_fires_once_for_missed_runs_and_not_twice():
    hour = 3600
    start = 1_700_000_000 // hour * hour            # a whole hour
    assert due("0 * * * *", since=start - 10, now=start + 5) == start
    assert due("0 * * * *", since=start, now=start + 5) is None              # already fired
    assert due("0 * * * *", since=start - 5 * hour, now=start + 5) == start   # missed runs collapse into one
    assert due("30 * * * *", since=start, now=start + 60) is None


@pytest.mark.parametrize("cron, minimum, refused", [
    ("0 3 * * *", 7200, None),
    ("0 */2 * * *", 7200, None),
    ("0 * * * *", 7200, "minimum"),
    ("*/5 * * * *", 300, None),
    ("0,1 3 * * *", 300, "minimum"),           # a daily pair a minute apart: the smallest gap counts
    ("0 0 30 2 *", 0, "never fires"),
    ("0 0 31 4,6,9,11 *", 0, "never fires"),
    ("0 0 29 2 *", 0, "within a year"),          # a leap day: years away
])
def test_crons_that_never_fire_or_fire_too_often_are_refused(cron, minimum, refused):
    now = 1_790_000_000.0                       # 2026-09-21, a fixed clock
    if refused is None:
        assert validate_cron(cron, minimum, now) == cron
        return
    with pytest.raises(ValidationError, match=refused):
        validate_cron(cron, minimum, now)
