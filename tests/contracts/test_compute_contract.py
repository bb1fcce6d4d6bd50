"""The compute port's contract (ECS): MemoryCompute and adapters/ecs.py against the local cloud."""
import time

import pytest

from nestbackup.errors import CloudError
from tests.support.contracts import eventually


def test_tagged_resources_are_found_and_an_unknown_tag_finds_nothing(compute):
    seeded = compute.seed(disks=2)
    assert sorted(d.disk_id for d in compute.port.disks_tagged(compute.tag_key, compute.si)) == sorted(seeded["Disks"])
    assert [i.instance_id for i in compute.port.instances_tagged(compute.tag_key, compute.si)] == seeded["InstanceIds"]
    assert compute.port.disks_tagged(compute.tag_key, "si-nobody") == []
    disks = compute.port.disks_of_instance(seeded["InstanceIds"][0])
    assert sorted(d.disk_id for d in disks) == sorted(seeded["Disks"]) and {d.status for d in disks} == {"In_use"}


def test_a_snapshot_is_made_once_per_client_token_and_ends_accomplished_with_its_size(compute):
    disk = compute.seed(disks=1)["Disks"][0]
    first = compute.port.create_snapshot(disk, name="nestbackup-t", description="nestbackup test", client_token="tok-" + compute.si,
                                      tags={"nestbackup:backupId": "backup-x"})
    again = compute.port.create_snapshot(disk, name="nestbackup-t", description="nestbackup test",
                                      client_token="tok-" + compute.si, tags={"nestbackup:backupId": "backup-x"})
    assert again == first
    with pytest.raises(CloudError) as err:                    # the same token for another call is refused
        compute.port.create_snapshot(disk, name="nestbackup-other", description="nestbackup test",
                                  client_token="tok-" + compute.si)
    assert err.value.code == "IdempotentParameterMismatch"
    done = eventually(lambda: compute.port.describe_snapshots([first]).get(first, None)
                      if compute.port.describe_snapshots([first])[first].accomplished else None)
    assert done and done.progress == 100 and done.available and done.disk_id == disk and done.size_bytes
    assert (first, "backup-x") in compute.port.snapshots_tagged("nestbackup:backupId")
    assert compute.port.snapshots_tagged("nestbackup:backupId", "backup-x") == [(first, "backup-x")]
    assert first not in dict(compute.port.snapshots_tagged("nestbackup:backupId", "backup-y"))
    assert done.created_epoch and abs(done.created_epoch - time.time()) < 600
    assert compute.port.describe_snapshots([first, "s-unknown000000"]).keys() == {first}


def test_a_snapshot_group_holds_a_snapshot_of_every_disk(compute):
    seeded = compute.seed(disks=2)
    gid = compute.port.create_snapshot_group(seeded["InstanceIds"][0], seeded["Disks"], name="nestbackup-g", description="nestbackup test",
                                          client_token="g-" + compute.si, tags={"nestbackup:backupId": compute.si})
    group = eventually(lambda: (g := compute.port.describe_snapshot_groups([gid])[gid]).status == "accomplished" and g)
    assert group and sorted(s.disk_id for s in group.snapshots) == sorted(seeded["Disks"])
    assert group.created_epoch and abs(group.created_epoch - time.time()) < 600
    assert compute.port.groups_tagged("nestbackup:backupId", compute.si) == [(gid, compute.si)]
    assert gid not in dict(compute.port.groups_tagged("nestbackup:backupId", compute.si + "-other"))
    compute.port.delete_snapshot_group(gid)
    assert compute.port.describe_snapshot_groups([gid]) == {}


def test_deleting_a_snapshot_that_is_gone_is_no_error_and_a_group_that_is_gone_says_not_found(compute):
    compute.port.delete_snapshot("s-unknown000000")            # the reference: ignored
    with pytest.raises(CloudError) as err:
        compute.port.delete_snapshot_group("ssg-unknown00000")
    assert err.value.code == "InvalidSnapshotGroupId.NotFound"


