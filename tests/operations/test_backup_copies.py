"""Copies in another region (docs/statuses.md "Copies"): each disk's snapshot copied by the backup's own poll rounds,
the record's CopyStatus, the CLI's exit code, and the copies deleted with the backup, by hand and by retention."""
import time

import pytest

from nestbackup.cli.records import exit_on_failure
from nestbackup.decisions.retention import Retention
from nestbackup.errors import ValidationError
from nestbackup.operations import artifacts, schedules
from nestbackup.operations.backup import create_backup, get_backup
from nestbackup.operations.backup_poll import poll
from tests.support.flowplay import play_backup
from tests.support.memory.wiring import MemoryWiring

DBS = {"PostgreSQL": {"app": {"t": [1, 2, 3]}}}
OTHER = "cn-shanghai"


@pytest.fixture
def w():
    return MemoryWiring()


def _copies(record: dict) -> list[dict]:
    return [c for r in record["Resources"] for c in r.get("Copies") or []]


def test_each_disk_snapshot_is_copied_into_the_other_region_and_the_record_waits_for_the_copies(w):
    seeded = w.seed("si-1", databases=DBS)
    record = create_backup(w, "si-1", copy_to_region=OTHER)
    assert record["CopyToRegion"] == OTHER and record["CopyStatus"] == "Creating"
    final = play_backup(w, record["BackupId"])
    assert final["Status"] == "Created" and final["CopyStatus"] == "Created"
    items = {r["ResourceId"]: r for r in final["Resources"]}
    for disk in seeded["Disks"]:
        (copy,) = items[disk]["Copies"]
        assert copy["Region"] == OTHER and copy["Status"] == "Succeeded"
        assert copy["SourceSnapshotId"] == items[disk]["ArtifactId"]
        assert w.ecs.snapshots[copy["SnapshotId"]]["region"] == OTHER          # it lands in the other region only
        assert copy["SnapshotId"] not in w.ecs.describe_snapshots([copy["SnapshotId"]])
        assert copy["SnapshotId"] in w.ecs.describe_snapshots_in(OTHER, [copy["SnapshotId"]])
    rds = items[seeded["DBInstances"][0]]
    assert "Copies" not in rds and "ModifyInstanceCrossBackupPolicy" in rds["NotCopied"]


