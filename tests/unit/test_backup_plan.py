from nestbackup.model.records import BackupMethod
from nestbackup.steps.backup import DatabaseFacts, DiskFacts, groupable, plan_items


def essd(disk_id, instance="i-1", size=40, **kw):
    return DiskFacts(disk_id, instance, kw.pop("category", "cloud_essd"), size, **kw)


def test_all_essd_disks_of_an_instance_share_one_group():
    items = plan_items([essd("d-2"), essd("d-1")], [])
    assert [(i.resource_id, i.method) for i in items] == [("d-1", BackupMethod.SNAPSHOT_GROUP),
                                                          ("d-2", BackupMethod.SNAPSHOT_GROUP)]


def test_one_unqualified_disk_sends_the_whole_instance_to_per_disk_snapshots():
    items = plan_items([essd("d-1"), essd("d-2", category="cloud_efficiency")], [])
    assert {i.method for i in items} == {BackupMethod.SNAPSHOT}


def test_group_limits():
    assert not groupable([essd(f"d-{n}") for n in range(17)])
    assert groupable([essd(f"d-{n}") for n in range(16)])
    assert not groupable([essd("d-1", size=20000), essd("d-2", size=20000)])
    assert not groupable([essd("d-1"), essd("d-2", multi_attach=True)])
    assert not groupable([essd("d-1")])          # a single disk needs no group


def test_unattached_disks_and_groups_off_use_snapshots():
    assert plan_items([essd("d-1", instance=None), essd("d-2", instance=None)], [])[0].method is BackupMethod.SNAPSHOT
    assert plan_items([essd("d-1"), essd("d-2")], [], use_groups=False)[0].method is BackupMethod.SNAPSHOT


def test_databases_follow_disks_and_unsupported_engines_are_left_out():
    items = plan_items([essd("d-1")], [DatabaseFacts("rm-b", "PostgreSQL"), DatabaseFacts("rm-a", "MySQL"),
                                       DatabaseFacts("rm-c", "MariaDB")])
    assert [(i.resource_id, i.engine) for i in items] == [("d-1", None), ("rm-a", "MySQL"), ("rm-b", "PostgreSQL")]
