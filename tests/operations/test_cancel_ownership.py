"""A cancelled backup leaves nothing unowned: every artifact is deleted, or stays owned by the cancelled record (which
says so) until the sweeper deletes it; also when a create call returns, or has its answer lost, around the cancel."""
import threading
import time

import pytest

from nestbackup.errors import CloudError
from nestbackup.model.ids import OWNER_TAG
from nestbackup.operations import cancel, sweeper
from nestbackup.operations.backup import create_backup, get_backup
from nestbackup.operations.backup_start import start_batch
from tests.support.flowplay import play_backup
from tests.support.memory.wiring import MemoryWiring


@pytest.fixture
def w():
    wiring = MemoryWiring()
    wiring.ecs.steps = 0                      # nothing finishes by itself
    return wiring


def test_a_group_recorded_after_the_cancel_marked_its_items_but_before_the_record_closed_is_deleted(w, monkeypatch):
    """The start step's CreateSnapshotGroup returns after the cancel marked the items Cancelled and while its second
    pass runs: the step's write is stale, and the record still says Creating (the cancel has not finalized yet). The
    step used to take that for another writer's change, give up, and leave the group behind, while the record said
    "its artifact was deleted"."""
    w.seed("si-1", instances=1, disks_per_instance=2)
    backup_id = create_backup(w, "si-1")["BackupId"]
    in_flight, marked = threading.Event(), threading.Event()
    create = w.ecs.create_snapshot_group

    def slow_create(*args, **kwargs):
        group_id = create(*args, **kwargs)      # the cloud made it; its answer is still on the way
        in_flight.set()
        marked.wait(5)
        return group_id

    w.ecs.create_snapshot_group = slow_create
    step_errors: list[Exception] = []

    def step():
        try:
            start_batch(w, backup_id, 0)
        except Exception as err:               # noqa: BLE001 - the flow would retry the step; the test reads it
            step_errors.append(err)

    starting = threading.Thread(target=step)
    starting.start()
    assert in_flight.wait(5)
    finalize = cancel.finalize

    def finalize_after_the_step_returned(*args, **kwargs):
        marked.set()                             # the items are marked: now the create's answer arrives
        starting.join(5)
        return finalize(*args, **kwargs)

    monkeypatch.setattr(cancel, "finalize", finalize_after_the_step_returned)
    out = cancel.cancel_backup(w, backup_id)
    starting.join(5)
    assert out["Status"] == "Cancelled"
    assert not w.ecs.groups and not w.ecs.snapshots, (w.ecs.groups, step_errors)
    final = get_backup(w, backup_id)
    assert {r["Status"] for r in final["Resources"]} == {"Cancelled"}
    [group_id] = [r for _, r in w.ecs.tokens.values()]
    assert all(group_id in r["ErrorMessage"] and "deleted" in r["ErrorMessage"] for r in final["Resources"])


def test_a_group_whose_create_answer_was_lost_is_found_by_its_tag_and_deleted_by_the_cancel(w):
    """CreateSnapshotGroup was applied but its answer lost (a timeout after the adapter's retries): the step defers
    the start to the next round and the record knows no group. The cancel finds it by its owner tag."""
    w.seed("si-1", instances=1, disks_per_instance=2)
    backup_id = create_backup(w, "si-1")["BackupId"]
    create = w.ecs.create_snapshot_group

    def answer_lost(*args, **kwargs):
        create(*args, **kwargs)
        raise CloudError("ServiceUnavailable", "no answer", action="CreateSnapshotGroup", http_status=503)

    w.ecs.create_snapshot_group = answer_lost
    start_batch(w, backup_id, 0)
    assert w.ecs.groups and {r["Status"] for r in get_backup(w, backup_id)["Resources"]} == {"Pending"}
    out = cancel.cancel_backup(w, backup_id)
    assert out["Status"] == "Cancelled" and out["Leftovers"] == []
    assert not w.ecs.groups and not w.ecs.snapshots
    [group_id] = [r for _, r in w.ecs.tokens.values()]
    assert all(group_id in r["ErrorMessage"] and "deleted" in r["ErrorMessage"]
               for r in get_backup(w, backup_id)["Resources"])