def test_the_record_stays_creating_while_a_copy_runs(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    w.ecs.steps = 3
    record = create_backup(w, "si-1", copy_to_region=OTHER)
    bid, rounds, seen = record["BackupId"], 0, []
    from nestbackup.operations.backup_start import start_batch
    start_batch(w, bid, 0)
    while not poll(w, bid, rounds, budgeted=False)["Done"]:
        got = get_backup(w, bid)
        seen.append((got["Resources"][0]["Status"], got["Status"]))
        rounds += 1
        assert rounds < 20
    assert ("Succeeded", "Creating") in seen          # the snapshot done, its copy not yet: the record still runs


def test_a_failed_copy_leaves_the_backup_created_with_copy_status_failed_and_the_cli_exits_4(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    w.ecs.failing.add(OTHER)                         # copies into OTHER end failed
    record = create_backup(w, "si-1", copy_to_region=OTHER)
    final = play_backup(w, record["BackupId"])
    assert final["Status"] == "Created" and final["CopyStatus"] == "CreateFailed"
    (copy,) = _copies(final)
    assert copy["Status"] == "Failed" and copy["ErrorCode"] == "CopyFailed"
    with pytest.raises(SystemExit) as ended:
        exit_on_failure(final)
    assert ended.value.code == 4


def test_a_refused_copy_fails_with_the_cloud_code_and_a_throttled_one_is_asked_again_with_the_same_token(w):
    w.seed("si-1", instances=1, disks_per_instance=2)
    w.ecs.refusals.refuse("CopySnapshot", "Throttling.User", times=1)
    final = play_backup(w, create_backup(w, "si-1", copy_to_region=OTHER)["BackupId"])
    assert final["CopyStatus"] == "Created"
    assert len([s for s in w.ecs.snapshots.values() if s["region"] == OTHER]) == 2     # no copy made twice
    w2 = MemoryWiring()
    w2.seed("si-1", instances=1, disks_per_instance=1)
    w2.ecs.refusals.refuse("CopySnapshot", "QuotaExceed.Snapshot", times=5, http_status=403)
    final = play_backup(w2, create_backup(w2, "si-1", copy_to_region=OTHER)["BackupId"])
    assert final["Status"] == "Created" and final["CopyStatus"] == "CreateFailed"
    assert _copies(final)[0]["ErrorCode"] == "QuotaExceed.Snapshot"


def test_a_failed_snapshot_is_not_copied(w):
    seeded = w.seed("si-1", instances=1, disks_per_instance=1)
    w.ecs.failing.add(seeded["Disks"][0])
    final = play_backup(w, create_backup(w, "si-1", copy_to_region=OTHER)["BackupId"])
    assert final["Status"] == "CreateFailed"
    assert _copies(final)[0]["Status"] == "NotStarted" and final["CopyStatus"] == "CreateFailed"
    assert not [s for s in w.ecs.snapshots.values() if s["region"] == OTHER]


@pytest.mark.parametrize("region", ["cn-hangzhou", "Shanghai", 7, "cn-"])
def test_a_bad_or_same_region_is_refused_before_any_record(w, region):
    w.seed("si-1", instances=1, disks_per_instance=1)
    with pytest.raises(ValidationError):
        create_backup(w, "si-1", copy_to_region=region)
    assert w.store.lock_holder("si-1", 0) is None


def test_an_encrypted_disk_needs_the_destination_key_and_its_copy_is_encrypted_with_it():
    w = MemoryWiring()
    w.computenest.add("si-1", "Deployed")
    iid = w.ecs.add_instance({"nestbackup:serviceInstanceId": "si-1"})
    disk = w.ecs.add_disk(iid, {"nestbackup:serviceInstanceId": "si-1"}, kms_key_id="key-source")
    w.computenest.list_resource("si-1", "ecs", "instance", iid)
    with pytest.raises(ValidationError, match="NESTBACKUP_COPY_KMS_KEY_ID"):
        create_backup(w, "si-1", copy_to_region=OTHER)
    assert w.store.lock_holder("si-1", 0) is None
    keyed = MemoryWiring(copy_kms_key_id="key-shanghai")
    keyed.computenest, keyed.ecs = w.computenest, w.ecs
    final = play_backup(keyed, create_backup(keyed, "si-1", copy_to_region=OTHER)["BackupId"])
    (copy,) = _copies(final)
    assert final["CopyStatus"] == "Created" and w.ecs.snapshots[copy["SnapshotId"]]["kms_key_id"] == "key-shanghai"
    assert disk in {r["ResourceId"] for r in final["Resources"]}


def test_deleting_the_backup_deletes_its_copies_in_their_region(w):
    w.seed("si-1", instances=1, disks_per_instance=2)
    bid = create_backup(w, "si-1", copy_to_region=OTHER)["BackupId"]
    copies = [c["SnapshotId"] for c in _copies(play_backup(w, bid))]
    deleted = artifacts.delete_backup(w, bid)
    assert deleted["Status"] == "Deleted" and deleted["CopyStatus"] == "Deleted"
    assert {c["Status"] for c in _copies(deleted)} == {"Deleted"}
    assert not set(copies) & set(w.ecs.snapshots)


def test_a_copy_that_cannot_be_deleted_fails_the_delete_and_a_second_delete_finishes_it(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    bid = create_backup(w, "si-1", copy_to_region=OTHER)["BackupId"]
    play_backup(w, bid)
    w.ecs.refusals.refuse("DeleteSnapshot", "InternalError", times=1, http_status=500)
    first = artifacts.delete_backup(w, bid)
    assert first["Status"] == "DeleteFailed"
    second = artifacts.delete_backup(w, bid)
    assert second["Status"] == "Deleted" and {c["Status"] for c in _copies(second)} == {"Deleted"}
    assert not [s for s in w.ecs.snapshots.values() if s["region"] == OTHER]


def test_retention_deletes_the_copies_with_the_backup_and_a_schedule_asks_for_copies(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    schedules.set_schedule(w, "si-1", "0 3 * * *", copy_to_region=OTHER)
    assert schedules.get_schedule(w, "si-1")["CopyToRegion"] == OTHER
    old = create_backup(w, "si-1", copy_to_region=OTHER)["BackupId"]
    play_backup(w, old)
    play_backup(w, create_backup(w, "si-1", token="second")["BackupId"])
    assert schedules.apply_retention(w, "si-1", Retention(keep_last=1), time.time() + 3600) == [old]
    assert get_backup(w, old)["CopyStatus"] == "Deleted"
    assert not [s for s in w.ecs.snapshots.values() if s["region"] == OTHER]
    with pytest.raises(ValidationError):
        schedules.set_schedule(w, "si-1", "0 3 * * *", copy_to_region="cn-hangzhou")



def test_a_cancel_deletes_the_copies_made_so_far_and_closes_them_cancelled():
    from nestbackup.operations.backup_start import start_batch
    from nestbackup.operations.cancel import cancel_backup
    w = MemoryWiring(cancel_rds_wait_seconds=0)
    w.seed("si-1", instances=1, disks_per_instance=1, databases=DBS)
    w.rds.steps = 0                                  # the database's backup never ends by itself: the record runs
    bid = create_backup(w, "si-1", copy_to_region=OTHER)["BackupId"]
    start_batch(w, bid, 0)
    poll(w, bid, 0, budgeted=False)
    (made,) = [c["SnapshotId"] for c in _copies(get_backup(w, bid))]
    assert made in w.ecs.snapshots
    cancel_backup(w, bid)
    final = get_backup(w, bid)
    assert final["Status"] == "Cancelled" and final["CopyStatus"] == "Cancelled"
    assert made not in w.ecs.snapshots and "was deleted" in _copies(final)[0]["ErrorMessage"]


def test_a_copy_no_record_owns_is_a_leftover_in_its_region(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    schedules.set_schedule(w, "si-1", "0 3 * * *", copy_to_region=OTHER)
    bid = create_backup(w, "si-1", copy_to_region=OTHER)["BackupId"]
    (kept,) = [c["SnapshotId"] for c in _copies(play_backup(w, bid))]
    assert schedules.copy_regions(w) == {OTHER}
    assert artifacts.leftovers(w, [OTHER]) == {"Leftovers": []}              # the record owns its copy
    source = next(s for s, d in w.ecs.snapshots.items() if not d["region"])
    lost = w.ecs.copy_snapshot(source, OTHER, name="nestbackup-x", description="lost copy", client_token="lost",
                               tags={"nestbackup:backupId": "backup-01aaaaaaaaaaaaaaaaaaaa"})
    assert artifacts.leftovers(w, [OTHER])["Leftovers"] == [{"ArtifactId": lost, "Kind": "snapshot-copy",
                                                    "BackupId": "backup-01aaaaaaaaaaaaaaaaaaaa", "Region": OTHER}]
    assert lost not in str(artifacts.leftovers(w, ["cn-beijing"])) and kept not in str(artifacts.leftovers(w, [OTHER]))


def test_the_copies_describes_are_taken_from_the_poll_budget_and_a_refused_round_starts_and_reads_none():
    w = MemoryWiring(steps=0, poll_calls_per_minute=1)       # copies run until the test finishes them
    w.seed("si-1", instances=1, disks_per_instance=1)
    bid = create_backup(w, "si-1", copy_to_region=OTHER)["BackupId"]
    from nestbackup.operations.backup_start import start_batch
    start_batch(w, bid, 0)
    w.ecs.finish()                                            # the snapshot is accomplished
    minute = (time.time() // 60 + 1) * 60
    assert poll(w, bid, 0, now=minute + 1)["Done"] is False   # its describe spends the minute's one call...
    (copy,) = _copies(get_backup(w, bid))
    assert copy["Status"] == "Running"                        # ...and the copy starts in the same round
    calls = w.ecs.refusals.calls.get("DescribeSnapshots", 0)
    out = poll(w, bid, 1, now=minute + 2)                     # the copy's describe is over the budget: it waits
    assert out["Wait"] > 0 and w.ecs.refusals.calls.get("DescribeSnapshots", 0) == calls
    w.ecs.finish()
    assert poll(w, bid, 2, now=minute + 61)["Done"] is True   # the next minute: read and done


def test_a_compliance_lock_locks_the_copies_in_their_region_too(w):
    from nestbackup.model.records import iso_utc
    from nestbackup.operations.locks import set_lock
    w.seed("si-1", instances=1, disks_per_instance=1)
    bid = create_backup(w, "si-1", copy_to_region=OTHER)["BackupId"]
    final = play_backup(w, bid)
    (copy,) = [c["SnapshotId"] for c in _copies(final)]
    locked = set_lock(w, bid, "Compliance", time.time() + 3 * 86400, "admin", True)
    assert copy in locked["Lock"]["CloudLocked"] and final["Resources"][0]["ArtifactId"] in locked["Lock"]["CloudLocked"]
    assert w.ecs.locks[copy] > time.time() + 2 * 86400
    from nestbackup.errors import CloudError
    with pytest.raises(CloudError):                            # outside nestbackup: ECS refuses in that region too
        w.ecs.delete_snapshot_in(OTHER, copy)
    assert iso_utc(time.time()) < locked["Lock"]["Until"]
