"""Restores that go wrong after the instances were stopped, and steps the flow delivers twice, on the in-memory ports:
whatever happens, the instances that were running run again and the record ends final."""
import pytest

from nestbackup.errors import CloudError, Conflict
from nestbackup.operations import cancel
from nestbackup.operations.backup import get_backup
from nestbackup.operations.restore import advance, create_restore, get_restore, recover
from nestbackup.operations.restore_rename import rename
from tests.support.flowplay import backed_up, play_restore
from tests.support.memory.wiring import MemoryWiring


@pytest.fixture
def w():
    return MemoryWiring()




def advance_until(w, restore_id: str, phase: str, max_steps: int = 20) -> None:
    for _ in range(max_steps):
        if get_restore(w, restore_id)["Phase"] == phase:
            return
        advance(w, restore_id)
    raise AssertionError(f"{restore_id} never reached {phase}: {get_restore(w, restore_id)['Phase']}")


def running(w, instance_ids) -> set[str]:
    return {w.ecs.instances[i]["status"] for i in instance_ids}


def test_a_refused_disk_reset_fails_the_restore_and_starts_the_instances_again(w):
    seeded, backup_id = backed_up(w, databases=None)
    w.ecs.refusals.refuse("ResetDisk", "OperationDenied", http_status=403)
    restore = create_restore(w, backup_id, safety_backup=False)
    assert play_restore(w, restore["RestoreId"])["State"] == "Done"
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "RestoreFailed"
    assert "OperationDenied" in {r.get("ErrorCode") for r in final["Resources"]}
    assert running(w, seeded["InstanceIds"]) == {"Running"}
    assert w.store.lock_holder("si-1", 0) is None


def test_a_throttled_disk_reset_is_tried_again_and_the_restore_ends_restored(w):
    seeded, backup_id = backed_up(w, databases=None)
    w.ecs.refusals.refuse("ResetDisk", "Throttling.User", times=2)
    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"])
    assert get_restore(w, restore["RestoreId"])["Status"] == "Restored"
    assert all(w.ecs.disks[d]["reset_to"] for d in seeded["Disks"])
    assert w.ecs.refusals.calls["ResetDisk"] == len(seeded["Disks"]) + 2


def test_the_flows_catch_after_the_stop_starts_the_instances_and_closes_the_record(w):
    seeded, backup_id = backed_up(w, databases=None)
    restore = create_restore(w, backup_id, safety_backup=False)
    rid = restore["RestoreId"]
    advance_until(w, rid, "RestoringData")
    assert running(w, seeded["InstanceIds"]) == {"Stopped"}
    out = recover(w, rid, {"Code": "States.Timeout", "Detail": "the step timed out"})
    assert out["Status"] == "RestoreFailed"
    final = get_restore(w, rid)
    assert final["Status"] == "RestoreFailed" and "States.Timeout" in final["StatusDetail"]
    assert running(w, seeded["InstanceIds"]) == {"Running"}
    assert all(r["Status"] not in ("Pending", "Running") for r in final["Resources"])
    assert recover(w, rid, {"Code": "Again"})["Status"] == "RestoreFailed"      # a second Catch changes nothing
    assert get_restore(w, rid)["StatusDetail"] == final["StatusDetail"]


def test_a_failed_safety_backup_touches_nothing(w):
    seeded, backup_id = backed_up(w)
    w.ecs.failing.update(seeded["Disks"])                  # every snapshot from now on fails
    restore = create_restore(w, backup_id)
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "RestoreFailed" and "nothing was touched" in final["StatusDetail"]
    assert final["SafetyBackupId"] and seeded["Disks"][0] in final["StatusDetail"]
    assert w.ecs.refusals.calls["StopInstances"] == 0 and w.ecs.refusals.calls["ResetDisk"] == 0
    assert w.rds.refusals.calls["RestoreTable"] == 0


def test_a_step_delivered_twice_stops_and_restores_once(w):
    seeded, backup_id = backed_up(w)
    restore = create_restore(w, backup_id, safety_backup=False)
    rid = restore["RestoreId"]
    for _ in range(2):                                      # the flow's retry after a lost answer
        advance(w, rid)
    assert w.rds.refusals.calls["RestoreTable"] == 1
    advance_until(w, rid, "RestoringData")
    advance(w, rid)
    advance(w, rid)
    assert w.ecs.refusals.calls["StopInstances"] == 1
    assert w.ecs.refusals.calls["ResetDisk"] == len(seeded["Disks"])
    play_restore(w, rid)
    assert get_restore(w, rid)["Status"] == "Restored"


