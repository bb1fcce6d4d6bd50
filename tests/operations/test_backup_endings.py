"""How backups end, on the in-memory ports: failures with every cause, steps the flow delivers again, deletes that
fail or are refused, and what a crash leaves behind."""
import time

import pytest

from nestbackup.errors import Conflict
from nestbackup.model.ids import OWNER_TAG
from nestbackup.model.records import new_record_id
from nestbackup.operations import artifacts, cancel
from nestbackup.operations.backup import create_backup, get_backup
from nestbackup.operations.backup_finalize import finalize
from nestbackup.operations.backup_start import start_batch
from nestbackup.operations.sweeper import sweep
from tests.support.flowplay import play_backup
from tests.support.memory.wiring import MemoryWiring

DBS = {"PostgreSQL": {"app": {"t": [1, 2, 3]}}}


@pytest.fixture
def w():
    return MemoryWiring()


def created(w, **seed) -> tuple[dict, str]:
    seeded = w.seed("si-1", **seed)
    backup_id = create_backup(w, "si-1")["BackupId"]
    assert play_backup(w, backup_id)["Status"] == "Created"
    return seeded, backup_id


def test_a_backup_failed_on_a_disk_and_a_database_names_both_causes(w):
    seeded = w.seed("si-1", instances=1, disks_per_instance=1, databases=DBS)
    w.ecs.failing.add(seeded["Disks"][0])
    w.rds.failing.add(seeded["DBInstances"][0])
    backup_id = create_backup(w, "si-1")["BackupId"]
    assert play_backup(w, backup_id)["Status"] == "CreateFailed"
    final = get_backup(w, backup_id)
    assert {r["Status"] for r in final["Resources"]} == {"Failed"}
    assert all(r["ErrorCode"] for r in final["Resources"])
    assert seeded["Disks"][0] in final["StatusDetail"] and seeded["DBInstances"][0] in final["StatusDetail"]
    assert w.store.lock_holder("si-1", 0) is None


def test_a_start_refused_for_good_fails_only_its_resource(w):
    """A failed RDS item is not started again by the next poll (it used to stay marked as starting)."""
    seeded = w.seed("si-1", instances=1, disks_per_instance=1, databases=DBS)
    w.rds.refusals.refuse("CreateBackup", "InvalidDBInstanceId.NotFound", http_status=404)
    backup_id = create_backup(w, "si-1")["BackupId"]
    assert play_backup(w, backup_id)["Status"] == "PartiallyCreated"      # the disk's snapshot was made
    items = {r["ResourceId"]: r for r in get_backup(w, backup_id)["Resources"]}
    assert items[seeded["DBInstances"][0]]["ErrorCode"] == "InvalidDBInstanceId.NotFound"
    assert items[seeded["Disks"][0]]["Status"] == "Succeeded"
    assert w.rds.refusals.calls["CreateBackup"] == 1
    deleted = artifacts.delete_backup(w, backup_id)                # a partial backup's good artifact is deleted too
    items = {r["ResourceId"]: r["Status"] for r in deleted["Resources"]}
    assert items == {seeded["Disks"][0]: "Deleted", seeded["DBInstances"][0]: "Failed"} and not w.ecs.snapshots


def test_finalize_delivered_again_closes_nothing_twice(w):
    _, backup_id = created(w, instances=1, disks_per_instance=1)
    first = get_backup(w, backup_id)
    assert finalize(w, backup_id)["Status"] == "Created"
    assert finalize(w, backup_id, error={"Code": "Late", "Detail": "a late Catch"})["Status"] == "Created"
    again = get_backup(w, backup_id)
    assert again["Status"] == "Created" and again["Resources"] == first["Resources"]
    assert w.store.lock_holder("si-1", 0) is None


def test_a_late_catch_does_not_rewrite_a_final_backup(w):
    _, backup_id = created(w, instances=1, disks_per_instance=1)
    first = get_backup(w, backup_id)
    finalize(w, backup_id, error={"Code": "Late", "Detail": "a late Catch"})
    assert get_backup(w, backup_id)["StatusDetail"] == first["StatusDetail"]


