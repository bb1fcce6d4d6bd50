"""ECS list calls through the unmodified SDK: the documented caps, clamps and error codes (docs/cloud-fidelity.md)."""
from __future__ import annotations

import json
import uuid

import pytest
from alibabacloud_ecs20140526 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

R = "cn-hangzhou"
KEY = "acs:computenest:serviceInstanceId"


def refused(call, *args) -> ClientException:
    with pytest.raises(ClientException) as exc:
        call(*args)
    return exc.value


@pytest.fixture(scope="module")
def many_disks(endpoint):
    """One service instance with 1,001 small disks: past the 1,000-resource cap of tag queries."""
    from tests.support import Control
    return Control(endpoint).seed(ServiceInstanceId=f"si-{uuid.uuid4().hex[:12]}", Disks=1001, DiskSize="1MiB",
                                  Fill=False)


def test_a_tag_query_returns_at_most_1000_resources_and_list_tag_resources_has_them_all(ecs, many_disks):
    si = many_disks["ServiceInstanceId"]
    got, token = [], None
    while True:
        body = ecs.describe_disks(m.DescribeDisksRequest(region_id=R, tag=[m.DescribeDisksRequestTag(
            key=KEY, value=si)], max_results=500, next_token=token)).body
        got += [d.disk_id for d in body.disks.disk]
        token = body.next_token
        if not token:
            break
    assert len(got) == 1000  # Tag.N: "up to 1,000 resources ... call ListTagResources" for more
    # DiskIds are not a tag query: all 1,001 are reachable by id, and ListTagResources lists every one.
    ids = [d["DiskId"] for d in many_disks["Disks"]]
    assert len(ids) == 1001 and set(got) < set(ids)
    rows, token = [], None
    while True:
        body = ecs.list_tag_resources(m.ListTagResourcesRequest(region_id=R, resource_type="disk", tag=[
            m.ListTagResourcesRequestTag(key=KEY, value=si)], next_token=token)).body
        rows += [r.resource_id for r in body.tag_resources.tag_resource]
        token = body.next_token
        if not token:
            break
    assert sorted(rows) == sorted(ids)


def test_describe_disks_max_results_is_clamped_to_500(ecs, many_disks):
    iid = many_disks["InstanceIds"][0]
    body = ecs.describe_disks(m.DescribeDisksRequest(region_id=R, instance_id=iid, max_results=900)).body
    assert len(body.disks.disk) == 500 and body.next_token  # above 500 counts as 500 (SDK docstring)


def test_too_many_ids_get_each_actions_documented_code(ecs):
    ids = json.dumps([f"i-{n}" for n in range(101)])
    err = refused(ecs.describe_instances, m.DescribeInstancesRequest(region_id=R, instance_ids=ids))
    assert (err.code, err.status_code) == ("InvalidInstanceIds.Malformed", 400)  # UNCONFIRMED constant
    ids = json.dumps([f"s-{n}" for n in range(101)])
    err = refused(ecs.describe_snapshots, m.DescribeSnapshotsRequest(region_id=R, snapshot_ids=ids))
    assert (err.code, err.status_code) == ("InvalidSnapshotIds.Malformed", 403)
    # An empty DiskIds array is a filter that matches nothing (DescribeDisks description).
    assert ecs.describe_disks(m.DescribeDisksRequest(region_id=R, disk_ids="[]")).body.disks.disk == []


