"""A restore's record says what the cloud showed and no more: a disk reset is never "rolled back" on faith, a
refused reset fails its item with ECS's code, and downtime comes from the instances' real states within the stop
deadline."""
import pytest

from nestbackup.operations.restore import advance, create_restore, get_restore
from nestbackup.ports.compute import Refused
from tests.support.flowplay import backed_up, play_restore
from tests.support.memory.wiring import MemoryWiring


@pytest.fixture
def w():
    return MemoryWiring()


def _disk_items(final):
    return [r for r in final["Resources"] if r["ResourceType"] == "disk"]


def test_a_reset_ecs_ended_without_rolling_back_is_not_reported_rolled_back(w):
    seeded, backup_id = backed_up(w, databases=None)
    w.ecs.reset_undone.update(seeded["Disks"])            # accepted, ReIniting, back In_use: the data untouched
    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    disks = _disk_items(final)
    assert disks and all(w.ecs.disks[d]["reset_to"] is None for d in seeded["Disks"])
    for item in disks:
        assert "rolled back to" not in item["Verification"]
        assert item["Verification"].startswith("not checked:") and item["Verified"] is None
        assert "content was not compared" in item["Verification"]


def test_a_reset_seen_reinitialising_says_so_and_still_claims_no_content(w):
    seeded, backup_id = backed_up(w, databases=None)
    w.ecs.steps = 2                                       # the disk is seen ReIniting once before it settles
    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "Restored"
    for item in _disk_items(final):
        assert item["Status"] == "Succeeded" and "showed the disk ReIniting and then In_use" in item["Verification"]
        assert item["Verified"] is None


def test_a_reset_ecs_refuses_fails_its_item_with_the_code_and_nothing_says_rolled_back(w):
    seeded, backup_id = backed_up(w, databases=None)
    w.ecs.refusals.refuse("ResetDisk", "InvalidParameter.Mismatch", times=len(seeded["Disks"]), http_status=403)
    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "RestoreFailed"
    for item in _disk_items(final):
        assert (item["Status"], item["ErrorCode"]) == ("Failed", "InvalidParameter.Mismatch")
        assert "rolled back" not in (item["Verification"] or "")
    assert {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]} == {"Running"}


def test_a_disk_not_settled_when_reset_is_reset_again_a_round_later(w):
    """ResetDisk refused with 403 IncorrectDiskStatus (the disk not In_use/Available yet, e.g. still ReIniting) was
    not applied: the restore asks again on a later round, as the Terraform provider retries disk operations refused
    with it (alicloud/errors.go DiskInvalidOperation), and the restore ends Restored."""
    seeded, backup_id = backed_up(w, databases=None)
    w.ecs.refusals.refuse("ResetDisk", "IncorrectDiskStatus", times=len(seeded["Disks"]) + 1, http_status=403)
    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "Restored", final
    assert all(w.ecs.disks[d]["reset_to"] for d in seeded["Disks"])
    assert w.ecs.refusals.calls["ResetDisk"] == 2 * len(seeded["Disks"]) + 1


def _advance_until_done(w, rid, clock):
    """Advance as the flow does, the clock moving by each Wait the step asks for; the times of the steps."""
    times, round_number = [], 0
    for _ in range(200):
        times.append(clock[0])
        out = advance(w, rid, round_number, now=clock[0])
        round_number = out["Round"]
        if out["State"] == "Done":
            return times
        clock[0] += out["Wait"]
    raise AssertionError("the restore never ended")


def test_instances_that_never_stop_mean_no_downtime_and_the_deadline_is_kept(w):
    seeded, backup_id = backed_up(w, databases=None)
    w.ecs.refuse_stop.update(seeded["InstanceIds"])        # the stop is accepted and the instance never stops
    deadline = w.settings.stop_deadline_seconds
    clock = [1_000_000.0]
    restore = create_restore(w, backup_id, safety_backup=False, now=clock[0])
    rid = restore["RestoreId"]
    seen_phase, round_number = [], 0
    start = None
    for _ in range(200):
        out = advance(w, rid, round_number, now=clock[0])
        seen_phase.append((clock[0], get_restore(w, rid)["Phase"]))
        round_number = out["Round"]
        if start is None and seen_phase[-1][1] == "StoppingInstance":
            start = clock[0]
        if out["State"] == "Done":
            break
        clock[0] += out["Wait"]
    final = get_restore(w, rid)
    assert final["Status"] == "RestoreFailed" and "did not stop within" in final["StatusDetail"]
    assert "not taken down" in final["StatusDetail"]
    assert final["DowntimeSeconds"] == 0.0
    assert w.ecs.refusals.calls["ResetDisk"] == 0
    left_stopping = next(now for now, phase in seen_phase if phase != "StoppingInstance" and now > start)
    # it gave up at the deadline, not a doubled wait after it
    assert left_stopping - start <= deadline + 1, (left_stopping - start, deadline)


def test_a_stop_ecs_refuses_fails_at_once_with_its_code_and_counts_no_downtime(w):
    seeded, backup_id = backed_up(w, databases=None)
    iid = seeded["InstanceIds"][0]
    w.ecs.instances[iid]["status"] = "Running"
    original = w.ecs.stop_instances

    def refusing(ids):
        return [Refused(i, "OperationConflict", "another operation is running") for i in ids]
    w.ecs.stop_instances = refusing
    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"])
    w.ecs.stop_instances = original
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "RestoreFailed" and "OperationConflict" in final["StatusDetail"]
    assert final["DowntimeSeconds"] in (None, 0.0) and w.ecs.refusals.calls["ResetDisk"] == 0


def test_downtime_runs_from_the_accepted_stop_to_the_instances_seen_running(w):
    seeded, backup_id = backed_up(w, databases=None)
    clock = [2_000_000.0]
    restore = create_restore(w, backup_id, safety_backup=False, now=clock[0])
    rid = restore["RestoreId"]
    _advance_until_done(w, rid, clock)
    final = get_restore(w, rid)
    assert final["Status"] == "Restored"
    assert final["DowntimeSeconds"] is not None and 0 < final["DowntimeSeconds"] < clock[0] - 2_000_000.0 + 1
