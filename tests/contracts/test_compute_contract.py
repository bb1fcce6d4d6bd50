"""The compute port's contract (ECS): MemoryCompute and adapters/ecs.py against the local cloud."""
import pytest

from nestbackup.adapters.ecs import VERSION, Ecs
from nestbackup.errors import CloudError
from tests.support.contracts import IMPLEMENTATIONS, World, eventually, rpc


@pytest.fixture(params=IMPLEMENTATIONS)
def world(request):
    world = World(request.param, request)
    world.ecs = world.memory.ecs if world.kind == "memory" else Ecs(rpc(world.endpoint, VERSION))
    return world


def test_tagged_resources_are_found_and_an_unknown_tag_finds_nothing(world):
    seeded = world.seed(disks=2)
    assert sorted(d.disk_id for d in world.ecs.disks_tagged(world.tag_key, world.si)) == sorted(seeded["Disks"])
    assert [i.instance_id for i in world.ecs.instances_tagged(world.tag_key, world.si)] == seeded["InstanceIds"]
    assert world.ecs.disks_tagged(world.tag_key, "si-nobody") == []
    disks = world.ecs.disks_of_instance(seeded["InstanceIds"][0])
    assert sorted(d.disk_id for d in disks) == sorted(seeded["Disks"]) and {d.status for d in disks} == {"In_use"}


def test_a_snapshot_is_made_once_per_client_token_and_ends_accomplished_with_its_size(world):
    disk = world.seed(disks=1)["Disks"][0]
    first = world.ecs.create_snapshot(disk, name="nestbackup-t", description="nestbackup test", client_token="tok-" + world.si,
                                      tags={"nestbackup:backupId": "backup-x"})
    again = world.ecs.create_snapshot(disk, name="nestbackup-t", description="nestbackup test",
                                      client_token="tok-" + world.si, tags={"nestbackup:backupId": "backup-x"})
    assert again == first
    with pytest.raises(CloudError) as err:                    # the same token for another call is refused
        world.ecs.create_snapshot(disk, name="nestbackup-other", description="nestbackup test",
                                  client_token="tok-" + world.si)
    assert err.value.code == "IdempotentParameterMismatch"
    done = eventually(lambda: world.ecs.describe_snapshots([first]).get(first, None)
                      if world.ecs.describe_snapshots([first])[first].accomplished else None)
    assert done and done.progress == 100 and done.available and done.disk_id == disk and done.size_bytes
    assert (first, "backup-x") in world.ecs.snapshots_tagged("nestbackup:backupId")
    assert world.ecs.describe_snapshots([first, "s-unknown000000"]).keys() == {first}


def test_a_snapshot_group_holds_a_snapshot_of_every_disk(world):
    seeded = world.seed(disks=2)
    gid = world.ecs.create_snapshot_group(seeded["InstanceIds"][0], seeded["Disks"], name="nestbackup-g", description="nestbackup test",
                                          client_token="g-" + world.si)
    group = eventually(lambda: (g := world.ecs.describe_snapshot_groups([gid])[gid]).status == "accomplished" and g)
    assert group and sorted(s.disk_id for s in group.snapshots) == sorted(seeded["Disks"])
    world.ecs.delete_snapshot_group(gid)
    assert world.ecs.describe_snapshot_groups([gid]) == {}


def test_deleting_a_snapshot_that_is_gone_is_no_error_and_a_group_that_is_gone_says_not_found(world):
    world.ecs.delete_snapshot("s-unknown000000")            # the reference: ignored
    with pytest.raises(CloudError) as err:
        world.ecs.delete_snapshot_group("ssg-unknown00000")
    assert err.value.code == "InvalidSnapshotGroupId.NotFound"


def test_a_disk_is_reset_only_while_its_instance_is_stopped_and_instances_stop_and_start(world):
    seeded = world.seed(disks=1)
    instance, disk = seeded["InstanceIds"][0], seeded["Disks"][0]
    sid = world.ecs.create_snapshot(disk, name="nestbackup-t", description="nestbackup test", client_token="r-" + world.si)
    assert eventually(lambda: world.ecs.describe_snapshots([sid])[sid].accomplished)
    with pytest.raises(CloudError) as err:
        world.ecs.reset_disk(disk, sid)
    assert err.value.code == "IncorrectInstanceStatus"
    world.ecs.stop_instances([instance])
    assert eventually(lambda: world.ecs.describe_instances([instance])[instance].stopped)
    world.ecs.reset_disk(disk, sid)
    assert eventually(lambda: world.ecs.describe_disks([disk])[disk].settled)
    world.ecs.start_instances([instance])
    assert eventually(lambda: world.ecs.describe_instances([instance])[instance].running)


def test_a_malformed_snapshot_name_is_refused(world):
    disk = world.seed(disks=1)["Disks"][0]
    for name in ("n", "auto-x", "1abc"):
        with pytest.raises(CloudError) as err:
            world.ecs.create_snapshot(disk, name=name, description="nestbackup test", client_token=f"{name}-{world.si}")
        assert err.value.code == "InvalidSnapshotName.Malformed"
