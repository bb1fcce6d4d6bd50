"""ECS through the unmodified SDK: describing, real incremental snapshots, rollback, instance state, cloud rules."""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest
from alibabacloud_ecs20140526 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

R = "cn-hangzhou"
MIB = 1 << 20


# ---------------------------------------------------------------- helpers
def seed(control, disks: int = 1, size: str = "8MiB", **kw) -> dict:
    return control.seed(ServiceInstanceId=f"si-{uuid.uuid4().hex[:12]}", Disks=disks, DiskSize=size, **kw)


def refused(call, *args) -> ClientException:
    with pytest.raises(ClientException) as exc:
        call(*args)
    return exc.value


def snap(ecs, sid: str):
    return ecs.describe_snapshots(m.DescribeSnapshotsRequest(
        region_id=R, snapshot_ids=json.dumps([sid]))).body.snapshots.snapshot[0]


def create_snapshot(ecs, disk_id: str, **kw) -> str:
    return ecs.create_snapshot(m.CreateSnapshotRequest(disk_id=disk_id, **kw)).body.snapshot_id


def wait_snapshot(ecs, sid: str, status: str = "accomplished", timeout: float = 15):
    deadline = time.monotonic() + timeout
    while True:
        s = snap(ecs, sid)
        if s.status == status:
            return s
        assert s.status == "progressing", f"{sid} ended {s.status}"
        assert time.monotonic() < deadline, f"{sid} still {s.status} at {s.progress}"
        time.sleep(0.02)


def instance_status(ecs, iid: str) -> str:
    body = ecs.describe_instance_status(m.DescribeInstanceStatusRequest(region_id=R, instance_id=[iid])).body
    return body.instance_statuses.instance_status[0].status


