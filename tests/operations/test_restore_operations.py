"""Restore operations on the in-memory ports: phases, downtime, all-or-nothing, cancel, recovery."""
import pytest

from nestbackup.errors import CloudError
from nestbackup.model.ids import OWNER_TAG  # noqa: F401 - the tag the artifacts carry
from nestbackup.operations import cancel
from nestbackup.operations.restore import advance, create_restore, get_restore
from tests.support.flowplay import backed_up, play_restore
from tests.support.memory.wiring import MemoryWiring


@pytest.fixture
def w():
    return MemoryWiring()




def test_a_restore_brings_data_back_keeps_later_writes_aside_and_starts_the_instances(w):
    seeded, backup_id = backed_up(w)
    rds = seeded["DBInstances"][0]
    w.rds.servers[rds]["app"]["t"].append(4)                     # written after the backup
    restore = create_restore(w, backup_id)
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "Restored" and final["SafetyBackupId"]
    assert w.rds.servers[rds]["app"]["t"] == [1, 2, 3]
    aside = final["Resources"][[r["ResourceId"] for r in final["Resources"]].index(rds)]["Databases"][0]["AsideName"]
    assert w.rds.servers[rds][aside]["t"] == [1, 2, 3, 4]
    assert all(w.ecs.disks[d]["reset_to"] for d in seeded["Disks"])
    assert {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]} == {"Running"}
    assert final["Verified"] is True and final["DowntimeSeconds"] is not None and final["Cost"]["Invocations"] > 0


def test_a_stop_whose_answer_was_lost_still_starts_the_instances_again(w):
    seeded, backup_id = backed_up(w)
    stop, lost = w.ecs.stop_instances, []

    def stop_then_lose_the_answer(ids):
        refused = stop(ids)                                      # applied: the instances are stopping
        if not lost:
            lost.append(ids)
            raise CloudError("Unreachable", "read timed out", action="StopInstances")
        return refused
    w.ecs.stop_instances = stop_then_lose_the_answer
    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"])                        # the flow's Retry runs the step again
    assert lost and get_restore(w, restore["RestoreId"])["Status"] == "Restored"
    assert {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]} == {"Running"}


def test_databases_are_restored_before_anything_is_stopped(w):
    seeded, backup_id = backed_up(w)
    phases_seen = []

    def watch(w):
        record = get_restore(w, restore["RestoreId"])
        running = {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]}
        phases_seen.append((record["Phase"], running))

    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"], on_phase=watch)
    restoring = [running for phase, running in phases_seen if phase == "RestoringDatabases"]
    assert restoring and all(r == {"Running"} for r in restoring)
    order = [phase for phase, _ in phases_seen]
    assert order.index("StoppingInstance") > max(i for i, p in enumerate(order) if p == "RestoringDatabases")


def test_a_database_that_cannot_be_restored_stops_nothing(w):
    seeded, backup_id = backed_up(w)
    w.rds.failing.add(seeded["DBInstances"][0])
    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "RestoreFailed" and "nothing was stopped" in final["StatusDetail"]
    assert w.ecs.refusals.calls["StopInstances"] == 0 and w.ecs.refusals.calls["ResetDisk"] == 0
    assert set(w.rds.servers[seeded["DBInstances"][0]]) == {"app"}            # no copy was made, nothing renamed


def test_when_one_rds_instance_fails_no_database_is_swapped(w):
    seeded, backup_id = backed_up(w, {"PostgreSQL": {"a": {"t": [1]}}, "MySQL": {"b": {"t": [2]}}})
    pg, my = seeded["DBInstances"]
    w.rds.failing.add(my)
    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    items = {r["ResourceId"]: r for r in final["Resources"]}
    assert items[pg]["Status"] == "RolledBack" and "a" in w.rds.servers[pg]     # held back, not a failure
    assert items[my]["Status"] == "Failed"
    assert final["Status"] == "RestoreFailed"
    # the cause starts with the one that failed, counts it alone, and names the phase it stopped in
    assert final["StatusDetail"].startswith(f"{my} ")
    assert "1 of " in final["StatusDetail"] and "stopped in RestoringDatabases" in final["StatusDetail"]
    assert final["Cause"]["ResourceId"] == my and final["Cause"]["Phase"] == "RestoringDatabases"
    assert {r["Status"] for r in final["Resources"] if r["ResourceType"] == "disk"} == {"NotStarted"}


def test_instances_that_will_not_stop_are_started_and_nothing_is_reset(w):
    seeded, backup_id = backed_up(w, databases=None)
    w.ecs.refuse_stop.update(seeded["InstanceIds"])          # stopping never ends
    w.settings = type(w.settings)(**{**w.settings.__dict__, "stop_deadline_seconds": 0})
    restore = create_restore(w, backup_id, safety_backup=False)
    rid = restore["RestoreId"]
    for _ in range(10):
        if advance(w, rid)["State"] == "Done":
            break
    final = get_restore(w, rid)
    assert final["Status"] == "RestoreFailed" and "did not stop" in final["StatusDetail"]
    assert w.ecs.refusals.calls["ResetDisk"] == 0


def test_cancel_while_databases_are_restored_says_nothing_was_touched(w):
    seeded, backup_id = backed_up(w)
    w.rds.steps = 0                                          # the restore task never ends by itself
    restore = create_restore(w, backup_id, safety_backup=False)
    rid = restore["RestoreId"]
    advance(w, rid)
    assert get_restore(w, rid)["Phase"] == "RestoringDatabases"
    out = cancel.cancel_restore(w, rid)
    assert out["Status"] == "Cancelled"
    final = get_restore(w, rid)
    assert "no disk was touched" in final["StatusDetail"] and w.ecs.refusals.calls["StopInstances"] == 0
    assert "no instance was stopped" in final["StatusDetail"] and "Failed" not in {
        r["Status"] for r in final["Resources"]}


def test_a_running_restore_says_when_its_phase_stops_waiting_and_a_final_one_does_not():
    from nestbackup.model.records import iso_utc
    from nestbackup.operations.backup import create_backup
    from nestbackup.operations.restore import advance, create_restore, get_restore
    from tests.support.flowplay import play_backup
    from tests.support.memory.wiring import MemoryWiring
    w = MemoryWiring()
    w.seed("si-1", instances=1, disks_per_instance=1)
    backup_id = create_backup(w, "si-1")["BackupId"]
    play_backup(w, backup_id)
    restore_id = create_restore(w, backup_id, safety_backup=False, now=1_900_000_000)["RestoreId"]
    shown = get_restore(w, restore_id)
    assert shown["Phase"] == "RestoringDatabases"                  # databases first, while the instance runs
    assert shown["PhaseDeadline"] == iso_utc(1_900_000_000 + w.settings.restore_deadline_seconds)
    for _ in range(50):
        advance(w, restore_id)
        if get_restore(w, restore_id)["Status"] != "Restoring":
            break
    assert "PhaseDeadline" not in get_restore(w, restore_id)
