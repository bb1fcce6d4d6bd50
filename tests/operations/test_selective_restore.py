"""Selective restore and its preview on the in-memory ports: only what is selected is restored, only what it needs is
disturbed, a selection is refused before anything happens, snapshot groups stay together unless split, and a
preview changes nothing."""
import copy

import pytest

from nestbackup.errors import Conflict, ValidationError
from nestbackup.model.selection import RestoreRequest, Selection
from nestbackup.operations.backup import create_backup, get_backup
from nestbackup.operations.restore import create_restore, get_restore
from nestbackup.operations.restore_preview import preview
from tests.support.flowplay import backed_up, play_backup, play_restore
from tests.support.memory.wiring import MemoryWiring

TWO_DBS = {"PostgreSQL": {"app": {"t": [1, 2, 3]}, "audit": {"a": [1]}}}
READS = {"DescribeDisks", "DescribeInstances", "DescribeSnapshotGroups", "DescribeSnapshots", "ListTagResources",
         "DescribeDatabases", "DescribeBackups", "DescribeDBInstances", "DescribeDBInstanceAttribute",
         "DescribeBackupTasks", "DescribeHistoryTasks", "DescribeBackupPolicy"}


@pytest.fixture
def w():
    return MemoryWiring()


def _items(record):
    return {r["ResourceId"]: r for r in record["Resources"]}


def test_a_database_only_restore_stops_nothing_resets_no_disk_and_restores_only_that_database(w):
    seeded, backup_id = backed_up(w, TWO_DBS)
    rds = seeded["DBInstances"][0]
    w.rds.servers[rds]["app"]["t"].append(4)
    w.rds.servers[rds]["audit"]["a"].append(2)               # written after the backup; not selected: stays
    restore = create_restore(w, backup_id, selection=Selection(databases={rds: ("app",)}))
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "Restored", final["StatusDetail"]
    assert list(_items(final)) == [rds]                        # unselected resources are not part of the record
    assert [d["Name"] for d in _items(final)[rds]["Databases"]] == ["app"]
    assert w.rds.servers[rds]["app"]["t"] == [1, 2, 3] and w.rds.servers[rds]["audit"]["a"] == [1, 2]
    assert w.ecs.refusals.calls["StopInstances"] == 0 and w.ecs.refusals.calls["ResetDisk"] == 0
    assert {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]} == {"Running"}
    assert not any(w.ecs.disks[d]["reset_to"] for d in seeded["Disks"])
    assert final["DowntimeSeconds"] is None and final["Selection"]["Databases"] == {rds: ["app"]}
    safety = get_backup(w, final["SafetyBackupId"])           # covers what is replaced: the RDS instance alone
    assert (safety["Origin"], safety["Scope"]) == ("safety", "partial")
    assert [r["ResourceId"] for r in safety["Resources"]] == [rds]


def test_a_one_disk_restore_stops_only_its_instance_and_resets_only_that_disk(w):
    seeded, backup_id = backed_up(w, None, instances=2, disks_per_instance=1)
    disk, other = seeded["Disks"]
    restore = create_restore(w, backup_id, safety_backup=False, selection=Selection((disk,)))
    stopped = []
    stop = w.ecs.stop_instances
    w.ecs.stop_instances = lambda ids: stopped.extend(ids) or stop(ids)
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "Restored", final["StatusDetail"]
    assert stopped == [w.ecs.disks[disk]["instance_id"]]
    assert w.ecs.disks[disk]["reset_to"] and not w.ecs.disks[other]["reset_to"]
    assert {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]} == {"Running"}


def test_a_disk_of_a_snapshot_group_is_restored_with_its_group_unless_split(w):
    seeded, backup_id = backed_up(w, None, disks_per_instance=2)
    first, second = seeded["Disks"]
    assert {r["Method"] for r in get_backup(w, backup_id)["Resources"]} == {"SnapshotGroup"}
    together = create_restore(w, backup_id, safety_backup=False, selection=Selection((first,)))
    assert set(_items(together)) == {first, second}
    assert list(together["Selection"]["GroupsKeptTogether"]) == [second]
    play_restore(w, together["RestoreId"])
    alone = create_restore(w, backup_id, safety_backup=False, selection=Selection((first,), split_groups=True))
    assert set(_items(alone)) == {first} and alone["Selection"]["GroupsKeptTogether"] == {}
    assert list(alone["Selection"]["GroupsSplit"]) == [first]


@pytest.mark.parametrize("selection, error, named", [
    (Selection(("d-nope",)), ValidationError, "d-nope"),
    (Selection(databases={"rm-nope": ("app",)}), ValidationError, "rm-nope"),
])
def test_a_selection_naming_something_not_in_the_backup_is_refused_before_anything_happens(w, selection, error,
                                                                                            named):
    _, backup_id = backed_up(w)
    rows, flows = len(w.store.rows), len(w.flows.executions)
    with pytest.raises(error, match=named):
        create_restore(w, backup_id, selection=selection)
    assert len(w.store.rows) == rows and len(w.flows.executions) == flows