def test_the_rename_step_run_again_swaps_nothing_twice(w):
    seeded, backup_id = backed_up(w)
    rds = seeded["DBInstances"][0]
    w.rds.servers[rds]["app"]["t"].append(4)
    restore = create_restore(w, backup_id, safety_backup=False)
    rid = restore["RestoreId"]
    for _ in range(50):
        if advance(w, rid)["State"] == "Rename":
            break
    rename(w, rid)
    after_first = {name: [list(rows) for rows in db.values()] for name, db in w.rds.servers[rds].items()}
    assert rename(w, rid)["Phase"] == "StartingInstance"          # a re-run in another phase does nothing
    assert {name: [list(rows) for rows in db.values()] for name, db in w.rds.servers[rds].items()} == after_first
    play_restore(w, rid)
    final = get_restore(w, rid)
    assert final["Status"] == "Restored" and w.rds.servers[rds]["app"]["t"] == [1, 2, 3]
    assert running(w, seeded["InstanceIds"]) == {"Running"}


@pytest.mark.parametrize("live", [True, False], ids=["live-database", "dropped-since"])
def test_a_rename_that_crashed_after_its_swap_is_finished_by_the_next_run(w, live):
    seeded, backup_id = backed_up(w)
    rds = seeded["DBInstances"][0]
    if not live:
        del w.rds.servers[rds]["app"]                    # dropped after the backup: nothing to set aside
    restore = create_restore(w, backup_id, safety_backup=False)
    rid = restore["RestoreId"]
    for _ in range(50):
        if advance(w, rid)["State"] == "Rename":
            break
    db = next(r for r in get_restore(w, rid)["Resources"] if r["ResourceId"] == rds)["Databases"][0]
    w.database(rds, "PostgreSQL").rename_back("app", db["RestoredName"], db["AsideName"])   # then the crash
    rename(w, rid)                                       # the flow runs the step again
    play_restore(w, rid)
    final = get_restore(w, rid)
    assert final["Status"] == "Restored" and w.rds.servers[rds]["app"]["t"] == [1, 2, 3]
    db = next(r for r in final["Resources"] if r["ResourceId"] == rds)["Databases"][0]
    assert db["State"] == "Renamed" and db["AsideKept"] is live


def test_cancel_during_the_safety_backup_cancels_it_too_and_touches_nothing(w):
    seeded, backup_id = backed_up(w)
    w.ecs.steps = 0                                      # the safety backup's snapshots never end by themselves
    restore = create_restore(w, backup_id)
    rid = restore["RestoreId"]
    advance(w, rid)
    safety = get_restore(w, rid)["SafetyBackupId"]
    out = cancel.cancel_restore(w, rid)
    assert out["Status"] == "Cancelled"
    assert get_backup(w, safety)["Status"] == "Cancelled"
    assert f"the safety backup {safety} was cancelled too" in get_restore(w, rid)["StatusDetail"]
    assert w.ecs.refusals.calls["StopInstances"] == 0 and running(w, seeded["InstanceIds"]) == {"Running"}
    assert w.store.lock_holder("si-1", 0) is None


def test_cancel_after_the_stop_starts_the_instances_and_says_which_disks_were_reset(w):
    seeded, backup_id = backed_up(w, databases=None)
    restore = create_restore(w, backup_id, safety_backup=False)
    rid = restore["RestoreId"]
    advance_until(w, rid, "RestoringData")
    w.ecs.refusals.refuse("ResetDisk", "Throttling.User")
    advance(w, rid)                                      # one disk is reset, the other waits for the next round
    assert get_restore(w, rid)["Phase"] == "RestoringData"
    out = cancel.cancel_restore(w, rid)
    assert out["Status"] == "Cancelled"
    detail = get_restore(w, rid)["StatusDetail"]
    assert f"disks already rolled back to the backup: {seeded['Disks'][1]}" in detail
    assert detail.startswith("Cancelled by the caller in RestoringData") and "running again" in detail
    assert running(w, seeded["InstanceIds"]) == {"Running"}
    with pytest.raises(Conflict):
        cancel.cancel_restore(w, rid)                    # only a running restore can be cancelled


def test_a_cancel_whose_restart_of_the_instances_fails_stays_a_cancel_when_the_sweeper_finishes_it(w):
    seeded, backup_id = backed_up(w, databases=None)
    restore = create_restore(w, backup_id, safety_backup=False)
    rid = restore["RestoreId"]
    advance_until(w, rid, "RestoringData")
    w.ecs.refusals.refuse("StartInstances", "ServiceUnavailable", http_status=503)
    with pytest.raises(CloudError):
        cancel.cancel_restore(w, rid)                    # the instances could not be started: it stays open
    assert get_restore(w, rid)["Status"] == "Restoring"
    out = recover(w, rid, {"Code": "Overdue", "Detail": "closed by the sweeper"})    # a later sweep
    final = get_restore(w, rid)
    assert out["Status"] == final["Status"] == "Cancelled", final
    assert final["StatusDetail"].startswith("Cancelled by the caller in RestoringData")
    assert "Overdue" not in final["StatusDetail"] and running(w, seeded["InstanceIds"]) == {"Running"}