def test_a_disk_is_reset_only_while_its_instance_is_stopped_and_instances_stop_and_start(compute):
    seeded = compute.seed(disks=1)
    instance, disk = seeded["InstanceIds"][0], seeded["Disks"][0]
    sid = compute.port.create_snapshot(disk, name="nestbackup-t", description="nestbackup test", client_token="r-" + compute.si)
    assert eventually(lambda: compute.port.describe_snapshots([sid])[sid].accomplished)
    with pytest.raises(CloudError) as err:
        compute.port.reset_disk(disk, sid)
    assert err.value.code == "IncorrectInstanceStatus"
    assert compute.port.stop_instances([instance]) == []
    assert eventually(lambda: compute.port.describe_instances([instance])[instance].stopped)
    compute.port.reset_disk(disk, sid)
    assert eventually(lambda: compute.port.describe_disks([disk])[disk].settled)
    assert compute.port.start_instances([instance]) == []
    assert eventually(lambda: compute.port.describe_instances([instance])[instance].running)


def test_an_instance_ecs_will_not_stop_or_start_is_reported_with_its_code(compute):
    one = compute.seed(disks=0)["InstanceIds"][0]
    assert compute.port.stop_instances([one]) == []
    assert eventually(lambda: compute.port.describe_instances([one])[one].stopped)
    refused = compute.port.stop_instances([one])        # Stopped already: with SuccessFirst the call reports it
    assert [(r.instance_id, r.code) for r in refused] == [(one, "IncorrectInstanceStatus")]
    assert compute.port.start_instances([one]) == []
    assert eventually(lambda: compute.port.describe_instances([one])[one].running)
    refused = compute.port.start_instances([one])
    assert [(r.instance_id, r.code) for r in refused] == [(one, "IncorrectInstanceStatus")]


def test_a_malformed_snapshot_name_is_refused(compute):
    disk = compute.seed(disks=1)["Disks"][0]
    for name in ("n", "auto-x", "1abc"):
        with pytest.raises(CloudError) as err:
            compute.port.create_snapshot(disk, name=name, description="nestbackup test", client_token=f"{name}-{compute.si}")
        assert err.value.code == "InvalidSnapshotName.Malformed"


def test_a_disk_made_from_a_snapshot_is_creating_then_available_tagged_and_deleted(compute):
    disk = compute.seed(disks=1)["Disks"][0]
    sid = compute.port.create_snapshot(disk, name="nestbackup-d", description="nestbackup test",
                                       client_token="sd-" + compute.si)
    assert eventually(lambda: compute.port.describe_snapshots([sid])[sid].accomplished)
    zone = compute.port.describe_disks([disk])[disk].zone_id
    assert zone
    made = compute.port.create_disk_from_snapshot(sid, zone, "cloud_essd", name="drill-test",
                                                  client_token="cd-" + compute.si, tags={"nestbackup:drillId": compute.si})
    again = compute.port.create_disk_from_snapshot(sid, zone, "cloud_essd", name="drill-test",
                                                   client_token="cd-" + compute.si,
                                                   tags={"nestbackup:drillId": compute.si})
    assert again == made                                              # one disk per ClientToken
    scratch = eventually(lambda: (d := compute.port.describe_disks([made]).get(made)) and not d.creating and d)
    assert scratch and scratch.status == "Available" and scratch.instance_id is None
    assert [d.disk_id for d in compute.port.disks_tagged("nestbackup:drillId", compute.si)] == [made]
    compute.port.delete_disk(made)
    assert compute.port.describe_disks([made]) == {}
    compute.port.delete_disk(made)                                    # the reference: an unknown id is ignored


def test_an_attached_disk_is_not_deleted(compute):
    disk = compute.seed(disks=1)["Disks"][0]
    with pytest.raises(CloudError) as err:
        compute.port.delete_disk(disk)
    assert err.value.code == "IncorrectDiskStatus"