def wait_instance(ecs, iid: str, status: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while instance_status(ecs, iid) != status:
        assert time.monotonic() < deadline, f"{iid} never became {status}"
        time.sleep(0.02)


def disk(ecs, disk_id: str):
    return ecs.describe_disks(m.DescribeDisksRequest(region_id=R, disk_ids=json.dumps([disk_id]))).body.disks.disk[0]


def wait_disk(ecs, disk_id: str, status: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while disk(ecs, disk_id).status != status:
        assert time.monotonic() < deadline, f"{disk_id} never became {status}"
        time.sleep(0.02)


def stop(ecs, iid: str) -> None:
    ecs.stop_instances(m.StopInstancesRequest(region_id=R, instance_id=[iid], stopped_mode="KeepCharging"))
    wait_instance(ecs, iid, "Stopped")


@pytest.fixture(scope="module")
def state_dir(cloud_server) -> Path:
    return Path(cloud_server.cloud.state_dir)


def block_files(state_dir: Path) -> set[str]:
    return {p.name for p in (state_dir / "ecs" / "blocks").glob("??/*") if len(p.name) == 64}


def scribble(path: str, offset: int, length: int = 4096) -> bytes:
    data = os.urandom(length)
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
    return data


def tag(key, value=None, cls=m.DescribeDisksRequestTag):
    return cls(key=key, value=value)


# ---------------------------------------------------------------- describing
def test_seeded_instance_and_disks_are_described(ecs, control):
    s = seed(control, disks=2)
    iid, si = s["InstanceIds"][0], s["ServiceInstanceId"]
    inst = ecs.describe_instances(m.DescribeInstancesRequest(
        region_id=R, instance_ids=json.dumps([iid]))).body.instances.instance
    assert [i.instance_id for i in inst] == [iid] and inst[0].status == "Running"
    assert {(t.tag_key, t.tag_value) for t in inst[0].tags.tag} == {("acs:computenest:serviceInstanceId", si)}
    body = ecs.describe_disks(m.DescribeDisksRequest(region_id=R, instance_id=iid)).body
    assert body.total_count == 2
    for d in body.disks.disk:
        assert (d.status, d.category, d.type, d.size, d.instance_id) == ("In_use", "cloud_essd", "data", 1, iid)
        assert d.attachments.attachment[0].instance_id == iid
    by_tag = ecs.describe_disks(m.DescribeDisksRequest(
        region_id=R, tag=[tag("acs:computenest:serviceInstanceId", si)])).body.disks.disk
    assert sorted(d.disk_id for d in by_tag) == sorted(x["DiskId"] for x in s["Disks"])
    # Tag.N filters are ANDed; a key without a value matches any value.
    both = [tag("acs:computenest:serviceInstanceId", si), tag("acs:computenest:serviceInstanceId", "other")]
    assert ecs.describe_disks(m.DescribeDisksRequest(region_id=R, tag=both)).body.disks.disk == []
    assert ecs.describe_disks(m.DescribeDisksRequest(region_id=R, instance_id=iid, disk_type="system")).body.disks.disk == []
    assert len(ecs.describe_disks(m.DescribeDisksRequest(region_id=R, instance_id=iid, status="In_use")).body.disks.disk) == 2
    header = Path(s["Disks"][0]["Path"]).read_bytes()[:64]
    assert s["Disks"][0]["DiskId"].encode() in header
    status = ecs.describe_instance_status(m.DescribeInstanceStatusRequest(region_id=R, instance_id=[iid])).body
    assert status.total_count == 1 and status.instance_statuses.instance_status[0].status == "Running"


def test_describe_disks_pages_with_next_token_and_page_number(ecs, control):
    s = seed(control, disks=12, size="1MiB")
    iid = s["InstanceIds"][0]
    first = ecs.describe_disks(m.DescribeDisksRequest(region_id=R, instance_id=iid, max_results=3)).body
    assert len(first.disks.disk) == 10  # MaxResults below 10 counts as 10
    assert first.next_token
    second = ecs.describe_disks(m.DescribeDisksRequest(region_id=R, instance_id=iid, max_results=10,
                                                       next_token=first.next_token)).body
    assert len(second.disks.disk) == 2 and not second.next_token
    ids = [d.disk_id for d in first.disks.disk + second.disks.disk]
    assert sorted(ids) == sorted(d["DiskId"] for d in s["Disks"])
    page2 = ecs.describe_disks(m.DescribeDisksRequest(region_id=R, instance_id=iid, page_number=2, page_size=5)).body
    assert (page2.total_count, page2.page_number, len(page2.disks.disk)) == (12, 2, 5)
    too_many = json.dumps([f"d-{i}" for i in range(101)])
    err = refused(ecs.describe_disks, m.DescribeDisksRequest(region_id=R, disk_ids=too_many))
    assert (err.code, err.status_code) == ("InvalidDiskIds.Malformed", 403)  # DescribeDisks' error table
    bad = refused(ecs.describe_disks, m.DescribeDisksRequest(region_id=R, next_token="garbage"))
    assert bad.code == "InvalidParameter.NextToken"


def test_describe_instances_filters_and_pages(ecs, control):
    seeds = [seed(control, disks=0, TagKey="bench:group") for _ in range(3)]
    ids = [s["InstanceIds"][0] for s in seeds]
    one = ecs.describe_instances(m.DescribeInstancesRequest(region_id=R, tag=[m.DescribeInstancesRequestTag(
        key="bench:group", value=seeds[1]["ServiceInstanceId"])])).body.instances.instance
    assert [i.instance_id for i in one] == [ids[1]]
    page = ecs.describe_instances(m.DescribeInstancesRequest(region_id=R, instance_ids=json.dumps(ids),
                                                             max_results=10)).body
    assert sorted(i.instance_id for i in page.instances.instance) == sorted(ids) and not page.next_token
    assert refused(ecs.describe_instances, m.DescribeInstancesRequest()).code == "MissingParameter"


def test_list_tag_resources_rows_filters_and_paging(ecs, control):
    s = seed(control, disks=55, size="1MiB", Fill=False)
    si = s["ServiceInstanceId"]
    key = "acs:computenest:serviceInstanceId"
    rows, token = [], None
    while True:
        body = ecs.list_tag_resources(m.ListTagResourcesRequest(
            region_id=R, resource_type="disk", tag=[m.ListTagResourcesRequestTag(key=key, value=si)],
            next_token=token)).body
        rows += body.tag_resources.tag_resource
        token = body.next_token
        if not token:
            break
    assert len(rows) == 55
    assert {(r.resource_type, r.tag_key, r.tag_value) for r in rows} == {("disk", key, si)}
    inst = ecs.list_tag_resources(m.ListTagResourcesRequest(
        region_id=R, resource_type="instance", resource_id=s["InstanceIds"])).body.tag_resources.tag_resource
    assert [(r.resource_id, r.tag_key, r.tag_value) for r in inst] == [(s["InstanceIds"][0], key, si)]
    many = [f"d-{i}" for i in range(51)]
    err = refused(ecs.list_tag_resources, m.ListTagResourcesRequest(region_id=R, resource_type="disk", resource_id=many))
    assert (err.code, err.status_code) == ("NumberExceed.ResourceIds", 400)  # ListTagResources' error table
    err = refused(ecs.list_tag_resources, m.ListTagResourcesRequest(region_id=R))
    assert (err.code, err.status_code) == ("MissingParameter.ResourceType", 404)
    err = refused(ecs.list_tag_resources, m.ListTagResourcesRequest(region_id=R, resource_type="disk"))
    assert (err.code, err.status_code) == ("MissingParameter.Tags", 404)
    err = refused(ecs.list_tag_resources, m.ListTagResourcesRequest(region_id=R, resource_type="bucket",
                                                                    resource_id=["x"]))
    assert (err.code, err.status_code) == ("InvalidResourceType.NotFound", 404)
    tags = [m.ListTagResourcesRequestTag(key=f"k{n}", value="v") for n in range(21)]
    err = refused(ecs.list_tag_resources, m.ListTagResourcesRequest(region_id=R, resource_type="disk", tag=tags))
    assert (err.code, err.status_code) == ("NumberExceed.Tags", 400)
    tags = [m.DescribeDisksRequestTag(key=f"k{n}", value="v") for n in range(21)]
    err = refused(ecs.describe_disks, m.DescribeDisksRequest(region_id=R, tag=tags))
    assert (err.code, err.status_code) == ("InvalidTagCount", 400)


# ---------------------------------------------------------------- snapshots and rollback
def test_snapshot_then_reset_restores_the_image_byte_for_byte(ecs, control):
    s = seed(control, disks=1)
    iid, d = s["InstanceIds"][0], s["Disks"][0]
    sid = create_snapshot(ecs, d["DiskId"], snapshot_name="before-change", description="taken by the test",
                          tag=[m.CreateSnapshotRequestTag(key="backup:si", value=s["ServiceInstanceId"])])
    done = wait_snapshot(ecs, sid)
    assert (done.progress, done.available, done.source_disk_id, done.source_disk_size) == ("100%", True, d["DiskId"], "1")
    assert [(t.tag_key, t.tag_value) for t in done.tags.tag] == [("backup:si", s["ServiceInstanceId"])]
    original = Path(d["Path"]).read_bytes()
    scribble(d["Path"], 0, 8192)
    scribble(d["Path"], 5 * MIB + 12345, 70000)
    with open(d["Path"], "ab") as f:  # the disk even grows: the reset restores the size too
        f.write(b"tail")
    assert Path(d["Path"]).read_bytes() != original

    err = refused(ecs.reset_disk, m.ResetDiskRequest(disk_id=d["DiskId"], snapshot_id=sid))
    assert (err.code, err.status_code) == ("IncorrectInstanceStatus", 403)
    stop(ecs, iid)
    ecs.reset_disk(m.ResetDiskRequest(disk_id=d["DiskId"], snapshot_id=sid))
    wait_disk(ecs, d["DiskId"], "In_use")
    assert Path(d["Path"]).read_bytes() == original
    ecs.start_instances(m.StartInstancesRequest(region_id=R, instance_id=[iid]))
    wait_instance(ecs, iid, "Running")


def reused(cloud_server, sid: str) -> bool:
    """Whether the snapshot reused its predecessor's manifest without reading the image (internal record)."""
    rows = cloud_server.cloud.store.query("SELECT reused FROM ecs_manifests WHERE snapshot_id = ?", (sid,))
    return bool(rows[0][0])


def test_second_snapshot_stores_only_the_changed_block(ecs, control, state_dir, cloud_server):
    s = seed(control, disks=1)
    d = s["Disks"][0]
    time.sleep(0.15)  # let the fresh image's timestamps age past the change-detection guard
    before = block_files(state_dir)
    first = create_snapshot(ecs, d["DiskId"])
    wait_snapshot(ecs, first)
    after_first = block_files(state_dir)
    stored = after_first - before
    assert 1 <= len(stored) <= 8  # 8 MiB in 1 MiB blocks; the holes are not stored
    unchanged = create_snapshot(ecs, d["DiskId"])
    wait_snapshot(ecs, unchanged)
    assert block_files(state_dir) == after_first
    assert reused(cloud_server, unchanged) and not reused(cloud_server, first)
    scribble(d["Path"], 6 * MIB + 100, 1000)  # one block changes
    second = create_snapshot(ecs, d["DiskId"])
    wait_snapshot(ecs, second)
    assert len(block_files(state_dir) - after_first) == 1
    assert not reused(cloud_server, second)


def test_progress_moves_during_the_minimum_duration(ecs, control):
    s = seed(control, disks=1)
    control.faults(op_delay_ms=1500)
    sid = create_snapshot(ecs, s["Disks"][0]["DiskId"])
    seen = set()
    while True:
        cur = snap(ecs, sid)
        if cur.status != "progressing":
            break
        assert cur.progress.endswith("%") and cur.available is False and cur.remain_time >= 0
        seen.add(int(cur.progress[:-1]))
        time.sleep(0.05)
    assert cur.status == "accomplished" and cur.progress == "100%" and cur.available is True
    assert any(0 < p < 100 for p in seen), seen
    assert max(seen) < 100


def test_pace_ms_gives_each_disk_its_own_snapshot_duration(ecs, control):
    """Resources of mixed durations (the polling bench): a paced disk's snapshot lasts its pace, reporting progress
    and RemainTime meanwhile; an unpaced one is done at once."""
    s = seed(control, disks=2)
    slow, quick = (d["DiskId"] for d in s["Disks"])
    control.faults(pace_ms={slow: 1500})
    slow_sid, quick_sid = create_snapshot(ecs, slow), create_snapshot(ecs, quick)
    deadline = time.time() + 1.0
    while snap(ecs, quick_sid).status == "progressing" and time.time() < deadline:
        time.sleep(0.05)
    assert snap(ecs, quick_sid).status == "accomplished"
    paced = snap(ecs, slow_sid)
    assert paced.status == "progressing" and 0 < paced.remain_time <= 2 and int(paced.progress[:-1]) < 100
    while snap(ecs, slow_sid).status == "progressing":
        time.sleep(0.05)
    assert snap(ecs, slow_sid).status == "accomplished"


def test_one_snapshot_in_progress_per_disk(ecs, control):
    s = seed(control, disks=1)
    iid, did = s["InstanceIds"][0], s["Disks"][0]["DiskId"]
    stop(ecs, iid)
    good = create_snapshot(ecs, did)
    wait_snapshot(ecs, good)
    control.faults(op_delay_ms=1000)
    sid = create_snapshot(ecs, did)
    err = refused(ecs.create_snapshot, m.CreateSnapshotRequest(disk_id=did))
    assert (err.code, err.status_code) == ("IncorrectDiskStatus.CreatingSnapshot", 403)
    err = refused(ecs.reset_disk, m.ResetDiskRequest(disk_id=did, snapshot_id=good))
    assert (err.code, err.status_code) == ("IncorrectDiskStatus.CreatingSnapshot", 403)
    err = refused(ecs.reset_disk, m.ResetDiskRequest(disk_id=did, snapshot_id=sid))
    assert (err.code, err.status_code) == ("InvalidSnapshotId.NotReady", 403)  # ResetDisk's error table
    wait_snapshot(ecs, sid)
    create_snapshot(ecs, did)  # allowed again once the first one is done


def test_reset_refusals(ecs, control):
    s = seed(control, disks=2)
    iid = s["InstanceIds"][0]
    d1, d2 = (x["DiskId"] for x in s["Disks"])
    s1 = create_snapshot(ecs, d1)
    wait_snapshot(ecs, s1)
    stop(ecs, iid)
    err = refused(ecs.reset_disk, m.ResetDiskRequest(disk_id=d2, snapshot_id=s1))
    assert (err.code, err.status_code) == ("InvalidParameter.Mismatch", 403)  # ResetDisk's error table
    err = refused(ecs.reset_disk, m.ResetDiskRequest(disk_id="d-nope", snapshot_id=s1))
    assert (err.code, err.status_code) == ("InvalidDiskId.NotFound", 404)
    err = refused(ecs.reset_disk, m.ResetDiskRequest(disk_id=d1, snapshot_id="s-nope"))
    assert (err.code, err.status_code) == ("InvalidSnapshotId.NotFound", 404)
    assert refused(ecs.reset_disk, m.ResetDiskRequest(disk_id=d1)).code == "MissingParameter"
    eleven = [m.ResetDisksRequestDisk(disk_id=d1, snapshot_id=s1) for _ in range(11)]
    assert refused(ecs.reset_disks, m.ResetDisksRequest(region_id=R, disk=eleven)).code == "InvalidParameter"
    # ResetDisks is all or nothing: the wrong pairing of d2 refuses the call and d1 is not touched.
    pairs = [m.ResetDisksRequestDisk(disk_id=d1, snapshot_id=s1), m.ResetDisksRequestDisk(disk_id=d2, snapshot_id=s1)]
    assert refused(ecs.reset_disks, m.ResetDisksRequest(region_id=R, disk=pairs)).code == "InvalidParameter.Mismatch"
    assert disk(ecs, d1).status == "In_use"
    dry = refused(ecs.reset_disk, m.ResetDiskRequest(disk_id=d1, snapshot_id=s1, dry_run=True))
    assert dry.code == "DryRunOperation"


def test_unknown_ids_and_malformed_requests(ecs, control):
    err = refused(ecs.create_snapshot, m.CreateSnapshotRequest())
    assert (err.code, err.status_code) == ("MissingParameter", 400)
    err = refused(ecs.create_snapshot, m.CreateSnapshotRequest(disk_id="d-nope"))
    assert (err.code, err.status_code) == ("InvalidDiskId.NotFound", 404)
    err = refused(ecs.stop_instance, m.StopInstanceRequest(instance_id="i-nope"))
    assert (err.code, err.status_code) == ("InvalidInstanceId.NotFound", 404)
    ids = json.dumps([f"s-{i}" for i in range(101)])
    err = refused(ecs.describe_snapshots, m.DescribeSnapshotsRequest(region_id=R, snapshot_ids=ids))
    assert (err.code, err.status_code) == ("InvalidSnapshotIds.Malformed", 403)
    err = refused(ecs.describe_snapshot_groups, m.DescribeSnapshotGroupsRequest(
        region_id=R, snapshot_group_id=[f"ssg-{i}" for i in range(11)]))
    assert err.code == "InvalidParameter"
    err = refused(ecs.delete_snapshot_group, m.DeleteSnapshotGroupRequest(region_id=R, snapshot_group_id="ssg-nope"))
    assert (err.code, err.status_code) == ("InvalidSnapshotGroupId.NotFound", 404)
    ecs.delete_snapshot(m.DeleteSnapshotRequest(snapshot_id="s-nope"))  # documented: ignored


def test_names_descriptions_and_tags_are_validated(ecs, control):
    did = seed(control, disks=1)["Disks"][0]["DiskId"]
    for name in ("x", "1abc", "auto-snap", "http://x", "bad name!"):
        err = refused(ecs.create_snapshot, m.CreateSnapshotRequest(disk_id=did, snapshot_name=name))
        assert err.code == "InvalidSnapshotName.Malformed", name
    err = refused(ecs.create_snapshot, m.CreateSnapshotRequest(disk_id=did, description="x"))
    assert (err.code, err.status_code) == ("InvalidDescription.Malformed", 404)  # as the error table gives it
    err = refused(ecs.create_snapshot_group, m.CreateSnapshotGroupRequest(region_id=R, disk_id=[did], name="auto-g"))
    assert (err.code, err.status_code) == ("InvalidSnapshotName.Malformed", 400)  # CreateSnapshotGroup's table
    for key in ("acs:computenest:serviceInstanceId", "aliyun-team", "k" * 129):
        err = refused(ecs.create_snapshot, m.CreateSnapshotRequest(
            disk_id=did, tag=[m.CreateSnapshotRequestTag(key=key, value="v")]))
        assert err.code == "InvalidTagKey.Malformed", key
    err = refused(ecs.create_snapshot_group, m.CreateSnapshotGroupRequest(
        region_id=R, disk_id=[did], tag=[m.CreateSnapshotGroupRequestTag(key="acs:x", value="v")]))
    assert err.code == "InvalidTagKey.Malformed"
    assert ecs.describe_snapshots(m.DescribeSnapshotsRequest(region_id=R, disk_id=did)).body.snapshots.snapshot == []


def test_client_token_makes_create_calls_idempotent(ecs, control):
    s = seed(control, disks=2)
    d1, d2 = (x["DiskId"] for x in s["Disks"])
    token = uuid.uuid4().hex
    a = create_snapshot(ecs, d1, client_token=token, snapshot_name="once")
    b = create_snapshot(ecs, d1, client_token=token, snapshot_name="once")
    assert a == b
    assert len(ecs.describe_snapshots(m.DescribeSnapshotsRequest(region_id=R, disk_id=d1)).body.snapshots.snapshot) == 1
    err = refused(ecs.create_snapshot, m.CreateSnapshotRequest(disk_id=d2, client_token=token))
    assert err.code == "IdempotentParameterMismatch"
    wait_snapshot(ecs, a)
    gtoken = uuid.uuid4().hex
    req = m.CreateSnapshotGroupRequest(region_id=R, instance_id=s["InstanceIds"][0], client_token=gtoken)
    g1 = ecs.create_snapshot_group(req).body.snapshot_group_id
    g2 = ecs.create_snapshot_group(req).body.snapshot_group_id
    assert g1 == g2
    groups = ecs.describe_snapshot_groups(m.DescribeSnapshotGroupsRequest(
        region_id=R, instance_id=s["InstanceIds"][0])).body.snapshot_groups.snapshot_group
    assert [g.snapshot_group_id for g in groups] == [g1]
    err = refused(ecs.create_snapshot_group, m.CreateSnapshotGroupRequest(
        region_id=R, instance_id=s["InstanceIds"][0], client_token=gtoken, name="other"))
    assert err.code == "IdempotentParameterMismatch"


def test_describe_snapshots_filters_and_pages(ecs, control):
    s = seed(control, disks=2)
    d1, d2 = (x["DiskId"] for x in s["Disks"])
    mine = [m.CreateSnapshotRequestTag(key="backup:run", value=s["ServiceInstanceId"])]
    ids = []
    for _ in range(3):
        ids.append(create_snapshot(ecs, d1, tag=mine))
        wait_snapshot(ecs, ids[-1])
    other = create_snapshot(ecs, d2)
    wait_snapshot(ecs, other)
    got, token = [], None
    while True:
        body = ecs.describe_snapshots(m.DescribeSnapshotsRequest(region_id=R, disk_id=d1, max_results=2,
                                                                 next_token=token)).body
        assert len(body.snapshots.snapshot) <= 2
        got += [x.snapshot_id for x in body.snapshots.snapshot]
        token = body.next_token
        if not token:
            break
    assert got == ids
    by_tag = ecs.describe_snapshots(m.DescribeSnapshotsRequest(region_id=R, tag=[m.DescribeSnapshotsRequestTag(
        key="backup:run", value=s["ServiceInstanceId"])])).body.snapshots.snapshot
    assert [x.snapshot_id for x in by_tag] == ids
    by_instance = ecs.describe_snapshots(m.DescribeSnapshotsRequest(
        region_id=R, instance_id=s["InstanceIds"][0], max_results=100)).body.snapshots.snapshot
    assert {x.snapshot_id for x in by_instance} == {*ids, other}
    assert ecs.describe_snapshots(m.DescribeSnapshotsRequest(
        region_id=R, disk_id=d1, status="failed")).body.snapshots.snapshot == []


def test_delete_snapshot_cancels_progress_and_collects_blocks(ecs, control, state_dir):
    s = seed(control, disks=1)
    did = s["Disks"][0]["DiskId"]
    control.faults(stuck=[did])
    stuck = create_snapshot(ecs, did)
    time.sleep(0.2)
    assert snap(ecs, stuck).status == "progressing"
    ecs.delete_snapshot(m.DeleteSnapshotRequest(snapshot_id=stuck))
    assert ecs.describe_snapshots(m.DescribeSnapshotsRequest(
        region_id=R, snapshot_ids=json.dumps([stuck]))).body.snapshots.snapshot == []
    control.clear_faults()
    before = block_files(state_dir)
    sid = create_snapshot(ecs, did)  # the disk is free again
    wait_snapshot(ecs, sid)
    mine = block_files(state_dir) - before
    ecs.delete_snapshot(m.DeleteSnapshotRequest(snapshot_id=sid))
    deadline = time.monotonic() + 5
    while mine & block_files(state_dir):
        assert time.monotonic() < deadline, "unreferenced blocks were not collected"
        time.sleep(0.02)


# ---------------------------------------------------------------- snapshot groups
def test_snapshot_group_snapshots_every_disk_and_resets_them(ecs, control, state_dir):
    s = seed(control, disks=3)
    iid = s["InstanceIds"][0]
    paths = {x["DiskId"]: x["Path"] for x in s["Disks"]}
    skipped = s["Disks"][2]["DiskId"]
    control.faults(op_delay_ms=400)
    gid = ecs.create_snapshot_group(m.CreateSnapshotGroupRequest(
        region_id=R, instance_id=iid, exclude_disk_id=[skipped], name="nightly", description="two disks",
        tag=[m.CreateSnapshotGroupRequestTag(key="backup:si", value=s["ServiceInstanceId"])])).body.snapshot_group_id
    req = m.DescribeSnapshotGroupsRequest(region_id=R, snapshot_group_id=[gid])
    assert ecs.describe_snapshot_groups(req).body.snapshot_groups.snapshot_group[0].status == "progressing"
    deadline = time.monotonic() + 10
    while (g := ecs.describe_snapshot_groups(req).body.snapshot_groups.snapshot_group[0]).status == "progressing":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    control.clear_faults()
    assert (g.status, g.name, g.instance_id) == ("accomplished", "nightly", iid)
    assert [(t.key, t.value) for t in g.tags.tag] == [("backup:si", s["ServiceInstanceId"])]
    members = {x.source_disk_id: x for x in g.snapshots.snapshot}
    assert set(members) == set(paths) - {skipped}
    assert all(x.progress == "100%" and x.available for x in members.values())
    done = ecs.describe_snapshot_groups(m.DescribeSnapshotGroupsRequest(
        region_id=R, instance_id=iid, status=["accomplished"])).body.snapshot_groups.snapshot_group
    assert [x.snapshot_group_id for x in done] == [gid]

    originals = {d: Path(paths[d]).read_bytes() for d in members}
    for d in members:
        scribble(paths[d], 3 * MIB, 5000)
    stop(ecs, iid)
    out = ecs.reset_disks(m.ResetDisksRequest(region_id=R, disk=[
        m.ResetDisksRequestDisk(disk_id=d, snapshot_id=x.snapshot_id) for d, x in members.items()])).body
    assert [p.operation_status for p in out.operation_progress_set.operation_progress] == ["Success", "Success"]
    for d in members:
        wait_disk(ecs, d, "In_use")
        assert Path(paths[d]).read_bytes() == originals[d]
    removed = ecs.delete_snapshot_group(m.DeleteSnapshotGroupRequest(region_id=R, snapshot_group_id=gid)).body
    assert len(removed.operation_progress_set.operation_progress) == 2
    assert ecs.describe_snapshots(m.DescribeSnapshotsRequest(
        region_id=R, instance_id=iid)).body.snapshots.snapshot == []


def test_snapshot_group_rules(ecs, control, cloud_server):
    s = seed(control, disks=17, size="1MiB", Fill=False)
    iid = s["InstanceIds"][0]
    assert refused(ecs.create_snapshot_group, m.CreateSnapshotGroupRequest(instance_id=iid)).code == "MissingParameter"
    err = refused(ecs.create_snapshot_group, m.CreateSnapshotGroupRequest(region_id=R, instance_id=iid))
    assert (err.code, err.status_code) == ("InvalidParameter.DiskCount", 400)
    other = seed(control, disks=1)
    err = refused(ecs.create_snapshot_group, m.CreateSnapshotGroupRequest(
        region_id=R, instance_id=iid, disk_id=[other["Disks"][0]["DiskId"]]))
    assert err.code == "InvalidParameter"
    legacy = cloud_server.cloud.ecs.create_disk(iid, MIB, tags={}, fill=False, category="cloud_efficiency")
    err = refused(ecs.create_snapshot_group, m.CreateSnapshotGroupRequest(region_id=R, disk_id=[legacy["DiskId"]]))
    assert (err.code, err.status_code) == ("InvalidDiskCategory.NotSupported", 403)
    # a failed member fails the group
    two = seed(control, disks=2)
    control.faults(fail=[two["Disks"][1]["DiskId"]])
    gid = ecs.create_snapshot_group(m.CreateSnapshotGroupRequest(
        region_id=R, instance_id=two["InstanceIds"][0])).body.snapshot_group_id
    req = m.DescribeSnapshotGroupsRequest(region_id=R, snapshot_group_id=[gid])
    deadline = time.monotonic() + 10
    while (g := ecs.describe_snapshot_groups(req).body.snapshot_groups.snapshot_group[0]).status == "progressing":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert g.status == "failed"
    # the healthy member may still be copying when the group is declared failed: it completes on its own
    healthy = two["Disks"][0]["DiskId"]
    while not {x.source_disk_id: x.available for x in g.snapshots.snapshot}.get(healthy):
        assert time.monotonic() < deadline + 20
        time.sleep(0.05)
        g = ecs.describe_snapshot_groups(req).body.snapshot_groups.snapshot_group[0]
    assert g.status == "failed"
    assert {x.source_disk_id: x.available for x in g.snapshots.snapshot} == {
        healthy: True, two["Disks"][1]["DiskId"]: False}


# ---------------------------------------------------------------- instances
def test_stop_and_start_follow_the_instance_state_machine(ecs, control):
    a, b = seed(control, disks=0), seed(control, disks=0)
    ia, ib = a["InstanceIds"][0], b["InstanceIds"][0]
    control.faults(op_delay_ms=300)
    ecs.stop_instance(m.StopInstanceRequest(instance_id=ia, stopped_mode="StopCharging"))
    assert instance_status(ecs, ia) == "Stopping"
    err = refused(ecs.stop_instance, m.StopInstanceRequest(instance_id=ia))
    assert (err.code, err.status_code) == ("IncorrectInstanceStatus", 403)
    wait_instance(ecs, ia, "Stopped")
    inst = ecs.describe_instances(m.DescribeInstancesRequest(region_id=R, instance_ids=json.dumps([ia]))).body
    assert inst.instances.instance[0].stopped_mode == "StopCharging"
    err = refused(ecs.start_instances, m.StartInstancesRequest(region_id=R, instance_id=[ia, ib]))
    assert (err.code, err.status_code) == ("IncorrectInstanceStatus", 403)  # AllTogether: nothing started
    assert instance_status(ecs, ia) == "Stopped"
    rows = ecs.start_instances(m.StartInstancesRequest(region_id=R, instance_id=[ia, ib],
                                                       batch_optimization="SuccessFirst")).body
    by_id = {r.instance_id: r for r in rows.instance_responses.instance_response}
    assert (by_id[ia].code, by_id[ia].previous_status, by_id[ia].current_status) == ("200", "Stopped", "Starting")
    assert by_id[ib].code == "IncorrectInstanceStatus"
    assert instance_status(ecs, ia) == "Starting"
    wait_instance(ecs, ia, "Running")
    err = refused(ecs.start_instance, m.StartInstanceRequest(instance_id=ia))
    assert err.code == "IncorrectInstanceStatus"
    rows = ecs.stop_instances(m.StopInstancesRequest(region_id=R, instance_id=[ia, ib],
                                                     stopped_mode="KeepCharging")).body
    assert [(r.code, r.previous_status, r.current_status) for r in rows.instance_responses.instance_response] == [
        ("200", "Running", "Stopping")] * 2
    wait_instance(ecs, ia, "Stopped")
    wait_instance(ecs, ib, "Stopped")
    ecs.start_instance(m.StartInstanceRequest(instance_id=ib))
    wait_instance(ecs, ib, "Running")
    dry = refused(ecs.stop_instances, m.StopInstancesRequest(region_id=R, instance_id=[ib], dry_run=True))
    assert dry.code == "DRYRUN.SUCCESS" and instance_status(ecs, ib) == "Running"


# ---------------------------------------------------------------- faults
def test_fault_fail_ends_the_snapshot_failed(ecs, control, state_dir):
    did = seed(control, disks=1)["Disks"][0]["DiskId"]
    control.faults(fail=[did])
    before = block_files(state_dir)
    sid = create_snapshot(ecs, did)
    failed = wait_snapshot(ecs, sid, "failed")
    assert failed.available is False and failed.progress != "100%"
    deadline = time.monotonic() + 5
    while block_files(state_dir) - before:  # the failed snapshot's blocks are collected
        assert time.monotonic() < deadline, "blocks of a failed snapshot were kept"
        time.sleep(0.02)
    assert [x.snapshot_id for x in ecs.describe_snapshots(m.DescribeSnapshotsRequest(
        region_id=R, disk_id=did, status="failed")).body.snapshots.snapshot] == [sid]


def test_fault_stuck_keeps_progressing_until_cleared(ecs, control):
    did = seed(control, disks=1)["Disks"][0]["DiskId"]
    control.faults(stuck=[did])
    sid = create_snapshot(ecs, did)
    time.sleep(0.3)
    cur = snap(ecs, sid)
    assert cur.status == "progressing" and int(cur.progress[:-1]) < 100 and not cur.available
    control.clear_faults()
    wait_snapshot(ecs, sid)


def test_create_snapshot_while_the_instance_is_stopping_is_refused_with_400(ecs, control):
    s = seed(control, disks=1)
    did, iid = s["Disks"][0]["DiskId"], s["InstanceIds"][0]
    control.faults(stuck=[iid])
    ecs.stop_instances(m.StopInstancesRequest(region_id=R, instance_id=[iid]))
    assert instance_status(ecs, iid) == "Stopping"
    err = refused(ecs.create_snapshot, m.CreateSnapshotRequest(disk_id=did))
    assert (err.code, err.status_code) == ("IncorrectInstanceStatus", 400)  # CreateSnapshot's error table
    err = refused(ecs.create_snapshot_group, m.CreateSnapshotGroupRequest(region_id=R, instance_id=iid))
    assert (err.code, err.status_code) == ("IncorrectInstanceStatus", 400)  # CreateSnapshotGroup's error table
    control.clear_faults()
    wait_instance(ecs, iid, "Stopped")


def test_fault_reject_refuses_the_call(ecs, control):
    s = seed(control, disks=1)
    did, iid = s["Disks"][0]["DiskId"], s["InstanceIds"][0]
    control.faults(reject={did: "OperationDenied.NoStock", iid: "InstanceLockedForSecurity"})
    err = refused(ecs.create_snapshot, m.CreateSnapshotRequest(disk_id=did))
    assert (err.code, err.status_code) == ("OperationDenied.NoStock", 403)
    err = refused(ecs.stop_instances, m.StopInstancesRequest(region_id=R, instance_id=[iid]))
    assert err.code == "InstanceLockedForSecurity"
    assert ecs.describe_snapshots(m.DescribeSnapshotsRequest(region_id=R, disk_id=did)).body.snapshots.snapshot == []


def test_fault_refuse_stop_leaves_the_instance_running(ecs, control):
    s = seed(control, disks=1)
    iid = s["InstanceIds"][0]
    control.faults(refuse_stop=[iid], op_delay_ms=200)
    rows = ecs.stop_instances(m.StopInstancesRequest(region_id=R, instance_id=[iid])).body
    assert rows.instance_responses.instance_response[0].code == "200"
    seen = set()
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        seen.add(instance_status(ecs, iid))
        time.sleep(0.02)
    assert "Stopped" not in seen and instance_status(ecs, iid) == "Running"


def test_fault_fail_on_reset_keeps_the_data(ecs, control):
    s = seed(control, disks=1)
    iid, d = s["InstanceIds"][0], s["Disks"][0]
    sid = create_snapshot(ecs, d["DiskId"])
    wait_snapshot(ecs, sid)
    changed = scribble(d["Path"], 0, 4096)
    stop(ecs, iid)
    control.faults(fail=[d["DiskId"]], op_delay_ms=200)
    ecs.reset_disk(m.ResetDiskRequest(disk_id=d["DiskId"], snapshot_id=sid))
    assert disk(ecs, d["DiskId"]).status == "ReIniting"
    err = refused(ecs.start_instance, m.StartInstanceRequest(instance_id=iid))
    assert err.code == "IncorrectDiskStatus"
    wait_disk(ecs, d["DiskId"], "In_use")
    assert Path(d["Path"]).read_bytes()[:4096] == changed


# ---------------------------------------------------------------- disks made from a snapshot (drills)
def test_a_disk_made_from_a_snapshot_holds_its_bytes_and_is_deleted_when_available(ecs, control, cloud_server):
    s = seed(control)
    source = s["Disks"][0]
    at_snapshot = Path(source["Path"]).read_bytes()
    sid = create_snapshot(ecs, source["DiskId"])
    wait_snapshot(ecs, sid)
    with open(source["Path"], "r+b") as f:                      # the source moves on after its snapshot
        f.write(os.urandom(4096))
    zone = disk(ecs, source["DiskId"]).zone_id
    err = refused(ecs.create_disk, m.CreateDiskRequest(region_id=R, snapshot_id=sid))
    assert (err.code, err.status_code) == ("MissingParameter", 400)        # ZoneId, without an InstanceId
    made = ecs.create_disk(m.CreateDiskRequest(
        region_id=R, zone_id=zone, snapshot_id=sid, disk_category="cloud_essd", disk_name="drill-test",
        client_token="ct-" + sid, tag=[m.CreateDiskRequestTag(key="nestbackup:drillId", value="drill-x")])).body.disk_id
    again = ecs.create_disk(m.CreateDiskRequest(
        region_id=R, zone_id=zone, snapshot_id=sid, disk_category="cloud_essd", disk_name="drill-test",
        client_token="ct-" + sid, tag=[m.CreateDiskRequestTag(key="nestbackup:drillId", value="drill-x")])).body.disk_id
    assert again == made
    wait_disk(ecs, made, "Available")
    scratch = disk(ecs, made)
    assert scratch.source_snapshot_id == sid and not scratch.instance_id
    stored = cloud_server.cloud.store.get("ecs.disk", made)
    assert Path(stored["Path"]).read_bytes()[:len(at_snapshot)] == at_snapshot      # the snapshot's bytes
    err = refused(ecs.delete_disk, m.DeleteDiskRequest(disk_id=source["DiskId"]))   # attached: refused
    assert (err.code, err.status_code) == ("IncorrectDiskStatus", 403)
    ecs.delete_disk(m.DeleteDiskRequest(disk_id=made))
    assert ecs.describe_disks(m.DescribeDisksRequest(region_id=R, disk_ids=json.dumps([made]))).body.disks.disk == []
    assert not Path(stored["Path"]).exists()
    ecs.delete_disk(m.DeleteDiskRequest(disk_id=made))          # documented: an id that does not exist is ignored
