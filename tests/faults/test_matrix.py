"""The fault matrix (issue 20): each operation (backup, restore, a selective restore and its preview, cancelling a
backup or a restore, delete, retention, the schedule tick, the sweeper closing a backup, a restore or a drill whose
flow died, undoing a restore, the sweeper past a restore's undo window, a drill, a restore preempting a running
drill, a backup with a copy in another region and its delete, the catalog's import into a deployment that lost
it) is run once on the in-memory ports to record every
call it makes to a port; then, per call,
again from scratch with that call failing in each way the real services fail (`error`: not applied; `lost`: applied,
its answer lost; `crash`: applied, then the process dies), with the flows' retries, a client that sends a failed
request again once, and the timer's sweeper. After each run every invariant must hold (tests/support/faults.py
`violations`): every record final with a true status; no artifact no record owns, nor two for one; no lock or token
held for no live record; no instance left stopped; no scratch disk or database of a drill left, no Passed drill whose
backup lacks its LastDrill.

A deterministic slice (every SAMPLE-th cell of each operation) runs in the inner loop; the whole matrix is `slow`.
Its size is printed at the end of the run (tests/faults/conftest.py).

KNOWN_FAILURES are cells that break an invariant on today's code, each with the finding; they are strict xfails, so
a fix that makes one hold fails here until its mark is removed."""
from __future__ import annotations

from dataclasses import replace

import pytest

from tests.support.faults import SCENARIOS, WAYS, matrix, run_cell

SAMPLE = 10          # the inner loop runs every 10th cell of each operation (all three ways come round in turn)

# Cells that break an invariant, each with its finding (none today: every cell holds). A finding found later is
# listed here until its fix lands, as a strict xfail.
KNOWN_FAILURES: dict[str, str] = {}


def _params() -> list:
    params = []
    for name, found in matrix().items():
        for index, (call, way) in enumerate(found):
            cell = f"{name}/{call}/{way}"
            marks = [] if index % SAMPLE == 0 else [pytest.mark.slow]
            if cell in KNOWN_FAILURES:
                marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[cell]))
            params.append(pytest.param(name, call, way, id=cell, marks=marks))
    return params


def test_every_known_failure_is_a_cell_of_the_matrix():
    cells = {f"{name}/{call}/{way}" for name, found in matrix().items() for call, way in found}
    assert set(KNOWN_FAILURES) <= cells, sorted(set(KNOWN_FAILURES) - cells)


@pytest.mark.parametrize(("operation", "call", "way"), _params())
def test_every_invariant_holds_when_one_call_fails(operation, call, way):
    result = run_cell(SCENARIOS[operation], call, way)
    assert result.fired, f"{call} was not made this time: the operation's calls are not deterministic"
    assert not result.violations, "\n".join(result.violations)


# The matrix's operations come an hour after what prepared them. A restore started seconds after its backup ended
# shares the minute the RDS sets are found by.
RESTORE_RIGHT_AFTER = replace(SCENARIOS["restore"], name="restore-right-after", gap=10)


@pytest.mark.parametrize(("call", "way"), [("databases.create_backup#1", "error"),
                                           *(("records.save#4", way) for way in WAYS)])
def test_a_safety_backup_adopts_no_set_of_another_record(call, way):
    """Its CreateBackup refused, or its intent's write failed, lost or followed by a death: the retry adopts no set
    the restored backup made in the same minute (two records owning one set, deleting either deletes the other's)."""
    result = run_cell(RESTORE_RIGHT_AFTER, call, way)
    assert result.fired
    assert not result.violations, "\n".join(result.violations)


def test_a_restore_right_after_its_backup_holds_with_no_fault():
    assert run_cell(RESTORE_RIGHT_AFTER).violations == []
