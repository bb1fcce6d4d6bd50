"""Undo of a restore on the in-memory ports: the snapshots at the stop, the undo's swap back and disk resets, the
refusals (409 naming why), the undo of an undo, and the sweeper deleting the snapshots once no undo needs them."""
import time

import pytest

from nestbackup.errors import CloudError, Conflict
from nestbackup.model.undo import UNDO_TAG
from nestbackup.operations.restore import create_restore, get_restore
from nestbackup.operations.sweeper import sweep
from nestbackup.operations.undo import create_undo
from tests.support.flowplay import backed_up, play_restore
from tests.support.memory.wiring import MemoryWiring


@pytest.fixture
def w():
    return MemoryWiring()


def restored(w, **kwargs):
    """A backup of si-1, rows written and a disk reset after it, then a finished restore of it."""
    seeded, backup_id = backed_up(w)
    rds = seeded["DBInstances"][0]
    w.rds.servers[rds]["app"]["t"].append(4)                     # written after the backup
    restore = create_restore(w, backup_id, safety_backup=False, **kwargs)
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "Restored", final["StatusDetail"]
    return seeded, final


def test_a_restore_snapshots_each_disk_at_the_stop_before_resetting_it_and_says_until_when_it_can_be_undone(w):
    seeded, final = restored(w)
    snaps = final["UndoSnapshots"]
    assert set(snaps) == set(seeded["Disks"])
    for disk, sid in snaps.items():
        snap = w.ecs.snapshots[sid]
        assert snap["disk"] == disk and snap["tags"] == {UNDO_TAG: final["RestoreId"]}
        assert w.ecs.disks[disk]["reset_to"] != sid                # reset to the backup's, not to this one
    assert final["UndoSnapshotSeconds"] is not None and final["UndoableUntil"] > final["EndTime"]
    assert final["ChangedSince"]                                     # the instances ran again since


def test_an_undo_puts_databases_and_disks_back_as_they_were_before_the_restore(w):
    seeded, final = restored(w)
    rds = seeded["DBInstances"][0]
    assert w.rds.servers[rds]["app"]["t"] == [1, 2, 3]
    undo = create_undo(w, final["RestoreId"], confirm=True)
    assert undo["Origin"] == "undo" and undo["Undoes"] == final["RestoreId"] and undo["SafetyBackupId"] is None
    play_restore(w, undo["RestoreId"])
    done = get_restore(w, undo["RestoreId"])
    assert done["Status"] == "Restored", done["StatusDetail"]
    assert w.rds.servers[rds]["app"]["t"] == [1, 2, 3, 4]            # the live data of before the restore
    for disk, sid in final["UndoSnapshots"].items():
        assert w.ecs.disks[disk]["reset_to"] == sid
    assert done["Verified"] is True                                   # rows as the database kept aside held them
    assert {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]} == {"Running"}
    # the undo kept the restored data aside and snapshotted the disks at its own stop: it can be undone in turn
    assert done["UndoableUntil"] and set(done["UndoSnapshots"]) == set(seeded["Disks"])
    again = create_undo(w, done["RestoreId"], confirm=True)
    play_restore(w, again["RestoreId"])
    assert get_restore(w, again["RestoreId"])["Status"] == "Restored"
    assert w.rds.servers[rds]["app"]["t"] == [1, 2, 3]                # the restore's data again
    for disk, sid in done["UndoSnapshots"].items():
        assert w.ecs.disks[disk]["reset_to"] == sid


def test_an_undo_without_confirmation_of_a_changed_instance_is_refused_naming_what_changed(w):
    seeded, final = restored(w)
    with pytest.raises(Conflict) as refused:                          # the instance ran again after the restore
        create_undo(w, final["RestoreId"])
    said = str(refused.value)
    assert "ran since the restore" in said and "Confirm: true" in said
    assert w.ecs.refusals.calls["StopInstances"] == 1                 # only the restore's own stop: nothing touched


def database_only_restore(w):
    """A backup of an instance with only a PostgreSQL database, rows written after it, and a finished restore."""
    from nestbackup.operations.backup import create_backup
    from tests.support.flowplay import play_backup
    seeded = w.seed("si-1", instances=0, databases={"PostgreSQL": {"app": {"t": [1, 2, 3]}}})
    backup = create_backup(w, "si-1")
    play_backup(w, backup["BackupId"])
    rds = seeded["DBInstances"][0]
    w.rds.servers[rds]["app"]["t"].append(4)
    restore = create_restore(w, backup["BackupId"], safety_backup=False)
    play_restore(w, restore["RestoreId"])
    return rds, get_restore(w, restore["RestoreId"])


