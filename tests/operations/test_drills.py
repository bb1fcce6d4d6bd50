"""Drills on the in-memory ports, through the real flows/drill.yaml and its handler: a drill restores every artifact
into scratch, checks it, removes every scratch resource and proves the backup; it never stops an instance; a restore
preempts it; it fails on what does not check out; the sweeper finishes a drill whose flow died."""
import json

import pytest

from nestbackup.errors import Conflict
from nestbackup.model.ids import DRILL_TAG
from nestbackup.operations import tenants
from nestbackup.operations.backup import get_backup
from nestbackup.operations.drill import create_drill, get_drill, preempt
from nestbackup.operations.drill_steps import advance, sweep_drills
from tests.support.flowplay import backed_up, play_drill
from tests.support.memory.wiring import MemoryWiring


@pytest.fixture
def w():
    return MemoryWiring()


def _no_scratch_left(w, seeded, disks_before):
    assert set(w.ecs.disks) == disks_before, "a scratch disk was left"
    assert not [d for d, doc in w.ecs.disks.items() if DRILL_TAG in doc["tags"]]
    for rds in seeded["DBInstances"]:
        assert set(w.rds.servers[rds]) == {"app"}, "a scratch database was left"


def test_a_drill_restores_every_artifact_into_scratch_checks_it_and_leaves_nothing(w):
    seeded, backup_id = backed_up(w)
    disks_before, snapshots_before = set(w.ecs.disks), set(w.ecs.snapshots)
    drill = create_drill(w, backup_id)
    assert drill["Status"] == "Running"
    play_drill(w, drill["DrillId"])
    final = get_drill(w, drill["DrillId"])
    assert final["Status"] == "Passed", final
    assert final["CleanedUp"] and final["CleanupPending"] == []
    kinds = {r["ResourceType"] for r in final["Resources"]}
    assert kinds == {"disk", "rds"}
    assert all(r["Status"] == "Succeeded" and r["Verified"] for r in final["Resources"])
    assert all(r["DurationSeconds"] is not None for r in final["Resources"])
    assert final["DurationSeconds"] is not None and final["Cost"]["Invocations"] > 0
    rds = next(r for r in final["Resources"] if r["ResourceType"] == "rds")
    assert "match the backup" in rds["Verification"]
    assert w.ecs.refusals.calls["CreateDisk"] == len(seeded["Disks"])
    _no_scratch_left(w, seeded, disks_before)
    assert set(w.ecs.snapshots) == snapshots_before
    assert w.ecs.refusals.calls["StopInstances"] == 0 and w.ecs.refusals.calls["ResetDisk"] == 0
    assert {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]} == {"Running"}
    assert get_backup(w, backup_id)["LastDrill"] == final["EndTime"]


def test_rows_that_do_not_match_the_backup_fail_the_drill_and_it_still_cleans_up(w):
    seeded, backup_id = backed_up(w)
    disks_before = set(w.ecs.disks)
    rds = seeded["DBInstances"][0]
    backup_set = next(iter(w.rds.sets.values()))
    backup_set["contents"]["app"]["t"] = [1]           # the set no longer holds what was counted at backup time
    drill = create_drill(w, backup_id)
    play_drill(w, drill["DrillId"])
    final = get_drill(w, drill["DrillId"])
    assert final["Status"] == "Failed" and final["StatusDetail"].startswith(f"{rds} RowCountMismatch")
    _no_scratch_left(w, seeded, disks_before)
    assert get_backup(w, backup_id)["LastDrill"] is None


def test_no_room_on_the_rds_instance_refuses_the_scratch_restore_before_anything_is_made(w):
    seeded, backup_id = backed_up(w)
    rds = seeded["DBInstances"][0]
    w.rds.disk_used[rds] = 20 * 2 ** 30                 # DBInstanceStorage 20 GB, all of it used
    drill = create_drill(w, backup_id)
    play_drill(w, drill["DrillId"])
    final = get_drill(w, drill["DrillId"])
    item = next(r for r in final["Resources"] if r["ResourceId"] == rds)
    assert final["Status"] == "Failed" and item["ErrorCode"] == "InsufficientStorage"
    assert w.rds.refusals.calls["RestoreTable"] == 0


