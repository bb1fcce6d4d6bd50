"""The product's ECS adapter: the API reference's example responses, every page read, tag queries past 1,000.

The example bodies are the JSON samples of the ECS API reference (AlibabaCloudDocs/ecs, intl.en-US/API Reference:
Snapshots/DescribeSnapshots.md, Snapshots/DescribeSnapshotGroups.md, Disk/DescribeDisks.md), served to the adapter's
RpcClient by a small HTTP server on port 0.
"""
from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from nestbackup.adapters.ecs import VERSION, Ecs
from nestbackup.adapters.openapi import Credentials, RpcClient
from nestbackup.errors import CloudError
from nestbackup.model.status import ItemStatus, snapshot_item_status

TOKEN = "caeba0bbb2be03f84eb48b699f0a4883"

# DescribeSnapshots.md sample response: it carries a NextToken although TotalCount is 1.
SNAPSHOTS_PAGE_1 = {
    "TotalCount": 1, "RequestId": "473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83E", "PageSize": 10, "NextToken": TOKEN,
    "PageNumber": 1,
    "Snapshots": {"Snapshot": [{
        "Status": "accomplished", "InstantAccess": False, "Progress": "100%", "Usage": "image",
        "Description": "testDescription", "Category": "standard", "KMSKeyId": "0e478b7a-4262-4802-b8cb-00d3fb40****",
        "ProductCode": "jxsc000****", "Encrypted": False, "SnapshotName": "testSnapshotName",
        "SourceDiskId": "d-bp67acfmxazb4ph****", "SourceStorageType": "disk", "SnapshotId": "s-bp67acfmxazb4p****",
        "SnapshotSN": "64472-116742336-61976****", "SourceDiskSize": 40, "CreationTime": "2020-08-20T14:52:28Z",
        "LastModifiedTime": "2020-08-25T14:18:09Z", "SnapshotType": "all", "SourceDiskType": "system",
        "Tags": {"Tag": []}}]},
}
# The page the token leads to (made up in the documented shape: a snapshot still being created).
SNAPSHOTS_PAGE_2 = {
    "RequestId": "473469C7-AA6F-4DC5-B3DB-A3DC0DE3C83F", "NextToken": "",
    "Snapshots": {"Snapshot": [{"Status": "progressing", "Progress": "40%", "SnapshotId": "s-second****",
                                "SourceDiskId": "d-second****", "Available": False}]},
}
# DescribeSnapshotGroups.md sample response: member snapshots carry no Status.
SNAPSHOT_GROUPS = {
    "RequestId": "3F9A4CC4-362F-469A-B9EF-B3204EF8AA3A", "NextToken": "",
    "SnapshotGroups": {"SnapshotGroup": [{
        "Status": "accomplished", "Description": "This is description.", "InstanceId": "i-j6ca469urv8ei629****",
        "CreationTime": "2021-03-23T10:58:48Z", "SnapshotGroupId": "ssg-j6ciyh3k52qp7ovm****",
        "Snapshots": {"Snapshot": [
            {"SnapshotId": "s-j6cbzmrlbf09w72q****", "InstantAccess": True, "Progress": "100%",
             "SourceDiskType": "system", "InstantAccessRetentionDays": 3, "SourceDiskId": "d-j6c3ogynmvpi6wy7****"},
            {"SnapshotId": "s-j6cdofbycydvg7ey****", "InstantAccess": True, "Progress": "100%",
             "SourceDiskType": "data", "InstantAccessRetentionDays": 3, "SourceDiskId": "d-j6cf7l0ewidb78lq****"}]},
        "Name": "testName"}]},
}
# DescribeDisks.md sample response (PageNumber paging; no NextToken field at all).
DISKS = {
    "PageNumber": 1, "TotalCount": 76, "PageSize": 1, "RequestId": "C74847CB-9B69-4360-9969-3595F2B6B9C1",
    "Disks": {"Disk": [{
        "DiskChargeType": "PostPaid", "ImageId": "centos_7_06_64_20G_alibase_20190711.vhd", "Device": "/dev/xvda",
        "DetachedTime": "", "Type": "system", "InstanceId": "i-bp1j4i2jdf3owlhe****", "Encrypted": False,
        "ZoneId": "cn-hangzhou-f", "EnableAutoSnapshot": True, "AttachedTime": "2019-11-11T08:35:32Z",
        "PerformanceLevel": "PL2", "SerialNumber": "bp18um4r4f2fve2****", "SourceSnapshotId": "s-bp67acfmxazb4p****",
        "DeleteAutoSnapshot": False, "KMSKeyId": "", "Size": 40, "Description": "",
        "DedicatedBlockStorageClusterId": "", "BdfId": "", "ProductCode": "", "Portable": False,
        "EnableAutomatedSnapshotPolicy": False, "ResourceGroupId": "", "DiskName": "", "StorageSetId": "",
        "AutoSnapshotPolicyId": "", "CreationTime": "2019-11-11T08:35:29Z", "MountInstances": {"MountInstance": []},
        "Status": "In_use", "Tags": {"Tag": [{"TagValue": "TestValue", "TagKey": "TestKey"}]},
        "Category": "cloud_efficiency", "RegionId": "cn-hangzhou", "DeleteWithInstance": True,
        "OperationLocks": {"OperationLock": []}, "ExpiredTime": "2999-09-08T16:00Z",
        "DiskId": "d-bp18um4r4f2fve24****"}]},
}