def test_a_compliance_locked_snapshot_cannot_be_deleted_alone_or_in_its_group_and_its_lock_only_extends(compute):
    from nestbackup.adapters.ecs import LOCK_SHORTENED_CODE, SNAPSHOT_LOCKED_CODE
    seeded = compute.seed(disks=2)
    gid = compute.port.create_snapshot_group(seeded["InstanceIds"][0], seeded["Disks"], name="nestbackup-l",
                                             description="nestbackup test", client_token="l-" + compute.si)
    group = eventually(lambda: (g := compute.port.describe_snapshot_groups([gid])[gid]).status == "accomplished" and g)
    locked = group.snapshots[0].snapshot_id
    compute.port.lock_snapshot(locked, 2)
    compute.port.lock_snapshot(locked, 3)                       # extended
    with pytest.raises(CloudError) as err:
        compute.port.lock_snapshot(locked, 1)                   # shortened: refused
    assert err.value.code == LOCK_SHORTENED_CODE
    for delete, target in ((compute.port.delete_snapshot, locked), (compute.port.delete_snapshot_group, gid)):
        with pytest.raises(CloudError) as err:
            delete(target)
        assert err.value.code == SNAPSHOT_LOCKED_CODE
    assert locked in compute.port.describe_snapshots([locked])   # nothing was deleted, not even the unlocked member
    assert gid in compute.port.describe_snapshot_groups([gid])
    with pytest.raises(CloudError) as err:
        compute.port.lock_snapshot("s-unknown000000", 1)
    assert err.value.code == "InvalidSnapshotId.NotFound"


def test_a_disk_and_its_snapshot_say_whether_they_are_encrypted_and_with_which_key(compute):
    plain = compute.seed(disks=1)["Disks"][0]
    disk = compute.port.describe_disks([plain])[plain]
    assert disk.encrypted is False and not disk.kms_key_id
    compute.si += "-enc"
    sealed = compute.seed(disks=1, kms_key_id="key-contract-1")["Disks"][0]
    disk = compute.port.describe_disks([sealed])[sealed]
    assert disk.encrypted is True and disk.kms_key_id == "key-contract-1"
    sid = compute.port.create_snapshot(sealed, name="nestbackup-e", description="nestbackup test",
                                       client_token="e-" + compute.si)
    snap = compute.port.describe_snapshots([sid])[sid]
    assert snap.encrypted is True and snap.kms_key_id == "key-contract-1"


def test_a_command_runs_on_every_instance_once_per_client_token_and_says_how_it_ended(compute):
    one, two = compute.seed(disks=1)["InstanceIds"][0], compute.seed(disks=1)["InstanceIds"][0]
    invoke = compute.port.run_command([one, two], "echo frozen; exit 0", name="nestbackup-pre", timeout_seconds=30,
                                      client_token="pre-" + compute.si)
    assert compute.port.run_command([one, two], "echo frozen; exit 0", name="nestbackup-pre", timeout_seconds=30,
                                    client_token="pre-" + compute.si) == invoke
    runs = eventually(lambda: (r := compute.port.invocation_results(invoke)) and all(x.finished for x in r.values())
                      and r)
    assert sorted(runs) == sorted([one, two])
    for run in runs.values():
        assert (run.succeeded, run.exit_code, run.output.strip()) == (True, 0, "frozen")
    failed = compute.port.run_command([one], "echo broken; exit 3", name="nestbackup-pre", timeout_seconds=30,
                                      client_token="bad-" + compute.si)
    run = eventually(lambda: (r := compute.port.invocation_results(failed)[one]).finished and r)
    assert (run.succeeded, run.timed_out, run.exit_code, run.status) == (False, False, 3, "Failed")
    with pytest.raises(CloudError) as err:
        compute.port.run_command(["i-nosuchinstance0"], "exit 0", name="nestbackup-pre", timeout_seconds=30,
                                 client_token="none-" + compute.si)
    assert err.value.code == "InvalidInstanceId.NotFound"