def test_a_restore_of_the_instance_preempts_a_running_drill_which_cleans_up(w):
    seeded, backup_id = backed_up(w)
    disks_before = set(w.ecs.disks)
    w.ecs.steps = w.rds.steps = 0                        # the cloud's work waits until the test finishes it
    drill = create_drill(w, backup_id)
    advance(w, drill["DrillId"])                         # scratch disk and databases under way
    assert len(w.ecs.disks) > len(disks_before)
    assert preempt(w, "si-1", "restore-0000000000001234") == [drill["DrillId"]]
    w.ecs.steps = w.rds.steps = 1
    w.rds.finish()
    for _ in range(10):
        advance(w, drill["DrillId"])
    final = get_drill(w, drill["DrillId"])
    assert final["Status"] == "Cancelled" and "preempted by restore" in final["StatusDetail"]
    _no_scratch_left(w, seeded, disks_before)


def test_a_second_drill_of_the_instance_waits_for_the_first(w):
    _, backup_id = backed_up(w)
    create_drill(w, backup_id)
    with pytest.raises(Conflict):
        create_drill(w, backup_id)


def test_the_sweeper_cleans_up_and_closes_a_drill_whose_flow_died(w):
    seeded, backup_id = backed_up(w)
    disks_before = set(w.ecs.disks)
    drill = create_drill(w, backup_id, now=1_000.0)
    advance(w, drill["DrillId"], now=1_001.0)           # scratch resources made; then the flow is gone
    w.flows.executions[(w.settings.drill_flow, drill["DrillId"])]["status"] = "Failed"
    assert sweep_drills(w, now=10_000.0) == [drill["DrillId"]]
    final = get_drill(w, drill["DrillId"])
    assert final["Status"] == "Failed" and "FlowEnded" in final["StatusDetail"]
    _no_scratch_left(w, seeded, disks_before)


def test_recovery_objectives_are_measured_and_a_breach_is_reported(w):
    from nestbackup.operations.objectives import recovery_objectives, report_breaches, set_targets
    _, backup_id = backed_up(w)
    out = set_targets(w, "si-1", {"RecoveryPointSeconds": 3600, "RecoveryTimeSeconds": 600})
    assert out["Breached"] and out["RecoveryPointSeconds"] is None          # nothing proven by a drill yet
    assert out["NewestBackupAgeSeconds"] is not None
    drill = create_drill(w, backup_id)
    play_drill(w, drill["DrillId"])
    out = recovery_objectives(w, "si-1")
    assert not out["Breached"], out["Breaches"]
    assert out["RecoveryPointSeconds"] is not None and out["RecoveryTimeSeconds"] is not None
    late = recovery_objectives(w, "si-1", now=10 ** 10)
    assert late["Breached"] and late["Breaches"][0].startswith("RecoveryPoint")
    tenants.create_tenant(w, "acme", ["si-1"], webhook="https://hooks.example.com/acme")
    w.webhooks.posts.clear()
    assert report_breaches(w, now=10 ** 10) == ["si-1"]
    assert report_breaches(w, now=10 ** 10 + 60) == ["si-1"]            # the same day: the same event, posted once
    drill_events = [json.loads(p.body) for p in w.webhooks.posts]
    assert [e["type"] for e in drill_events] == ["com.nestbackup.breach.detected"]
    assert drill_events[0]["data"]["Breaches"] == late["Breaches"]


def test_the_timer_drills_the_latest_backup_every_n_days(w):
    from nestbackup.operations.objectives import drill_due, set_targets
    _, backup_id = backed_up(w)
    set_targets(w, "si-1", {"DrillEveryDays": 7})
    started = drill_due(w)
    assert len(started) == 1 and get_drill(w, started[0])["Origin"] == "schedule"
    assert drill_due(w) == []                      # one running / recent: not again


def test_a_drill_is_refused_while_a_restore_holds_the_instance(w):
    from nestbackup.operations.restore import create_restore
    _, backup_id = backed_up(w)
    create_restore(w, backup_id)
    with pytest.raises(Conflict, match="being restored"):
        create_drill(w, backup_id)


def test_the_caller_cancels_a_drill_which_removes_what_it_made(w):
    from nestbackup.operations.drill import cancel_drill
    seeded, backup_id = backed_up(w)
    disks_before = set(w.ecs.disks)
    w.ecs.steps = w.rds.steps = 0
    drill = create_drill(w, backup_id)
    advance(w, drill["DrillId"])
    assert cancel_drill(w, drill["DrillId"])["Status"] == "Running"
    w.ecs.steps = w.rds.steps = 1
    w.rds.finish()
    for _ in range(10):
        advance(w, drill["DrillId"])
    final = get_drill(w, drill["DrillId"])
    assert final["Status"] == "Cancelled" and final["StatusDetail"].startswith("cancelled by the caller")
    _no_scratch_left(w, seeded, disks_before)
    assert cancel_drill(w, drill["DrillId"])["Status"] == "Cancelled"         # a final one answers as it is