# DeleteSnapshotGroup.md sample response (doc-detail/210942): one OperationProgress per member snapshot.
DELETE_GROUP = {"RequestId": "6EDE885A-FDC1-4FAE-BC44-6EACAEA6CC6E", "OperationProgressSet": {"OperationProgress": [{
    "ErrorMsg": "testErrorMsg", "ErrorCode": "400", "OperationStatus": "Success",
    "RelatedItemSet": {"RelatedItem": [{"Name": "SnapshotId", "Value": "s-j6c9lpuyxo2uxxnx****"}]}}]}}

ANSWERS: dict[str, dict] = {}          # a test's own answer for an action, instead of the reference's sample


class _Examples(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self._answer()

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self):
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        self.server.calls.append(query)
        action = self.headers.get("x-acs-action") or query.get("Action")  # ACS3 signing sends it as a header
        if action == "DescribeSnapshots":
            body = SNAPSHOTS_PAGE_2 if query.get("NextToken") == TOKEN else SNAPSHOTS_PAGE_1
        elif action in ANSWERS:
            body = ANSWERS[action]
        else:
            body = {"DescribeSnapshotGroups": SNAPSHOT_GROUPS, "DescribeDisks": DISKS,
                    "DeleteSnapshotGroup": DELETE_GROUP}[action]
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def examples():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Examples)
    server.calls = []
    ANSWERS.clear()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    yield Ecs(RpcClient(endpoint, VERSION, Credentials("ak", "secret"), "cn-hangzhou")), server.calls
    server.shutdown()
    server.server_close()


def test_a_group_delete_that_kept_a_member_snapshot_is_a_failure(examples):
    """DeleteSnapshotGroup answers 200 with one OperationProgress per member: a member the cloud kept (one a custom
    image was made from) must not read as deleted."""
    ecs, calls = examples
    ecs.delete_snapshot_group("ssg-j6c9lpuyxo2uxxny****")         # the reference's sample: every member Success
    kept = json.loads(json.dumps(DELETE_GROUP))
    kept["OperationProgressSet"]["OperationProgress"][0].update(OperationStatus="Failed",
                                                                ErrorCode="SnapshotCreatedImage")
    ANSWERS["DeleteSnapshotGroup"] = kept
    with pytest.raises(CloudError) as err:
        ecs.delete_snapshot_group("ssg-j6c9lpuyxo2uxxny****")
    assert err.value.code == "SnapshotCreatedImage" and "s-j6c9lpuyxo2uxxnx****" in err.value.message


def test_describe_snapshots_reads_the_example_response_and_follows_its_next_token(examples):
    ecs, calls = examples
    found = ecs.describe_snapshots(["s-bp67acfmxazb4p****", "s-second****"])
    first, second = found["s-bp67acfmxazb4p****"], found["s-second****"]
    assert (first.status, first.progress, first.disk_id) == ("accomplished", 100, "d-bp67acfmxazb4ph****")
    assert (second.status, second.progress, second.available) == ("progressing", 40, False)
    assert [c.get("NextToken") for c in calls] == [None, TOKEN]
    assert calls[0]["MaxResults"] == "100"


def test_more_than_100_snapshot_ids_go_100_per_call_and_each_batch_is_read_to_its_last_page(examples):
    ecs, calls = examples
    ids = [f"s-{n:03}" for n in range(150)]
    ecs.describe_snapshots(ids)
    sent = [(json.loads(c["SnapshotIds"]), c.get("NextToken")) for c in calls]
    assert [(len(batch), token) for batch, token in sent] == [(100, None), (100, TOKEN), (50, None), (50, TOKEN)]
    assert [i for batch, token in sent if token is None for i in batch] == ids