def test_a_start_after_cancel_makes_nothing(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    w.ecs.steps = 0
    backup_id = create_backup(w, "si-1")["BackupId"]
    cancel.cancel_backup(w, backup_id)
    start_batch(w, backup_id, 0)                       # the flow's step was already in flight
    assert not w.ecs.snapshots and not w.ecs.groups
    assert get_backup(w, backup_id)["Status"] == "Cancelled"
    with pytest.raises(Conflict):
        cancel.cancel_backup(w, backup_id)             # only a running backup can be cancelled


def test_a_failed_delete_says_so_and_a_second_delete_finishes_it(w):
    seeded, backup_id = created(w, instances=1, disks_per_instance=1, databases=DBS)
    w.rds.refusals.refuse("DeleteBackup", "ServiceUnavailable", http_status=503)
    out = artifacts.delete_backup(w, backup_id)
    assert out["Status"] == "DeleteFailed" and "delete again" in out["StatusDetail"]
    assert w.rds.sets and not w.ecs.snapshots
    shown = {r["ResourceType"]: r["Status"] for r in out["Resources"]}
    assert shown == {"disk": "Deleted", "rds": "Succeeded"}       # what is gone shows Deleted; the set is still there
    deleted = artifacts.delete_backup(w, backup_id)
    assert deleted["Status"] == "Deleted" and {r["Status"] for r in deleted["Resources"]} == {"Deleted"}
    assert deleted["Restorable"] is False and deleted["RestorableUntil"] is None
    assert not w.rds.sets
    assert artifacts.delete_backup(w, backup_id)["Status"] == "Deleted"    # deleting again is harmless
    assert w.store.lock_holder("si-1", 0) is None


class Died(BaseException):
    """The delete's process died right after a call."""


def test_a_delete_that_died_mid_way_is_finished_by_the_sweeper(w):
    _, backup_id = created(w, instances=1, disks_per_instance=2, databases=DBS)
    deleted = w.rds.delete_backup

    def delete_then_die(*args, **kwargs):
        deleted(*args, **kwargs)
        raise Died
    w.rds.delete_backup = delete_then_die
    now = time.time()
    with pytest.raises(Died):
        artifacts.delete_backup(w, backup_id, now=now)
    w.rds.delete_backup = deleted
    assert get_backup(w, backup_id)["Status"] == "Deleting" and not w.rds.sets
    # a delete begun seconds ago may still run: answered as it stands, nothing deleted twice
    assert artifacts.delete_backup(w, backup_id, now=now + 10)["Status"] == "Deleting"
    sweep(w, now=now + 60)
    assert get_backup(w, backup_id)["Status"] == "Deleting"
    sweep(w, now=now + artifacts.DELETE_GRACE_SECONDS + 1)
    final = get_backup(w, backup_id)
    assert final["Status"] == "Deleted" and "resumed" in final["StatusDetail"], final
    assert not w.ecs.snapshots and not w.ecs.groups
    assert w.store.lock_holder("si-1", 0) is None and not w.store.docs(artifacts.DELETES)


def test_a_backup_set_rds_refuses_to_delete_waits_for_its_expiry(w):
    _, backup_id = created(w, instances=0, databases=DBS)
    w.rds.refusals.refuse("DeleteBackup", "OperationDenied.BackupStoreStatus", http_status=403)
    out = artifacts.delete_backup(w, backup_id)
    assert out["Status"] == "DeleteFailed" and "expire" in out["StatusDetail"]
    assert artifacts.delete_backup(w, backup_id, retry_refused=False)["Status"] == "DeleteFailed"
    assert w.rds.refusals.calls["DeleteBackup"] == 1                      # retention does not ask again
    assert artifacts.delete_backup(w, backup_id)["Status"] == "Deleted"    # a delete by hand does


def test_a_delete_is_refused_while_another_operation_holds_the_instance(w):
    _, backup_id = created(w, instances=1, disks_per_instance=1)
    w.ecs.steps = 0
    create_backup(w, "si-1")                                               # a second backup now holds the lock
    with pytest.raises(Conflict):
        artifacts.delete_backup(w, backup_id)
    assert get_backup(w, backup_id)["Status"] == "Created"


def test_snapshots_no_record_owns_are_listed_as_leftovers(w):
    seeded, backup_id = created(w, instances=1, disks_per_instance=2)
    assert artifacts.leftovers(w) == {"Leftovers": []}
    lost = new_record_id("backup", 1_900_000_000_000, "0badc0de")     # a crash between the call and the record
    orphan = w.ecs.create_snapshot(seeded["Disks"][0], name="nestbackup-orphan", description="made before a crash", client_token="crashed",
                                   tags={OWNER_TAG: lost})
    assert artifacts.leftovers(w)["Leftovers"] == [{"ArtifactId": orphan, "Kind": "snapshot", "BackupId": lost}]
    artifacts.delete_backup(w, backup_id)
    assert [x["ArtifactId"] for x in artifacts.leftovers(w)["Leftovers"]] == [orphan]
