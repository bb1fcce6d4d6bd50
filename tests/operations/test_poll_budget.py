"""One poll budget shared by every running backup (operations/poll_budget.py): the describe calls of all poll rounds in
a minute stay under `poll_calls_per_minute`; a round refused waits into a later minute and never fails the backup or
loses an item; the budget's store failing makes a round wait, not stall."""
from __future__ import annotations

import time

import pytest

from nestbackup.decisions.backup import budget_floor, budget_pressure, budget_wait
from nestbackup.errors import CloudError
from nestbackup.model.status import ItemStatus
from nestbackup.operations.backup import create_backup, get_backup
from nestbackup.operations.backup_poll import poll
from nestbackup.operations.backup_start import start_batch, start_batch_count
from nestbackup.operations.poll_budget import KEY, POLL_BUDGET
from tests.support.memory.wiring import MemoryWiring


def next_minute() -> float:
    """A whole minute at least 10 s ahead, read when a test starts (its records start now): a minute read at import
    could be minutes before a test that runs late in a long run, putting its rounds before its records began."""
    return ((time.time() + 10) // 60 + 1) * 60


def started(w: MemoryWiring, count: int) -> list[str]:
    """`count` backups of one disk each whose snapshots run."""
    ids = []
    for n in range(count):
        w.seed(f"si-{n}", disks_per_instance=1)
        backup_id = create_backup(w, f"si-{n}")["BackupId"]
        for batch in start_batch_count(w, backup_id):
            start_batch(w, backup_id, batch)
        ids.append(backup_id)
    return ids


@pytest.fixture
def w():
    return MemoryWiring(steps=0, poll_calls_per_minute=3)       # snapshots run until the test finishes them


def test_the_rounds_of_one_minute_describe_no_more_than_the_budget_and_the_rest_wait_into_a_later_minute(w):
    minute = next_minute()
    ids = started(w, 5)
    before = w.ecs.refusals.calls["DescribeSnapshots"]
    outs = [poll(w, backup_id, now=minute + 10 + n) for n, backup_id in enumerate(ids)]

    assert w.ecs.refusals.calls["DescribeSnapshots"] - before == 3          # the budget, not one call more
    refused = outs[3:]
    for out in refused:                       # waits into the next minute or later, within CloudFlow's Wait limit
        assert not out["Done"] and minute + 60 <= minute + 13 + out["Wait"] <= minute + 14 + 300
    for backup_id in ids:                     # nothing failed, nothing lost
        record = get_backup(w, backup_id)
        assert record["Status"] == "Creating"
        assert [i["Status"] for i in record["Resources"]] == [ItemStatus.RUNNING.value]

    w.ecs.finish()                            # the snapshots end; the refused rounds poll in a later minute
    assert all(poll(w, backup_id, now=minute + 70 + n)["Done"] for n, backup_id in enumerate(ids[3:]))


def test_a_round_alone_in_a_fresh_minute_polls_even_when_it_wants_more_than_the_budget():
    minute = next_minute()
    w = MemoryWiring(steps=0, poll_calls_per_minute=1)
    w.seed("si-big", disks_per_instance=150, instances=1)            # 150 disks: two DescribeSnapshots calls
    backup_id = create_backup(w, "si-big")["BackupId"]
    for batch in start_batch_count(w, backup_id):
        start_batch(w, backup_id, batch)
    w.ecs.refusals.calls.clear()
    poll(w, backup_id, now=minute + 1)
    assert w.ecs.refusals.calls["DescribeSnapshots"] + w.ecs.refusals.calls["DescribeSnapshotGroups"] >= 1


def test_an_item_past_its_deadline_is_polled_whatever_the_budget(w):
    minute = next_minute()
    ids = started(w, 4)
    for n, backup_id in enumerate(ids[:3]):
        poll(w, backup_id, now=minute + n)
    late = minute + w.settings.disk_deadline_seconds + 5
    w.documents.put_doc(POLL_BUDGET, KEY, {"Minute": int(late // 60), "Used": {"ecs:DescribeSnapshots": 3}})
    out = poll(w, ids[3], now=late)
    assert out["Done"]                         # described, and failed by its deadline (not left waiting)
    assert get_backup(w, ids[3])["Resources"][0]["Status"] == ItemStatus.FAILED.value


@pytest.mark.parametrize("fault", ["error", "lost"])
def test_a_budget_write_that_fails_or_is_lost_makes_the_round_wait_and_the_next_round_polls(w, fault):
    minute = next_minute()
    [backup_id] = started(w, 1)
    update = w.store.update_doc
    create = w.store.create_doc

    def failing(*args, **kwargs):
        if fault == "lost":
            (create if w.store.get_doc(POLL_BUDGET, KEY) is None else update)(*args, **kwargs)
        raise CloudError("OTSServerUnavailable", "the budget's write failed", http_status=503)
    w.store.update_doc = w.store.create_doc = failing
    before = w.ecs.refusals.calls["DescribeSnapshots"]
    out = poll(w, backup_id, now=minute + 5)
    assert not out["Done"] and 55 <= out["Wait"] <= 300
    assert w.ecs.refusals.calls["DescribeSnapshots"] == before
    assert get_backup(w, backup_id)["Status"] == "Creating"

    w.store.update_doc, w.store.create_doc = update, create
    w.ecs.finish()
    assert poll(w, backup_id, now=minute + 5 + out["Wait"])["Done"]


def test_a_budget_of_zero_is_no_budget():
    minute = next_minute()
    w = MemoryWiring(steps=0, poll_calls_per_minute=0)
    ids = started(w, 3)
    for backup_id in ids:
        poll(w, backup_id, now=minute)
    assert w.store.get_doc(POLL_BUDGET, KEY) is None


def test_a_refused_round_comes_back_later_the_sooner_the_minute_filled():
    minute = next_minute()
    start = minute
    filled_late = [budget_wait(start + 50, budget_pressure(start + 50, start + 49), f"b#{n}") for n in range(200)]
    filled_early = [budget_wait(start + 50, budget_pressure(start + 50, start + 5), f"b#{n}") for n in range(200)]
    assert all(10 <= w <= 10 + 60 * 60 / 49 for w in filled_late)       # about the next minute
    assert all(1 <= w <= 300 for w in filled_early) and max(filled_early) > 120    # over several
    assert len(set(filled_late)) > 30                                    # spread, not all at once


def test_while_the_demand_is_over_the_budget_a_served_round_waits_about_as_many_minutes():
    assert budget_floor(1.0, "b#1") == 0                                  # the demand fits: the poll's own pace
    floors = [budget_floor(3.0, f"b#{n}") for n in range(200)]
    assert all(90 <= f <= 270 for f in floors) and 150 <= sum(floors) / len(floors) <= 210


def test_an_rds_backups_rounds_take_describe_backup_tasks_from_the_budget():
    minute = next_minute()
    w = MemoryWiring(steps=0, poll_calls_per_minute=1)
    for n in range(2):
        w.seed(f"si-db-{n}", disks_per_instance=0, databases={"PostgreSQL": {"app": {"t": [[1]]}}})
    ids = []
    for n in range(2):
        backup_id = create_backup(w, f"si-db-{n}")["BackupId"]
        for batch in start_batch_count(w, backup_id):
            start_batch(w, backup_id, batch)
        ids.append(backup_id)
    before = w.rds.refusals.calls["DescribeBackupTasks"]
    first, second = (poll(w, backup_id, now=minute + 1 + n) for n, backup_id in enumerate(ids))
    assert w.rds.refusals.calls["DescribeBackupTasks"] - before == 1        # one job a call: the budget's one
    assert w.store.get_doc(POLL_BUDGET, KEY)[0]["Used"] == {"rds:DescribeBackupTasks": 1}
    assert not second["Done"] and second["Wait"] >= 58