def test_describe_snapshot_groups_reads_the_example_response(examples):
    ecs, calls = examples
    group = ecs.describe_snapshot_groups(["ssg-j6ciyh3k52qp7ovm****"])["ssg-j6ciyh3k52qp7ovm****"]
    assert group.status == "accomplished"
    assert {(s.disk_id, s.progress) for s in group.snapshots} == {("d-j6c3ogynmvpi6wy7****", 100),
                                                                  ("d-j6cf7l0ewidb78lq****", 100)}
    # Members have no Status: the backup follows the group's (operations/backup.py `_describe`).
    assert all(s.status == "" for s in group.snapshots)
    assert snapshot_item_status(group.snapshots[0].status or group.status) is ItemStatus.SUCCEEDED
    assert calls[0]["SnapshotGroupId.1"] == "ssg-j6ciyh3k52qp7ovm****"


def test_describe_disks_reads_the_example_response(examples):
    ecs, _ = examples
    disk = ecs.describe_disks(["d-bp18um4r4f2fve24****"])["d-bp18um4r4f2fve24****"]
    assert (disk.status, disk.category, disk.size_gib, disk.disk_type, disk.instance_id, disk.multi_attach) == (
        "In_use", "cloud_efficiency", 40, "system", "i-bp1j4i2jdf3owlhe****", False)


def test_invocation_results_reads_each_instances_run_and_asks_for_plain_text(examples):
    """The response shape of the SDK model (`_describe_invocation_results_response_body.py`): runs under
    Invocation.InvocationResults.InvocationResult, the page token under Invocation."""
    ecs, calls = examples
    ANSWERS["DescribeInvocationResults"] = {"RequestId": "r-1", "Invocation": {
        "NextToken": "", "TotalCount": 2, "InvocationResults": {"InvocationResult": [
            {"InstanceId": "i-bp1i7gg30r52z2em****", "InvokeId": "t-hz0jdfwd9f****", "InvocationStatus": "Success",
             "InvokeRecordStatus": "Finished", "ExitCode": 0, "Output": "frozen", "ErrorCode": "", "ErrorInfo": "",
             "StartTime": "2019-12-20T06:15:55Z", "FinishedTime": "2019-12-20T06:15:56Z", "Dropped": 0},
            {"InstanceId": "i-bp1i7gg30r52z2em0002", "InvokeId": "t-hz0jdfwd9f****", "InvocationStatus": "Timeout",
             "InvokeRecordStatus": "Finished", "ExitCode": None, "Output": "", "ErrorCode": "ExecutionTimeout",
             "StartTime": "2019-12-20T06:15:55Z", "FinishedTime": "2019-12-20T06:16:55Z"}]}}}
    runs = ecs.invocation_results("t-hz0jdfwd9f****")
    first, second = runs["i-bp1i7gg30r52z2em****"], runs["i-bp1i7gg30r52z2em0002"]
    assert (first.succeeded, first.finished, first.exit_code, first.output) == (True, True, 0, "frozen")
    assert (second.timed_out, second.exit_code, second.error_code) == (True, None, "ExecutionTimeout")
    assert calls[-1]["InvokeId"] == "t-hz0jdfwd9f****" and calls[-1]["ContentEncoding"] == "PlainText"


# ---------------------------------------------------------------- on the local cloud
@pytest.fixture(scope="module")
def local_ecs(endpoint):
    return Ecs(RpcClient(endpoint, VERSION, Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
                         "cn-hangzhou"))


def test_a_service_instance_with_more_than_1000_disks_is_found_whole(local_ecs, endpoint):
    from tests.support import Control
    si = f"si-{uuid.uuid4().hex[:12]}"
    seeded = Control(endpoint).seed(ServiceInstanceId=si, Disks=1001, DiskSize="1MiB", Fill=False)
    disks = local_ecs.disks_tagged("acs:computenest:serviceInstanceId", si)
    assert sorted(d.disk_id for d in disks) == sorted(d["DiskId"] for d in seeded["Disks"])
    assert {d.status for d in disks} == {"In_use"}
    instances = local_ecs.instances_tagged("acs:computenest:serviceInstanceId", si)
    assert [i.instance_id for i in instances] == seeded["InstanceIds"]
    assert local_ecs.disks_tagged("acs:computenest:serviceInstanceId", "si-nobody") == []