def test_an_undo_without_confirmation_of_databases_written_since_ends_before_touching_anything(w):
    rds, final = database_only_restore(w)
    w.rds.servers[rds]["app"]["t"].append(9)                          # written since the restore
    undo = create_undo(w, final["RestoreId"])                          # the API does not read the databases
    play_restore(w, undo["RestoreId"])
    ended = get_restore(w, undo["RestoreId"])
    assert ended["Status"] == "RestoreFailed"
    assert "database app of" in ended["StatusDetail"] and "t 3->4" in ended["StatusDetail"]
    assert "nothing was stopped, reset or swapped" in ended["StatusDetail"]
    assert w.rds.servers[rds]["app"]["t"] == [1, 2, 3, 9]              # untouched
    confirmed = create_undo(w, final["RestoreId"], confirm=True)
    play_restore(w, confirmed["RestoreId"])
    assert get_restore(w, confirmed["RestoreId"])["Status"] == "Restored"
    assert w.rds.servers[rds]["app"]["t"] == [1, 2, 3, 4]


def test_a_database_only_restore_unchanged_since_is_undone_without_confirmation(w):
    rds, final = database_only_restore(w)
    assert final["ChangedSince"] == []
    undo = create_undo(w, final["RestoreId"])
    play_restore(w, undo["RestoreId"])
    done = get_restore(w, undo["RestoreId"])
    assert done["Status"] == "Restored" and done["Verified"] is True
    assert w.rds.servers[rds]["app"]["t"] == [1, 2, 3, 4]


def test_a_later_restore_counts_as_a_change(w):
    seeded, final = restored(w)
    later = create_restore(w, final["BackupId"], safety_backup=False)
    play_restore(w, later["RestoreId"])
    with pytest.raises(Conflict, match=f"later restore {later['RestoreId']}"):
        create_undo(w, final["RestoreId"])


def test_nothing_to_undo_is_refused(w):
    seeded, backup_id = backed_up(w)
    w.rds.failing.add(seeded["DBInstances"][0])
    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"])
    assert get_restore(w, restore["RestoreId"])["Status"] == "RestoreFailed"
    with pytest.raises(Conflict, match="changed nothing an undo could put back"):
        create_undo(w, restore["RestoreId"], confirm=True)


def test_an_undo_past_its_window_is_refused_and_the_sweeper_deletes_the_snapshots_only_then(w):
    seeded, final = restored(w)
    snaps = set(final["UndoSnapshots"].values())
    sweep(w)
    assert snaps <= set(w.ecs.snapshots)                               # still needed: kept
    later = time.time() + w.settings.undo_hours * 3600 + 1
    with pytest.raises(Conflict, match="has passed"):
        create_undo(w, final["RestoreId"], confirm=True, now=later)
    assert set(sweep(w, now=later)["UndoSnapshotsDeleted"]) == snaps
    assert not snaps & set(w.ecs.snapshots)


def test_the_sweeper_keeps_the_snapshots_of_a_restore_whose_undo_runs_even_past_its_window():
    w = MemoryWiring(undo_hours=1)           # an hour: the undo's flow is still within its deadlines then
    seeded, final = restored(w)
    undo = create_undo(w, final["RestoreId"], confirm=True)            # its flow has not run yet
    later = time.time() + w.settings.undo_hours * 3600 + 1
    assert sweep(w, now=later)["UndoSnapshotsDeleted"] == []
    assert set(final["UndoSnapshots"].values()) <= set(w.ecs.snapshots)
    play_restore(w, undo["RestoreId"])
    assert get_restore(w, undo["RestoreId"])["Status"] == "Restored"


def test_an_undo_whose_aside_database_was_dropped_ends_before_touching_anything(w):
    seeded, final = restored(w)
    rds = seeded["DBInstances"][0]
    aside = next(r for r in final["Resources"] if r["ResourceId"] == rds)["Databases"][0]["AsideName"]
    del w.rds.servers[rds][aside]                                     # the operator dropped it
    undo = create_undo(w, final["RestoreId"], confirm=True)
    play_restore(w, undo["RestoreId"])
    ended = get_restore(w, undo["RestoreId"])
    assert ended["Status"] == "RestoreFailed" and "cannot be read" in ended["StatusDetail"]
    assert w.ecs.refusals.calls["StopInstances"] == 1 and w.rds.servers[rds]["app"]["t"] == [1, 2, 3]