def test_a_database_the_backup_does_not_hold_is_named_in_the_refusal(w):
    seeded, backup_id = backed_up(w)
    rds = seeded["DBInstances"][0]
    with pytest.raises(ValidationError, match=f"{rds}:ghost"):
        create_restore(w, backup_id, selection=Selection(databases={rds: ("ghost",)}))


def test_a_partially_created_backup_restores_its_good_resources_by_selection_only(w):
    seeded = w.seed("si-1", databases={"PostgreSQL": {"app": {"t": [1]}}}, instances=2, disks_per_instance=1)
    bad, good = seeded["Disks"]
    w.ecs.failing.add(bad)
    backup_id = create_backup(w, "si-1")["BackupId"]
    assert play_backup(w, backup_id)["Status"] == "PartiallyCreated"
    with pytest.raises(Conflict, match="Created backup can be restored whole"):
        create_restore(w, backup_id)
    with pytest.raises(Conflict, match=bad):
        create_restore(w, backup_id, selection=Selection((bad,)))
    restore = create_restore(w, backup_id, safety_backup=False, selection=Selection((good,)))
    play_restore(w, restore["RestoreId"])
    assert get_restore(w, restore["RestoreId"])["Status"] == "Restored"


def _state(w):
    return copy.deepcopy((dict(w.store.rows), w.store.counters, w.ecs.instances, w.ecs.disks, w.ecs.snapshots,
                          w.ecs.groups, w.rds.servers, w.flows.executions))


def test_a_preview_says_what_a_restore_would_do_and_changes_nothing(w):
    seeded, backup_id = backed_up(w, TWO_DBS)
    rds = seeded["DBInstances"][0]
    before = _state(w)
    w.take_calls()
    writes = w.store.versioned_writes
    whole = preview(w, RestoreRequest(backup_id))
    only_db = preview(w, RestoreRequest(backup_id, selection=Selection(databases={rds: ("audit",)})))
    assert _state(w) == before and w.store.versioned_writes == writes
    changing = set(w.take_calls()) - READS
    assert not changing, f"state-changing cloud calls in a preview: {changing}"
    assert whole["Stops"] == seeded["InstanceIds"] and whole["SafetyBackup"]["Scope"] == "whole"
    assert {r["Database"] for r in whole["Renames"]} == {"app", "audit"}
    assert only_db["Stops"] == [] and only_db["ExpectedDowntimeSeconds"] == 0.0
    assert [r["Database"] for r in only_db["Renames"]] == ["audit"] and only_db["Resources"] == [rds]
    assert only_db["CannotRestore"] == [] and only_db["Refused"] is None


def test_a_preview_names_what_cannot_be_restored_and_the_downtime_earlier_restores_measured(w):
    seeded, backup_id = backed_up(w)
    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"])
    measured = get_restore(w, restore["RestoreId"])["DowntimeSeconds"]
    snapshot = next(r["ArtifactId"] for r in get_backup(w, backup_id)["Resources"] if r["ResourceType"] == "disk")
    del w.ecs.snapshots[snapshot]                               # deleted behind our back
    out = preview(w, RestoreRequest(backup_id))
    assert any(snapshot in c["Reason"] for c in out["CannotRestore"]) and snapshot in out["Refused"]
    if measured:
        assert out["ExpectedDowntimeSeconds"] == measured
    with pytest.raises(Conflict, match=snapshot):              # the restore refuses what the preview said
        create_restore(w, backup_id)


def test_a_restores_safety_backup_never_pushes_a_users_backup_out_of_retention(w):
    from nestbackup.decisions.retention import Retention
    from nestbackup.operations.schedules import apply_retention
    seeded, backup_id = backed_up(w, TWO_DBS)
    restore = create_restore(w, backup_id, selection=Selection(databases={seeded["DBInstances"][0]: ("app",)}))
    play_restore(w, restore["RestoreId"])
    safety_id = get_restore(w, restore["RestoreId"])["SafetyBackupId"]
    assert get_backup(w, safety_id)["Status"] == "Created"
    assert apply_retention(w, "si-1", Retention(keep_last=1), now=10**10) == []
    assert {get_backup(w, b)["Status"] for b in (backup_id, safety_id)} == {"Created"}


def test_a_preview_names_the_prerequisites_rds_checks_and_a_resource_that_moved(w):
    seeded, backup_id = backed_up(w, TWO_DBS)
    rds = seeded["DBInstances"][0]
    w.rds.instances[rds]["status"] = "Maintaining"
    moved = seeded["Disks"][0]
    w.ecs.disks[moved]["instance_id"] = "i-elsewhere"             # attached to another instance since the backup
    out = preview(w, RestoreRequest(backup_id))
    reasons = {c["ResourceId"]: c["Reason"] for c in out["CannotRestore"]}
    assert "is Maintaining" in reasons[rds] and "no longer belongs" in reasons[moved]
    assert out["Refused"] is None                  # the restore itself starts, and fails those items as it goes