def test_unknown_filter_values_get_the_documented_codes(ecs):
    cases = [
        (ecs.describe_disks, m.DescribeDisksRequest(region_id=R, status="Busy"), "InvalidStatus.ValueNotSupported", 400),
        (ecs.describe_disks, m.DescribeDisksRequest(region_id=R, disk_type="root"),
         "InvalidDiskType.ValueNotSupported", 400),
        (ecs.describe_snapshots, m.DescribeSnapshotsRequest(region_id=R, status="done"), "InvalidStatus.NotFound", 404),
        (ecs.describe_snapshots, m.DescribeSnapshotsRequest(region_id=R, snapshot_type="manual"),
         "InvalidSnapshotType.NotFound", 404),
        (ecs.describe_snapshots, m.DescribeSnapshotsRequest(region_id=R, source_disk_type="root"),
         "InvalidSourceDiskType", 404),
        (ecs.describe_instances, m.DescribeInstancesRequest(region_id=R, status="Up"), "InvalidStatus.NotFound", 404),
        (ecs.describe_snapshot_groups, m.DescribeSnapshotGroupsRequest(region_id=R, status=["done"]),
         "InvalidStatus.ValueNotSupported", 403),
    ]
    for call, request, code, status in cases:
        err = refused(call, request)
        assert (err.code, err.status_code) == (code, status), request


def test_snapshot_lists_default_to_10_and_stop_at_100_per_page(ecs, control):
    s = control.seed(ServiceInstanceId=f"si-{uuid.uuid4().hex[:12]}", Disks=1, DiskSize="1MiB", Fill=False)
    did = s["Disks"][0]["DiskId"]
    sids = []
    for _ in range(12):
        sid = ecs.create_snapshot(m.CreateSnapshotRequest(disk_id=did)).body.snapshot_id
        sids.append(sid)
        _wait_accomplished(ecs, sid)
    first = ecs.describe_snapshots(m.DescribeSnapshotsRequest(region_id=R, disk_id=did, max_results=None,
                                                              next_token=None)).body
    assert len(first.snapshots.snapshot) == 10  # default page size
    capped = ecs.describe_snapshots(m.DescribeSnapshotsRequest(region_id=R, disk_id=did, max_results=1000)).body
    assert len(capped.snapshots.snapshot) == 12 and not capped.next_token
    two = ecs.describe_snapshots(m.DescribeSnapshotsRequest(region_id=R, disk_id=did, max_results=5)).body
    rest = ecs.describe_snapshots(m.DescribeSnapshotsRequest(region_id=R, disk_id=did, max_results=100,
                                                             next_token=two.next_token)).body
    assert [x.snapshot_id for x in two.snapshots.snapshot + rest.snapshots.snapshot] == sids


def _wait_accomplished(ecs, sid: str) -> None:
    import time
    deadline = time.monotonic() + 15
    while ecs.describe_snapshots(m.DescribeSnapshotsRequest(region_id=R, snapshot_ids=json.dumps([sid]))).body \
            .snapshots.snapshot[0].status != "accomplished":
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_each_apis_calls_past_its_threshold_a_minute_are_throttled_until_the_next_minute(tmp_path):
    """ECS counts each API's calls per account and minute and refuses the rest of the minute (Throttling.User); the
    figure is UNCONFIRMED (Quota Center only): the scale harness holds the product to the same one."""
    from localcloud.cloud import LocalCloud
    from localcloud.ecs.throttling import PER_MINUTE
    from localcloud.server import LocalCloudServer
    from tests.support import make_ecs
    from tests.support.scale import UNPUBLISHED_PER_MINUTE

    assert PER_MINUTE == UNPUBLISHED_PER_MINUTE
    cloud = LocalCloud(tmp_path / "state", ecs_calls_per_minute=PER_MINUTE)
    minute = [1_900_000_000.0]
    cloud.ecs.throttling.clock = lambda: minute[0]
    cloud.ecs.throttling.per_minute = 3                 # the same rule, fewer calls to show it
    server = LocalCloudServer(cloud, port=0)
    server.start_in_thread()
    try:
        client = make_ecs(server.endpoint)
        snapshots = m.DescribeSnapshotsRequest(region_id="cn-hangzhou")
        for _ in range(3):
            client.describe_snapshots(snapshots)
        with pytest.raises(ClientException) as refused:
            client.describe_snapshots(snapshots)
        assert (refused.value.code, refused.value.status_code) == ("Throttling.User", 400)
        client.describe_disks(m.DescribeDisksRequest(region_id="cn-hangzhou"))      # another API: its own count
        minute[0] += 60
        client.describe_snapshots(snapshots)                                          # the next minute
    finally:
        server.stop()
