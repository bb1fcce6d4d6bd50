"""The lock rules (decisions/locks.py): what may be set over what, and the cloud's whole days."""
import pytest

from nestbackup.decisions.locks import MAX_LOCK_DAYS, active, check_lift, check_new_lock, cloud_lock_days, new_lock
from nestbackup.errors import Conflict, ValidationError

NOW, DAY = 2_000_000_000.0, 86400.0


def test_a_compliance_lock_only_extends_and_stays_compliance_even_for_the_admin():
    held = new_lock("Compliance", NOW + 5 * DAY, "team-a", NOW)
    check_new_lock(held, "Compliance", NOW + 6 * DAY, NOW, False, None)
    for mode, until in (("Compliance", NOW + 4 * DAY), ("Governance", NOW + 9 * DAY)):
        with pytest.raises(Conflict):
            check_new_lock(held, mode, until, NOW, True, None)
    with pytest.raises(Conflict, match="nobody can lift"):
        check_lift("backup-1", held, NOW, True, "why")
    assert not active(held, NOW + 5 * DAY) and active(held, NOW + 5 * DAY - 1)


def test_a_governance_lock_is_shortened_or_lifted_by_the_admin_only_and_a_lift_needs_a_reason():
    held = new_lock("Governance", NOW + 5 * DAY, "team-a", NOW)
    with pytest.raises(Conflict):
        check_new_lock(held, "Governance", NOW + DAY, NOW, False, None)
    check_new_lock(held, "Governance", NOW + DAY, NOW, True, None)
    check_new_lock(held, "Compliance", NOW + 5 * DAY, NOW, False, None)          # made stricter by its tenant
    with pytest.raises(Conflict):
        check_lift("backup-1", held, NOW, False, "why")
    with pytest.raises(ValidationError):
        check_lift("backup-1", held, NOW, True, "  ")
    check_lift("backup-1", held, NOW, True, "ticket 12")
    assert not active(held | {"Lifted": {"Reason": "x"}}, NOW)


def test_a_lock_stays_within_what_the_artifacts_are_kept_and_the_longest_lock():
    with pytest.raises(Conflict, match="ExpiresAt"):
        check_new_lock(None, "Governance", NOW + 8 * DAY, NOW, True, NOW + 7 * DAY)
    with pytest.raises(ValidationError):
        check_new_lock(None, "Compliance", NOW + (MAX_LOCK_DAYS + 1) * DAY, NOW, True, None)
    assert cloud_lock_days(NOW + 1, NOW) == 1 and cloud_lock_days(NOW + 2 * DAY + 1, NOW) == 3