def test_an_undo_of_a_running_restore_is_refused(w):
    seeded, backup_id = backed_up(w)
    restore = create_restore(w, backup_id, safety_backup=False)
    with pytest.raises(Conflict, match="still under way"):
        create_undo(w, restore["RestoreId"], confirm=True)


def test_a_snapshot_at_the_stop_that_cannot_be_taken_fails_the_restore_before_any_disk_is_reset(w):
    seeded, backup_id = backed_up(w)
    create = w.ecs.create_snapshot

    def refuse_undo_snapshots(disk_id, **kwargs):
        if UNDO_TAG in (kwargs.get("tags") or {}):
            raise CloudError("QuotaExceed.Snapshot", "too many snapshots", action="CreateSnapshot", http_status=403)
        return create(disk_id, **kwargs)
    w.ecs.create_snapshot = refuse_undo_snapshots
    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "RestoreFailed" and "QuotaExceed.Snapshot" in final["StatusDetail"]
    assert w.ecs.refusals.calls["ResetDisk"] == 0
    assert not any(w.ecs.disks[d]["reset_to"] for d in seeded["Disks"])
    assert {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]} == {"Running"}


def test_undo_off_takes_no_snapshot_and_says_the_restore_cannot_be_undone():
    w = MemoryWiring(undo_hours=0)
    seeded, final = restored(w)
    assert final["UndoSnapshots"] == {} and final["UndoableUntil"] is None
    assert not any(UNDO_TAG in s["tags"] for s in w.ecs.snapshots.values())
    with pytest.raises(Conflict, match="undo was off"):
        create_undo(w, final["RestoreId"], confirm=True)


def test_the_sweeper_deletes_snapshots_at_the_stop_of_disks_that_were_never_reset(w):
    seeded, backup_id = backed_up(w)
    reset = w.ecs.reset_disk

    def refuse_reset(disk_id, snapshot_id):
        raise CloudError("InvalidSnapshotId.NotReady", "refused", action="ResetDisk", http_status=403)
    w.ecs.reset_disk = refuse_reset
    restore = create_restore(w, backup_id, safety_backup=False)
    play_restore(w, restore["RestoreId"])
    w.ecs.reset_disk = reset
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "RestoreFailed" and final["UndoSnapshots"]
    assert set(sweep(w)["UndoSnapshotsDeleted"]) == set(final["UndoSnapshots"].values())


def test_the_sweeper_deletes_a_snapshot_at_the_stop_its_restore_never_recorded_once_past_the_grace(w):
    seeded, final = restored(w)
    stray = w.ecs.create_snapshot(seeded["Disks"][0], name="nestbackup-undo-x", description="lost answer",
                                  client_token="lost-1", tags={UNDO_TAG: final["RestoreId"]})
    assert stray not in sweep(w)["UndoSnapshotsDeleted"]             # young: its create may still record it
    assert stray in sweep(w, now=time.time() + 901)["UndoSnapshotsDeleted"]
    assert set(final["UndoSnapshots"].values()) <= set(w.ecs.snapshots)


def test_an_undo_that_ends_before_its_swap_never_offers_to_drop_what_the_restore_kept_aside(w):
    rds, final = database_only_restore(w)
    w.rds.servers[rds]["app"]["t"].append(9)                          # written since: the undo ends at its check
    undo = create_undo(w, final["RestoreId"])
    play_restore(w, undo["RestoreId"])
    ended = get_restore(w, undo["RestoreId"])
    assert ended["Status"] == "RestoreFailed" and ended["Summary"]["RestoredCopies"] == []
    aside = final["Resources"][0]["Databases"][0]["AsideName"]
    assert aside in w.rds.servers[rds] and "DROP" not in str(ended)


def test_a_retry_of_an_undo_with_its_token_answers_the_undo_it_made(w):
    rds, final = database_only_restore(w)
    first = create_undo(w, final["RestoreId"], token="undo-1")        # its answer lost, say
    again = create_undo(w, final["RestoreId"], token="undo-1")
    assert again["RestoreId"] == first["RestoreId"]