def test_snapshots_tagged_lists_only_the_asked_key_and_groups_are_read_past_ten(local_ecs, endpoint):
    from tests.support import Control
    control = Control(endpoint)
    key = f"test:owner{uuid.uuid4().hex[:6]}"
    made = []
    for n in range(11):  # 11 groups: two DescribeSnapshotGroups batches of SnapshotGroupId.N (at most 10)
        s = control.seed(ServiceInstanceId=f"si-{uuid.uuid4().hex[:12]}", Disks=2 if n == 0 else 1,
                         DiskSize="1MiB", Fill=False)
        did, iid = s["Disks"][0]["DiskId"], s["InstanceIds"][0]
        if n == 0:      # on its own disk: a disk takes no group while its snapshot is still being created
            sid = local_ecs.create_snapshot(s["Disks"][1]["DiskId"], name="tagged", description="a tagged snapshot",
                                            client_token=uuid.uuid4().hex, tags={key: "backup-1", "other": "x"})
        made.append(local_ecs.create_snapshot_group(iid, [did], name="grp", description="a group",
                                                    client_token=uuid.uuid4().hex, tags={key: f"backup-{n}"}))
    assert local_ecs.snapshots_tagged(key) == [(sid, "backup-1")]
    groups = local_ecs.describe_snapshot_groups(made)
    assert sorted(groups) == sorted(made)
    assert sorted(local_ecs.groups_tagged(key)) == sorted((g, f"backup-{n}") for n, g in enumerate(made))


def test_refusals_the_reference_says_to_retry_later_are_retried(local_ecs, endpoint):
    import time

    from tests.support import Control
    control = Control(endpoint)
    s = control.seed(ServiceInstanceId=f"si-{uuid.uuid4().hex[:12]}", Disks=1, DiskSize="1MiB", Fill=False)
    did, iid = s["Disks"][0]["DiskId"], s["InstanceIds"][0]
    calls = [lambda: local_ecs.create_snapshot(did, name="retried", description="retried later",
                                               client_token=uuid.uuid4().hex),
             lambda: local_ecs.create_snapshot_group(iid, [did], name="retried", description="retried later",
                                                     client_token=uuid.uuid4().hex)]
    made = []
    for call in calls:
        control.faults(reject={did: "IdempotentProcessing", iid: "IdempotentProcessing"})
        threading.Timer(0.6, control.clear_faults).start()
        started = time.monotonic()
        made.append(call())
        assert time.monotonic() - started >= 0.5  # refused first, then repeated once the refusal cleared
        _wait_idle(local_ecs, did)
    local_ecs.stop_instances([iid])
    deadline = time.monotonic() + 15
    while local_ecs.describe_instances([iid])[iid].status != "Stopped":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    control.faults(reject={did: "Operation.Conflict"})
    threading.Timer(0.6, control.clear_faults).start()
    started = time.monotonic()
    local_ecs.reset_disk(did, made[0])
    assert time.monotonic() - started >= 0.5
    while local_ecs.describe_disks([did])[did].status != "In_use":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    control.faults(reject={did: "InvalidDiskId.NotFound"})
    try:
        with pytest.raises(Exception) as exc:  # an ordinary refusal is not repeated
            local_ecs.create_snapshot(did, name="once", description="not retried", client_token=uuid.uuid4().hex)
        assert getattr(exc.value, "code", "") == "InvalidDiskId.NotFound"
    finally:
        control.clear_faults()


def _wait_idle(local_ecs, disk_id: str) -> None:
    """Until no snapshot of the disk is progressing (the next create would be refused)."""
    import time
    deadline = time.monotonic() + 15
    rpc = local_ecs.rpc
    while True:
        body = rpc.call("DescribeSnapshots", {"RegionId": local_ecs.region, "DiskId": disk_id, "MaxResults": 100})
        if all(x["Status"] != "progressing" for x in body["Snapshots"]["Snapshot"]):
            return
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.mark.parametrize(("endpoint", "other", "expected"), [
    ("https://ecs.cn-shanghai.aliyuncs.com", "cn-beijing", "https://ecs.cn-beijing.aliyuncs.com"),
    ("ecs-cn-hangzhou.aliyuncs.com", "cn-shanghai", "ecs.cn-shanghai.aliyuncs.com"),
    ("ecs.cn-shanghai.aliyuncs.com", "cn-hangzhou", "ecs-cn-hangzhou.aliyuncs.com"),
    ("http://127.0.0.1:8900", "cn-shanghai", "http://127.0.0.1:8900"),        # local or private: every region
])
def test_a_copys_region_is_reached_at_its_own_regional_endpoint(endpoint, other, expected):
    from nestbackup.adapters.ecs import regional_endpoint
    region = "cn-hangzhou" if "hangzhou" in endpoint or "127.0.0.1" in endpoint else "cn-shanghai"
    assert regional_endpoint(endpoint, region, other) == expected
