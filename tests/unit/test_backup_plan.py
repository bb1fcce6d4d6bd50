from nestbackup.decisions.backup import DatabaseFacts, DiskFacts, groupable, plan_items
from nestbackup.model.records import BackupMethod


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


# -- advancing running items from what the cloud reports
import pytest  # noqa: E402

from nestbackup.decisions.backup import CloudProgress, advance, next_wait  # noqa: E402
from nestbackup.model.records import BackupItem, ResourceType  # noqa: E402
from nestbackup.model.status import ItemStatus  # noqa: E402


def running(**kw):
    return BackupItem("d-1", ResourceType.DISK, status=ItemStatus.RUNNING, artifact_id="s-1", **kw)


@pytest.mark.parametrize("seen, now, expected_status, expected_code", [
    (CloudProgress(ItemStatus.RUNNING, 40), 10, ItemStatus.RUNNING, None),
    (CloudProgress(ItemStatus.SUCCEEDED, 100), 10, ItemStatus.SUCCEEDED, None),
    (CloudProgress(ItemStatus.FAILED, 0, error_code="SnapshotFailed", error_message="disk error"), 10,
     ItemStatus.FAILED, "SnapshotFailed"),
    (CloudProgress(ItemStatus.RUNNING, 40), 100, ItemStatus.FAILED, "Timeout"),
    (CloudProgress(ItemStatus.SUCCEEDED, 100), 100, ItemStatus.SUCCEEDED, None),   # done beats the deadline
    (None, 10, ItemStatus.FAILED, "ArtifactNotFound"),
], ids=["progressing", "accomplished", "failed", "deadline", "done-at-deadline", "vanished"])
def test_advance(seen, now, expected_status, expected_code):
    item = running()
    advance(item, seen, now=now, deadline=100)
    assert (item.status, item.error_code) == (expected_status, expected_code)


def test_advance_reports_change_and_never_moves_progress_back():
    item = running(progress=50)
    assert advance(item, CloudProgress(ItemStatus.RUNNING, 30), 0, 100) is False
    assert item.progress == 50
    assert advance(item, CloudProgress(ItemStatus.RUNNING, 70), 0, 100) is True


def test_final_items_are_left_alone():
    item = BackupItem("d-1", ResourceType.DISK, status=ItemStatus.SUCCEEDED)
    assert advance(item, None, 0, 100) is False


def test_poll_waits_grow_to_the_cloudflow_limit():
    assert [next_wait(n) for n in range(10)] == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


def test_a_failed_groups_outcomes_name_the_failing_disk():
    from nestbackup.decisions.backup import failed_group_outcomes
    out = failed_group_outcomes("ssg-1", {"d-1": ("s-1", "accomplished", 100), "d-2": ("s-2", "failed", 40)})
    assert out["d-2"].error_code == "SnapshotFailed" and "ssg-1" in out["d-2"].error_message
    assert out["d-1"].error_code == "GroupMemberFailed" and "d-2" in out["d-1"].error_message
    assert out["d-1"].artifact_id == "s-1"
    unknown = failed_group_outcomes("ssg-2", {"d-1": ("s-1", "accomplished", 100), "d-2": ("s-2", "accomplished", 100)})
    assert {o.error_code for o in unknown.values()} == {"SnapshotFailed"}      # ECS does not say which: both


def test_replicas_get_a_skipped_item_that_says_why_and_primaries_a_backup():
    from nestbackup.model.status import ItemStatus
    items = plan_items([], [DatabaseFacts("rm-1", "PostgreSQL"),
                            DatabaseFacts("rr-1", "PostgreSQL", "Readonly", "rm-1"),
                            DatabaseFacts("rg-1", "MySQL", "Guard", "rm-9")])
    by_id = {i.resource_id: i for i in items}
    assert by_id["rm-1"].status is ItemStatus.PENDING and by_id["rm-1"].method is BackupMethod.RDS_BACKUP
    for rid, kind, master in (("rr-1", "Readonly", "rm-1"), ("rg-1", "Guard", "rm-9")):
        assert by_id[rid].status is ItemStatus.SKIPPED and by_id[rid].method is None
        assert kind in by_id[rid].error_message and master in by_id[rid].error_message


@pytest.mark.parametrize("arn, expected", [
    # the example ResourceArn of Compute Nest's RenewServiceInstanceResources API page
    ("acs:ecs:cn-hongkong:1488317743351199:instance/i-j6c6f3lbky38o8rpeqw2",
     ("ecs", "instance", "i-j6c6f3lbky38o8rpeqw2")),
    ("arn:acs:ecs:cn-hangzhou:123:disk/d-abc", ("ecs", "disk", "d-abc")),
    ("acs:rds:cn-hangzhou:123:dbinstance/rm-abc", ("rds", "dbinstance", "rm-abc")),
    ("acs:ros:cn-hangzhou:123:stack/a/b", ("ros", "stack", "a/b")),
    ("i-abc", None), ("acs:ecs:cn-hangzhou:123:instance", None), ("", None),
])
def test_compute_nest_resource_arns_are_parsed_defensively(arn, expected):
    from nestbackup.adapters.computenest import parse_arn
    got = parse_arn(arn)
    assert (got and (got.service, got.kind, got.resource_id)) == expected


@pytest.mark.parametrize("arn, expected", [
    ("acs:kvstore:cn-hangzhou:123:instance/r-abc", ("kvstore", "instance", "r-abc")),
    # the OSS bucket form Cloud Config documents (acs:oss:{regionId}:{Aliuid}:{bucketName}): no type/ segment
    ("acs:oss:cn-shanghai:123:new-bucket", ("oss", "", "new-bucket")),
    ("i-abc", ("", "", "i-abc")),
])
def test_a_listed_arn_the_parser_cannot_read_is_kept_as_an_unidentified_resource_never_dropped(arn, expected):
    from nestbackup.adapters.computenest import listed_resource
    got = listed_resource(arn)
    assert (got.service, got.kind, got.resource_id) == expected and got.arn == arn