def test_a_snapshot_copied_into_another_region_is_listed_there_only_and_deleted_there(compute):
    disk = compute.seed(disks=1)["Disks"][0]
    sid = compute.port.create_snapshot(disk, name="nestbackup-c", description="nestbackup test",
                                       client_token="c-" + compute.si, tags={"nestbackup:backupId": compute.si})
    assert eventually(lambda: compute.port.describe_snapshots([sid])[sid].accomplished)
    ask = {"name": "nestbackup-c", "description": "nestbackup copy", "client_token": "cc-" + compute.si,
           "tags": {"nestbackup:backupId": compute.si}}
    copy = compute.port.copy_snapshot(sid, "cn-shanghai", **ask)
    assert compute.port.copy_snapshot(sid, "cn-shanghai", **ask) == copy           # one copy per ClientToken
    assert copy != sid and copy not in compute.port.describe_snapshots([copy])      # not in the source region
    done = eventually(lambda: (s := compute.port.describe_snapshots_in("cn-shanghai", [copy]).get(copy))
                      and s.accomplished and s)
    assert done and done.snapshot_id == copy
    assert compute.port.describe_snapshots_in("cn-beijing", [copy]) == {}
    assert copy not in dict(compute.port.snapshots_tagged("nestbackup:backupId", compute.si))
    assert (copy, compute.si) in compute.port.snapshots_tagged_in("cn-shanghai", "nestbackup:backupId")
    assert sid not in dict(compute.port.snapshots_tagged_in("cn-shanghai", "nestbackup:backupId"))
    compute.port.delete_snapshot_in("cn-shanghai", copy)
    assert compute.port.describe_snapshots_in("cn-shanghai", [copy]) == {}
    assert sid in compute.port.describe_snapshots([sid])                           # the source stays
    compute.port.delete_snapshot_in("cn-shanghai", copy)                           # gone already: ignored


def test_an_encrypted_snapshot_is_copied_only_with_a_key_of_the_destination(compute):
    disk = compute.seed(disks=1, kms_key_id="key-source")["Disks"][0]
    sid = compute.port.create_snapshot(disk, name="nestbackup-e", description="nestbackup test",
                                       client_token="e-" + compute.si)
    assert eventually(lambda: compute.port.describe_snapshots([sid])[sid].accomplished)
    with pytest.raises(CloudError):
        compute.port.copy_snapshot(sid, "cn-shanghai", name="nestbackup-e", description="nestbackup copy",
                                   client_token="e1-" + compute.si)
    copy = compute.port.copy_snapshot(sid, "cn-shanghai", name="nestbackup-e", description="nestbackup copy",
                                      client_token="e2-" + compute.si, kms_key_id="key-shanghai")
    done = eventually(lambda: (s := compute.port.describe_snapshots_in("cn-shanghai", [copy]).get(copy))
                      and s.accomplished and s)
    assert done and done.encrypted and done.kms_key_id == "key-shanghai"


def test_a_copy_is_locked_in_its_own_region_and_then_not_deleted_there(compute):
    disk = compute.seed(disks=1)["Disks"][0]
    sid = compute.port.create_snapshot(disk, name="nestbackup-l", description="nestbackup test",
                                       client_token="l-" + compute.si)
    assert eventually(lambda: compute.port.describe_snapshots([sid])[sid].accomplished)
    copy = compute.port.copy_snapshot(sid, "cn-shanghai", name="nestbackup-l", description="nestbackup copy",
                                      client_token="lc-" + compute.si)
    assert eventually(lambda: (s := compute.port.describe_snapshots_in("cn-shanghai", [copy]).get(copy))
                      and s.accomplished)
    with pytest.raises(CloudError) as err:                     # not a snapshot of the source region
        compute.port.lock_snapshot(copy, 1)
    assert err.value.code == "InvalidSnapshotId.NotFound"
    compute.port.lock_snapshot_in("cn-shanghai", copy, 1)
    with pytest.raises(CloudError):
        compute.port.delete_snapshot_in("cn-shanghai", copy)
    assert copy in compute.port.describe_snapshots_in("cn-shanghai", [copy])
