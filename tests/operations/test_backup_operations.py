"""Backup operations on the in-memory ports: the decisions and the I/O around them, checked in milliseconds."""
import pytest

from nestbackup.errors import Conflict, NotFound, ValidationError
from nestbackup.operations import artifacts, cancel, schedules
from nestbackup.operations.backup import create_backup, get_backup, list_backups
from nestbackup.operations.backup_poll import poll
from nestbackup.operations.backup_start import start_batch
from nestbackup.operations.plan import plan_backup
from tests.support.flowplay import play_backup
from tests.support.memory.wiring import MemoryWiring

DBS = {"PostgreSQL": {"app": {"t": [1, 2, 3]}}}


@pytest.fixture
def w():
    return MemoryWiring()


def test_a_backup_of_disks_and_a_database_ends_created_with_every_artifact(w):
    seeded = w.seed("si-1", databases=DBS)
    record = create_backup(w, "si-1")
    assert record["Status"] == "Creating" and {r["Status"] for r in record["Resources"]} == {"Pending"}
    assert ("nestbackup-backup", record["BackupId"]) in w.flows.executions
    assert play_backup(w, record["BackupId"])["Status"] == "Created"
    final = get_backup(w, record["BackupId"])
    items = {r["ResourceId"]: r for r in final["Resources"]}
    assert {r["Method"] for r in final["Resources"]} == {"SnapshotGroup", "RdsBackup"}
    assert all(items[d]["ArtifactId"] in w.ecs.snapshots for d in seeded["Disks"])
    assert items[seeded["DBInstances"][0]]["ArtifactId"] in w.rds.sets
    assert items[seeded["DBInstances"][0]]["Databases"] == ["app"]
    assert final["Cost"]["Calls"]["CreateSnapshotGroup"] == 1 and final["Cost"]["BytesCreated"] > 0
    assert w.store.lock_holder("si-1", 0) is None                       # the instance is free again


def test_a_failed_snapshot_fails_its_disk_and_the_record_says_why(w):
    seeded = w.seed("si-1", instances=1, disks_per_instance=1)
    w.ecs.failing.add(seeded["Disks"][0])
    record = create_backup(w, "si-1")
    assert play_backup(w, record["BackupId"])["Status"] == "CreateFailed"
    final = get_backup(w, record["BackupId"])
    assert final["Resources"][0]["ErrorCode"] in ("SnapshotFailed", "GroupMemberFailed") or \
        final["Resources"][0]["Status"] == "Failed"
    assert seeded["Disks"][0] in final["StatusDetail"]


def test_throttling_defers_a_start_to_the_next_round_and_the_backup_still_ends(w):
    w.seed("si-1", instances=1, disks_per_instance=2)
    w.ecs.refusals.refuse("CreateSnapshotGroup", "Throttling.User", times=2)
    record = create_backup(w, "si-1")
    assert play_backup(w, record["BackupId"])["Status"] == "Created"
    assert w.ecs.refusals.calls["CreateSnapshotGroup"] == 3


def test_a_start_step_delivered_twice_starts_nothing_twice(w):
    w.seed("si-1", databases=DBS)
    record = create_backup(w, "si-1")
    start_batch(w, record["BackupId"], 0)
    start_batch(w, record["BackupId"], 0)                          # the flow's retry after a lost answer
    assert len(w.ecs.groups) == 1 and len(w.rds.jobs) == 1
    assert play_backup(w, record["BackupId"])["Status"] == "Created"


def test_a_busy_rds_instance_is_waited_for(w):
    seeded = w.seed("si-1", instances=0, databases=DBS)
    w.rds.refusals.refuse("CreateBackup", "IncorrectDBInstanceState", times=2, http_status=403)
    record = create_backup(w, "si-1")
    start_batch(w, record["BackupId"], 0)
    assert get_backup(w, record["BackupId"])["Resources"][0]["WaitReason"].startswith("IncorrectDBInstanceState")
    assert play_backup(w, record["BackupId"])["Status"] == "Created"
    assert seeded["DBInstances"][0] in {j["instance"] for j in w.rds.jobs.values()}