def test_a_pending_item_with_nothing_made_does_not_claim_a_deleted_artifact(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    backup_id = create_backup(w, "si-1")["BackupId"]
    cancel.cancel_backup(w, backup_id)
    [item] = get_backup(w, backup_id)["Resources"]
    assert item["Status"] == "Cancelled" and "deleted" not in item["ErrorMessage"]
    assert "nothing" in item["ErrorMessage"]


def test_a_group_still_listed_after_its_delete_was_accepted_stays_owned_and_the_record_says_so(w):
    """DeleteSnapshotGroup answered, but the group reads back as still there (a member the cloud would not delete):
    the record does not say deleted; it names what is left, and the cancelled record keeps owning it."""
    w.seed("si-1", instances=1, disks_per_instance=2)
    backup_id = create_backup(w, "si-1")["BackupId"]
    start_batch(w, backup_id, 0)
    w.ecs.delete_snapshot_group = lambda group_id: None      # accepted, nothing deleted
    out = cancel.cancel_backup(w, backup_id)
    [group_id] = list(w.ecs.groups)
    assert any(group_id in left for left in out["Leftovers"])
    final = get_backup(w, backup_id)
    assert group_id in final["StatusDetail"]
    for item in final["Resources"]:
        assert item["Status"] == "Cancelled" and group_id in item["ErrorMessage"]
        assert "was deleted" not in item["ErrorMessage"] and "sweeper" in item["ErrorMessage"]


# -- the sweeper's pass over what carries our owner tag

def _aged() -> float:
    return time.time() + sweeper.ARTIFACT_GRACE_SECONDS + 1


def test_the_sweeper_deletes_a_group_a_cancelled_backup_left_behind_once_past_the_grace(w):
    w.seed("si-1", instances=1, disks_per_instance=2)
    backup_id = create_backup(w, "si-1")["BackupId"]
    start_batch(w, backup_id, 0)
    w.ecs.delete_snapshot_group = lambda group_id: None      # accepted, nothing deleted
    assert cancel.cancel_backup(w, backup_id)["Leftovers"]
    del w.ecs.delete_snapshot_group                          # the cloud deletes again
    [group_id] = list(w.ecs.groups)
    assert sweeper.sweep(w)["UnwantedArtifactsDeleted"] == [] and w.ecs.groups      # young: its create may run
    swept = sweeper.sweep(w, now=_aged())
    assert swept["UnwantedArtifactsDeleted"] == [group_id] and not w.ecs.groups and not w.ecs.snapshots
    assert sweeper.sweep(w, now=_aged())["UnwantedArtifactsDeleted"] == []          # idempotent


def test_the_sweeper_deletes_what_no_record_wants_and_never_an_artifact_of_a_live_or_kept_record(w):
    seeded = w.seed("si-1", instances=1, disks_per_instance=2)
    kept = create_backup(w, "si-1")["BackupId"]
    w.ecs.steps = 1
    assert play_backup(w, kept)["Status"] == "Created"
    w.ecs.steps = 0
    w.seed("si-2", instances=1, disks_per_instance=1)
    live = create_backup(w, "si-2")["BackupId"]
    start_batch(w, live, 0)
    disk = seeded["Disks"][0]

    def tagged(owner: str, token: str) -> str:
        return w.ecs.create_snapshot(disk, name="nestbackup-x", description="nestbackup x", client_token=token,
                                     tags={OWNER_TAG: owner})

    w.ecs.finish()
    not_listed = tagged(kept, "t-1")              # tagged by a kept record that does not list it
    w.ecs.finish()
    of_live = tagged(live, "t-2")                 # a live record's: its start may record it yet
    w.ecs.finish()
    orphan = tagged("backup-0123456789abcdef", "t-3")       # its record is gone
    w.ecs.finish()
    owned_by_kept = set(w.ecs.snapshots) - {not_listed, of_live, orphan}
    out = sweeper.delete_unwanted_artifacts(w, now=_aged())
    assert sorted(out["Deleted"]) == sorted([not_listed, orphan])
    assert set(w.ecs.snapshots) == owned_by_kept | {of_live} and len(w.ecs.groups) == 1       # the kept one
    assert get_backup(w, kept)["Status"] == "Created"


def test_the_sweepers_artifact_pass_is_bounded_per_run(w):
    w.seed("si-1", instances=3, disks_per_instance=1)
    disks = list(w.ecs.disks)
    for n, disk in enumerate(disks):
        w.ecs.create_snapshot(disk, name="nestbackup-x", description="nestbackup x", client_token=f"t-{n}",
                              tags={OWNER_TAG: "backup-0123456789abcdef"})
    assert len(sweeper.delete_unwanted_artifacts(w, now=_aged(), limit=2)["Deleted"]) == 2
    assert len(w.ecs.snapshots) == 1
    assert len(sweeper.delete_unwanted_artifacts(w, now=_aged(), limit=2)["Deleted"]) == 1
    assert not w.ecs.snapshots


def test_an_rds_backup_whose_create_answer_was_lost_stays_owned_by_the_cancelled_record_until_its_set_is_deleted():
    """CreateBackup takes no ClientToken: its answer lost, the item keeps only its intent (Starting). The cancel adopts
    the job the intent started, as the next start would, and hands its set to the timer; no set is left unowned."""
    w = MemoryWiring(cancel_rds_wait_seconds=0)
    w.seed("si-1", instances=0, databases={"PostgreSQL": {"app": {"t": [1, 2]}}})
    w.rds.steps = 0
    backup_id = create_backup(w, "si-1")["BackupId"]
    create = w.rds.create_backup

    def answer_lost(*args, **kwargs):
        create(*args, **kwargs)
        raise CloudError("ServiceUnavailable", "no answer", action="CreateBackup", http_status=503)

    w.rds.create_backup = answer_lost
    start_batch(w, backup_id, 0)
    assert w.rds.jobs and get_backup(w, backup_id)["Resources"][0]["Status"] == "Pending"
    cancel.cancel_backup(w, backup_id)
    [item] = get_backup(w, backup_id)["Resources"]
    assert item["Status"] == "Cancelled" and "the set is deleted when it ends" in item["ErrorMessage"]
    w.rds.finish()
    assert w.rds.sets
    sweeper.sweep(w)
    assert not w.rds.sets


def test_a_poll_round_in_flight_that_misses_the_group_the_cancel_deleted_does_not_fail_its_items_as_lost(w, monkeypatch):
    """StopExecution does not stop a poll step already running: it may describe the group after the cancel deleted it
    and fail its items ArtifactNotFound before the cancel marks them. The cancel deleted it: the items say so."""
    from nestbackup.operations.backup_poll import poll
    w.seed("si-1", instances=1, disks_per_instance=2)
    backup_id = create_backup(w, "si-1")["BackupId"]
    start_batch(w, backup_id, 0)
    [group_id] = list(w.ecs.groups)
    mark = cancel._mark_cancelled

    def poll_then_mark(*args, **kwargs):
        poll(w, backup_id, 1)                          # the round in flight: the group is gone
        return mark(*args, **kwargs)

    monkeypatch.setattr(cancel, "_mark_cancelled", poll_then_mark)
    cancel.cancel_backup(w, backup_id)
    final = get_backup(w, backup_id)
    assert {r["Status"] for r in final["Resources"]} == {"Cancelled"}
    assert all(f"{group_id} was deleted" in r["ErrorMessage"] for r in final["Resources"])


def test_a_cloud_error_in_the_sweepers_artifact_pass_skips_that_part_and_the_sweep_still_answers(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    disk = next(iter(w.ecs.disks))
    stray = w.ecs.create_snapshot(disk, name="nestbackup-x", description="nestbackup x", client_token="t-1",
                                  tags={OWNER_TAG: "backup-0123456789abcdef"})
    w.ecs.refusals.refuse("DescribeSnapshotGroups", "Throttling.User")      # the groups' listing
    w.ecs.refusals.refuse("DescribeSnapshots", "ServiceUnavailable", http_status=503)
    assert sweeper.sweep(w, now=_aged())["UnwantedArtifactsDeleted"] == []
    assert stray in w.ecs.snapshots
    assert sweeper.sweep(w, now=_aged())["UnwantedArtifactsDeleted"] == [stray]


def test_a_cancel_whose_tag_listing_fails_still_closes_the_record_and_says_the_sweeper_has_the_rest(w):
    w.seed("si-1", instances=1, disks_per_instance=2)
    backup_id = create_backup(w, "si-1")["BackupId"]
    w.ecs.refusals.refuse("DescribeSnapshotGroups", "Throttling.User", times=5)
    out = cancel.cancel_backup(w, backup_id)
    assert out["Status"] == "Cancelled"
    assert all("sweeper" in r["ErrorMessage"] for r in get_backup(w, backup_id)["Resources"])
