"""The database gateway's contract, for the in-memory gateway and the real one on this machine's PostgreSQL and
MariaDB (slow): what the restore's rename step and its verification rely on. Row counts are compared per table name
(PostgreSQL's are schema-qualified); the aside database may hold the real gateway's journal tables too."""
from __future__ import annotations

import uuid

import pytest

from nestbackup.errors import CloudError, Conflict, NotFound


def test_row_counts_are_exact_and_an_unknown_database_is_unreachable(gateway):
    original, _, _ = gateway.names()
    gateway.make(original, 3)
    assert gateway.rows(original) == 3
    with pytest.raises(CloudError) as err:
        gateway.port.row_counts(f"nbc{uuid.uuid4().hex[:10]}_none")
    assert err.value.code == "DatabaseUnreachable"


def test_a_swap_sets_the_live_database_aside_and_running_it_again_changes_nothing(gateway):
    original, restored, aside = gateway.names()
    gateway.make(original, 2)
    gateway.make(restored, 3)
    assert gateway.port.rename_back(original, restored, aside) is True
    assert (gateway.rows(original), gateway.rows(aside), gateway.rows(restored)) == (3, 2, None)
    assert gateway.port.rename_back(original, restored, aside) is True         # a re-run after a crash
    assert (gateway.rows(original), gateway.rows(aside), gateway.rows(restored)) == (3, 2, None)


def test_with_no_live_database_the_restored_one_takes_its_name_and_running_it_again_says_so(gateway):
    original, restored, aside = gateway.names()
    gateway.make(restored, 3)
    assert gateway.port.rename_back(original, restored, aside) is False
    assert (gateway.rows(original), gateway.rows(restored)) == (3, None)
    assert gateway.port.rename_back(original, restored, aside) is False


def test_a_swap_is_undone_by_swapping_back(gateway):
    """What the rename step does when another database of the restore could not be swapped."""
    original, restored, aside = gateway.names()
    gateway.make(original, 2)
    gateway.make(restored, 3)
    gateway.port.rename_back(original, restored, aside)
    assert gateway.port.rename_back(original, aside, restored) is True
    assert (gateway.rows(original), gateway.rows(restored)) == (2, 3)


def test_a_missing_restored_database_is_not_found_and_nothing_is_touched(gateway):
    original, restored, aside = gateway.names()
    gateway.make(original, 2)
    with pytest.raises(NotFound):
        gateway.port.rename_back(original, restored, aside)
    gateway.port.roll_back(original, restored, aside)                          # nothing to undo
    assert (gateway.rows(original), gateway.rows(aside)) == (2, None)


def test_an_aside_name_in_use_is_refused_and_nothing_is_touched(gateway):
    original, restored, aside = gateway.names()
    gateway.make(original, 2)
    gateway.make(restored, 3)
    gateway.make(aside, 1)
    with pytest.raises(Conflict):
        gateway.port.rename_back(original, restored, aside)
    assert (gateway.rows(original), gateway.rows(restored), gateway.rows(aside)) == (2, 3, 1)


def test_a_finished_swap_is_not_rolled_back(gateway):
    """roll_back undoes an interrupted swap only; a finished one is undone by swapping back."""
    original, restored, aside = gateway.names()
    gateway.make(original, 2)
    gateway.make(restored, 3)
    gateway.port.rename_back(original, restored, aside)
    with pytest.raises(Conflict):
        gateway.port.roll_back(original, restored, aside)
    assert (gateway.rows(original), gateway.rows(aside)) == (3, 2)


def test_the_account_that_made_the_databases_lacks_nothing_the_swap_needs(gateway):
    original, _, _ = gateway.names()
    gateway.make(original, 1)
    assert gateway.port.missing_privileges([original]) == []


def test_an_account_that_may_only_read_is_told_what_it_lacks_and_with_the_fixes_given_it_swaps(gateway):
    """The doctor's check: each gap names what is missing and the statement that grants it; once those are run (as
    the administrator) nothing is missing, and the account runs the swap."""
    original, restored, aside = gateway.names()
    gateway.make(original, 2)
    gateway.make(restored, 3)
    limited = gateway.limited(original, restored)
    gaps = limited.missing_privileges([original, restored])
    assert {gap.database for gap in gaps} == {"", original, restored}     # the account's own, and each database's
    assert all(gap.missing and gap.fix for gap in gaps)
    for gap in gaps:
        gateway.grant(gap.fix)
    assert limited.missing_privileges([original, restored]) == []
    assert limited.rename_back(original, restored, aside) is True
    assert (gateway.rows(original), gateway.rows(aside)) == (3, 2)