@pytest.mark.parametrize(("disks", "action"), [(1, "CreateSnapshot"), (2, "CreateSnapshotGroup")])
def test_a_snapshot_refused_while_another_of_the_disk_is_made_is_waited_for(w, disks, action):
    """An automatic snapshot policy may be taking a snapshot of the disk: ECS refuses with 403
    IncorrectDiskStatus.CreatingSnapshot ("try again later"), and the backup waits it out as RDS BackupJobExists."""
    w.seed("si-1", instances=1, disks_per_instance=disks)
    w.ecs.refusals.refuse(action, "IncorrectDiskStatus.CreatingSnapshot", times=2, http_status=403)
    record = create_backup(w, "si-1")
    start_batch(w, record["BackupId"], 0)
    items = get_backup(w, record["BackupId"])["Resources"]
    assert {i["Status"] for i in items} == {"Pending"}
    assert all(i["WaitReason"].startswith("IncorrectDiskStatus.CreatingSnapshot") for i in items)
    assert play_backup(w, record["BackupId"])["Status"] == "Created"
    assert all(i["WaitReason"] is None for i in get_backup(w, record["BackupId"])["Resources"])


def test_a_disk_still_refused_at_its_deadline_fails_with_timeout_naming_the_last_refusal(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    w.ecs.refusals.refuse("CreateSnapshot", "IncorrectDiskStatus.CreatingSnapshot", times=99, http_status=403)
    record = create_backup(w, "si-1")
    start_batch(w, record["BackupId"], 0)
    poll(w, record["BackupId"], 0, now=2_000_000_000)    # long past the disk deadline
    item = get_backup(w, record["BackupId"])["Resources"][0]
    assert (item["Status"], item["ErrorCode"]) == ("Failed", "Timeout")
    assert "last refusal: IncorrectDiskStatus.CreatingSnapshot" in item["ErrorMessage"]


def test_one_operation_per_service_instance_and_bad_input_is_refused(w):
    w.seed("si-1")
    create_backup(w, "si-1")
    with pytest.raises(Conflict):
        create_backup(w, "si-1")
    with pytest.raises(ValidationError):
        create_backup(w, "si-1\n")
    with pytest.raises(NotFound):
        create_backup(w, "si-unknown")


def test_the_same_client_token_gives_the_same_backup(w):
    w.seed("si-1")
    first = create_backup(w, "si-1", token="tok-1")
    assert create_backup(w, "si-1", token="tok-1")["BackupId"] == first["BackupId"]
    assert len(list_backups(w, "si-1")["Backups"]) == 1


def test_a_late_poll_after_the_record_closed_takes_no_lock_back(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    record = create_backup(w, "si-1")
    play_backup(w, record["BackupId"])
    assert poll(w, record["BackupId"], 7)["Done"] is True
    assert w.store.lock_holder("si-1", 0) is None


def test_cancel_deletes_what_was_made_and_closes_the_record(w):
    w.seed("si-1", databases=DBS)
    w.ecs.steps = w.rds.steps = 0                           # nothing finishes by itself
    record = create_backup(w, "si-1")
    start_batch(w, record["BackupId"], 0)
    w.rds.finish()                                          # the RDS set exists: cancel must delete it too
    out = cancel.cancel_backup(w, record["BackupId"])
    assert out["Status"] == "Cancelled" and not w.ecs.snapshots and not w.rds.sets
    assert w.flows.executions[("nestbackup-backup", record["BackupId"])]["status"] == "Stopped"


def test_delete_removes_every_artifact_and_is_refused_while_creating(w):
    w.seed("si-1", databases=DBS)
    record = create_backup(w, "si-1")
    with pytest.raises(Conflict):
        artifacts.delete_backup(w, record["BackupId"])
    play_backup(w, record["BackupId"])
    assert artifacts.delete_backup(w, record["BackupId"])["Status"] == "Deleted"
    assert not w.ecs.snapshots and not w.ecs.groups and not w.rds.sets


def test_a_schedule_fires_a_backup_and_retention_deletes_the_oldest(w):
    """Retention runs before the new backup takes the instance's lock: after it, every delete would be refused."""
    w.seed("si-1", instances=1, disks_per_instance=1)
    schedules.set_schedule(w, "si-1", "0 */2 * * *", keep_last=1)
    ids = []
    for hour in (2, 4, 6):
        out = schedules.tick(w, now=1_900_000_000 - 1_900_000_000 % 86400 + hour * 3600)
        fired = [r for r in out["Results"] if r.get("BackupId")]
        assert len(fired) == 1, out
        ids.append(fired[0]["BackupId"])
        play_backup(w, ids[-1])
    statuses = [get_backup(w, i)["Status"] for i in ids]
    assert statuses[-1] == "Created" and "Deleted" in statuses[:-1]


@pytest.mark.parametrize("unit", ["group", "snapshot", "rds"])
def test_a_cancel_that_lands_while_a_start_call_is_in_flight_leaves_nothing_behind(w, unit):
    """CloudFlow's StopExecution does not stop a function already running: a Start step whose CreateSnapshotGroup,
    CreateSnapshot or CreateBackup returns after the cancel read the record made something the cancel could not see.
    The step finds its item written by the cancel, and deletes what it made."""
    if unit == "rds":
        w.seed("si-1", instances=0, databases=DBS)
    else:
        w.seed("si-1", instances=1, disks_per_instance=2 if unit == "group" else 1)
    action = {"group": "create_snapshot_group", "snapshot": "create_snapshot", "rds": "create_backup"}[unit]
    target = w.rds if unit == "rds" else w.ecs
    made = getattr(target, action)
    cancelled = {}

    def cancel_in_flight(*args, **kwargs):
        answer = made(*args, **kwargs)                      # the cloud made it; the step has not recorded it yet
        cancelled.update(cancel.cancel_backup(w, record["BackupId"]))
        w.rds.finish()                                      # the RDS set appears after the cancel
        return answer

    setattr(target, action, cancel_in_flight)
    record = create_backup(w, "si-1")
    start_batch(w, record["BackupId"], 0)
    assert cancelled["Status"] == "Cancelled"
    assert not w.ecs.snapshots and not w.ecs.groups and not w.rds.sets
    final = get_backup(w, record["BackupId"])
    assert final["Status"] == "Cancelled"
    assert {r["Status"] for r in final["Resources"]} == {"Cancelled"}
    assert all("started as the backup was cancelled" in r["ErrorMessage"] for r in final["Resources"])


def test_a_start_recorded_between_the_cancels_first_read_and_its_marking_is_deleted_too(w, monkeypatch):
    w.seed("si-1", instances=1, disks_per_instance=2)
    record = create_backup(w, "si-1")
    mark = cancel._mark_cancelled

    def start_then_mark(w_, backup_id, *rest):
        start_batch(w, backup_id, 0)                # the step writes its group after the cancel's first read
        return mark(w_, backup_id, *rest)

    monkeypatch.setattr(cancel, "_mark_cancelled", start_then_mark)
    out = cancel.cancel_backup(w, record["BackupId"])
    assert out["Status"] == "Cancelled" and out["Leftovers"] == []
    assert not w.ecs.snapshots and not w.ecs.groups


def test_a_cancel_does_not_wait_past_its_budget_for_an_rds_job_and_the_timer_deletes_the_set_once_it_ends():
    """The cancel runs in the API function (60 s): an RDS backup job still running after its budget is handed to the
    sweeper, which deletes the set the job makes once it ends."""
    from nestbackup.operations.sweeper import sweep
    w = MemoryWiring(cancel_rds_wait_seconds=0)
    w.seed("si-1", instances=0, databases=DBS)
    w.rds.steps = 0                                         # the job does not end by itself
    record = create_backup(w, "si-1")
    start_batch(w, record["BackupId"], 0)
    out = cancel.cancel_backup(w, record["BackupId"])
    assert out["Status"] == "Cancelled" and out["Leftovers"] == []
    final = get_backup(w, record["BackupId"])
    assert "had not ended: its set is deleted when the job ends" in final["StatusDetail"]
    [item] = final["Resources"]
    assert item["Status"] == "Cancelled" and "the set is deleted when it ends" in item["ErrorMessage"]
    assert sweep(w)["CancelledSetsWaiting"] == 1 and not w.rds.sets      # still running: nothing to delete yet
    w.rds.finish()
    assert w.rds.sets
    swept = sweep(w)
    assert len(swept["CancelledSetsDeleted"]) == 1 and not w.rds.sets
    assert sweep(w)["CancelledSetsWaiting"] == 0                           # handed over once, done once


def test_a_lock_left_by_an_operation_whose_record_is_final_does_not_refuse_the_next_one(w):
    """An operation writes its final record, then lets the lock go: a caller who saw the final record in between
    (or after a crash between the two) is not refused. A lock held by a running operation still refuses."""
    import time
    w.seed("si-1", instances=1, disks_per_instance=1)
    first = create_backup(w, "si-1")
    play_backup(w, first["BackupId"])
    w.store.acquire_lock("si-1", first["BackupId"], int(time.time() * 1000), 1_800_000)   # not let go yet
    second = create_backup(w, "si-1")
    assert second["Status"] == "Creating"
    with pytest.raises(Conflict):
        create_backup(w, "si-1")                                      # the second one runs and holds it
    play_backup(w, second["BackupId"])
    w.store.acquire_lock("si-1", second["BackupId"], int(time.time() * 1000), 1_800_000)
    assert artifacts.delete_backup(w, second["BackupId"])["Status"] == "Deleted"


def test_resources_nestbackup_does_not_back_up_are_listed_as_not_protected_and_plan_warns(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    w.computenest.list_resource("si-1", "oss", "bucket", "app-assets")
    w.computenest.list_resource("si-1", "kvstore", "instance", "r-cache1")
    record = create_backup(w, "si-1")
    final = play_backup(w, record["BackupId"])
    assert final["Status"] == "Created"
    final = get_backup(w, record["BackupId"])
    assert final["Status"] == "Created"
    assert final["NotProtected"] == [
        {"ResourceId": "app-assets", "ResourceType": "oss:bucket", "Reason": "nestbackup does not back up oss resources"},
        {"ResourceId": "r-cache1", "ResourceType": "kvstore:instance",
         "Reason": "nestbackup does not back up kvstore resources"}]
    assert "2 resources not protected" in final["StatusDetail"] and "r-cache1" in final["StatusDetail"]
    assert {r["ResourceId"] for r in final["Resources"]} & {"app-assets", "r-cache1"} == set()
    out = plan_backup(w, "si-1")
    assert [n["ResourceId"] for n in out["NotProtected"]] == ["app-assets", "r-cache1"]
    assert any("not protected" in warning and "app-assets" in warning for warning in out["Warnings"])


def test_a_resource_not_started_yet_says_by_when_it_must_start_and_a_final_record_says_nothing_of_it(w):
    w.seed("si-1", instances=1, disks_per_instance=1, databases=DBS)
    record = create_backup(w, "si-1", now=1_900_000_000)
    shown = get_backup(w, record["BackupId"])
    assert {r["Status"] for r in shown["Resources"]} == {"Pending"}
    assert all(r["WaitDeadline"] > shown["StartTime"] for r in shown["Resources"])
    assert {r["WaitDeadline"][:4] for r in shown["Resources"]} == {"2030"}
    play_backup(w, record["BackupId"])
    assert not [r for r in get_backup(w, record["BackupId"])["Resources"] if "WaitDeadline" in r]
