"""Backup of a whole service instance through the API, the backup flow and the handlers, on the local cloud."""
import json
import os
import re
import threading

import pytest
from alibabacloud_ecs20140526 import models as ecs_m
from alibabacloud_rds20140815 import models as rds_m

from tests.support import make_ecs, make_rds, sha256_of, wait_until
from tests.support.product import run_cli, snapshots_of


def snapshot_content_is(endpoint, disk, snapshot_id, expected_sha) -> bool:
    """Roll the disk back to the snapshot (on a stopped instance) and compare the image with what it held."""
    ecs = make_ecs(endpoint)
    iid = disk["InstanceId"]
    status = lambda: ecs.describe_instances(ecs_m.DescribeInstancesRequest(  # noqa: E731
        region_id="cn-hangzhou", instance_ids=json.dumps([iid]))).body.instances.instance[0].status
    if status() != "Stopped":
        ecs.stop_instances(ecs_m.StopInstancesRequest(region_id="cn-hangzhou", instance_id=[iid]))
        wait_until(lambda: status() == "Stopped")
    with open(disk["Path"], "r+b") as f:      # scribble, so a no-op reset could not pass
        f.write(os.urandom(4096))
    ecs.reset_disk(ecs_m.ResetDiskRequest(disk_id=disk["DiskId"], snapshot_id=snapshot_id))
    wait_until(lambda: ecs.describe_disks(ecs_m.DescribeDisksRequest(
        region_id="cn-hangzhou", disk_ids=json.dumps([disk["DiskId"]]))).body.disks.disk[0].status == "In_use")
    ecs.start_instances(ecs_m.StartInstancesRequest(region_id="cn-hangzhou", instance_id=[iid]))
    wait_until(lambda: status() == "Running")
    return sha256_of(disk["Path"]) == expected_sha


def test_a_backup_waits_while_another_snapshot_of_the_disk_is_being_made(product, api, control, si):
    """As an automatic snapshot policy would: a snapshot of the disk is progressing when the backup starts. ECS refuses
    403 IncorrectDiskStatus.CreatingSnapshot; the item stays Pending with the reason shown, then is made."""
    disk = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="1MiB")["Disks"][0]["DiskId"]
    control.faults(pace_ms={disk: 4000})
    ecs = make_ecs(product.endpoint)
    other = ecs.create_snapshot(ecs_m.CreateSnapshotRequest(disk_id=disk, snapshot_name="policy-made")).body.snapshot_id
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    waiting = wait_until(lambda: api.call("GET", f"/backups/{record['BackupId']}")[1]["Resources"][0].get("WaitReason"),
                         timeout=30)
    assert waiting.startswith("IncorrectDiskStatus.CreatingSnapshot")
    final = api.wait(record["BackupId"])
    assert final["Status"] == "Created", final
    item = final["Resources"][0]
    assert item["WaitReason"] is None and item["ArtifactId"] and item["ArtifactId"] != other


def test_a_service_instance_with_disks_and_real_databases_backs_up_to_created(product, api, control, si, pg_db,
                                                                               my_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=3, DiskSize="8MiB", Postgres=pg_db[1], MySQL=my_db[1])
    at_backup = {d["DiskId"]: sha256_of(d["Path"]) for d in seeded["Disks"]}
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si, "Description": "nightly"})
    assert status == 202, record
    assert record["Status"] == "Creating" and record["StartTime"] and record["EndTime"] is None
    assert sorted(r["ResourceId"] for r in record["Resources"]) == sorted(
        [d["DiskId"] for d in seeded["Disks"]] + [d["DBInstanceId"] for d in seeded["DBInstances"]])
    final = api.wait(record["BackupId"])
    assert final["Status"] == "Created", final
    assert final["EndTime"] >= final["StartTime"]
    items = {r["ResourceId"]: r for r in final["Resources"]}
    assert all(r["Status"] == "Succeeded" and r["Progress"] == 100 and r["ArtifactId"] for r in items.values())
    # Three ESSD disks of one instance: one crash-consistent snapshot group.
    disk_items = [items[d["DiskId"]] for d in seeded["Disks"]]
    assert {r["Method"] for r in disk_items} == {"SnapshotGroup"}
    assert len({r["SnapshotGroupId"] for r in disk_items}) == 1
    # Every DB has a real backup set.
    rds = make_rds(product.endpoint)
    for db in seeded["DBInstances"]:
        item = items[db["DBInstanceId"]]
        assert item["Engine"] == db["Engine"]
        backups = rds.describe_backups(rds_m.DescribeBackupsRequest(
            dbinstance_id=db["DBInstanceId"], backup_id=item["ArtifactId"])).body.items.backup
        assert backups[0].backup_status == "Success" and backups[0].backup_size > 0
    # Every snapshot holds the image as it was when the backup ran (the check scribbles on it, then rolls back).
    for disk in seeded["Disks"]:
        snapshot = items[disk["DiskId"]]["ArtifactId"]
        assert snapshot_content_is(product.endpoint, disk, snapshot, at_backup[disk["DiskId"]])

    status, same = api.call("GET", f"/backups/{record['BackupId']}")
    assert status == 200 and same == final
    status, page = api.call("GET", f"/backups?serviceInstanceId={si}")
    assert [b["BackupId"] for b in page["Backups"]] == [record["BackupId"]]


def test_throttling_and_server_errors_still_end_created_without_duplicates(product, api, control, si):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    seeded2 = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")       # second instance: plain snapshots
    control.faults(throttle=0.3, server_error=0.1, seed=7)
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    while status in (502, 503):       # the API itself may meet a fault: the caller retries, as a client would
        status, record = api.call("POST", "/backups", {"ServiceInstanceId": si, "ClientToken": "retry-" + si})
    assert status == 202, record
    final = api.wait(record["BackupId"], timeout=300)
    control.clear_faults()
    assert final["Status"] == "Created", final
    for disk in seeded["Disks"] + seeded2["Disks"]:
        assert len(snapshots_of(product.endpoint, disk["DiskId"])) == 1


def test_a_failed_resource_fails_the_record_with_its_cloud_error_and_the_others_succeed(product, api, control, si):
    disks = [control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0] for _ in range(3)]
    control.faults(reject={disks[0]["DiskId"]: "IncorrectDiskStatus"}, fail=[disks[1]["DiskId"]])
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    final = api.wait(record["BackupId"])
    items = {r["ResourceId"]: r for r in final["Resources"]}
    assert final["Status"] == "PartiallyCreated"                    # the third disk was backed up
    rejected, failed, fine = (items[d["DiskId"]] for d in disks)
    assert (rejected["Status"], rejected["ErrorCode"]) == ("Failed", "IncorrectDiskStatus")
    assert disks[0]["DiskId"] in rejected["ErrorMessage"] and rejected["RequestId"]
    assert (failed["Status"], failed["ErrorCode"]) == ("Failed", "SnapshotFailed")
    assert fine["Status"] == "Succeeded" and fine["ErrorCode"] is None


def test_two_concurrent_creates_one_runs_the_other_conflicts_and_a_token_repeats(product, api, control, si):
    control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB")
    control.faults(op_delay_ms=1500)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(api.call("POST", "/backups",
                                                                       {"ServiceInstanceId": si})))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(code for code, _ in answers)
    assert codes == [202, 409], answers
    winner = next(body for code, body in answers if code == 202)
    loser = next(body for code, body in answers if code == 409)
    assert loser["Code"] == "Conflict" and winner["BackupId"] in loser["Message"]
    api.wait(winner["BackupId"])
    control.clear_faults()

    first = api.call("POST", "/backups", {"ServiceInstanceId": si, "ClientToken": "tok-" + si})
    again = api.call("POST", "/backups", {"ServiceInstanceId": si, "ClientToken": "tok-" + si})
    assert first[0] == again[0] == 202 and first[1]["BackupId"] == again[1]["BackupId"]
    api.wait(first[1]["BackupId"])
    # The same token with another request is refused as ECS refuses it, and creates nothing.
    status, body = api.call("POST", "/backups", {"ServiceInstanceId": si, "ClientToken": "tok-" + si,
                                                 "Description": "another request"})
    assert (status, body["Code"]) == (400, "IdempotentParameterMismatch") and body["RequestId"], body
    status, page = api.call("GET", f"/backups?serviceInstanceId={si}")
    assert first[1]["BackupId"] in [b["BackupId"] for b in page["Backups"]] and len(page["Backups"]) == 2


def test_an_instance_without_resources_fails_with_the_cause(api, control, si):
    control.seed(ServiceInstanceId=si, Disks=0)      # Compute Nest knows it; it has an ECS instance, no disks
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202 and record["Status"] == "CreateFailed"
    assert "nothing to back up" in record["StatusDetail"] and record["EndTime"]


@pytest.mark.parametrize("method, path, body, token, status, code", [
    ("POST", "/backups", {"ServiceInstanceId": "si-x"}, None, 401, "Unauthorized"),
    ("POST", "/backups", {"ServiceInstanceId": "si-x"}, "wrong", 401, "Unauthorized"),
    ("POST", "/backups", b"{not json", "default", 400, "InvalidJson"),
    ("POST", "/backups", {}, "default", 400, "MissingParameter"),
    ("POST", "/backups", {"ServiceInstanceId": "si-x", "Extra": 1}, "default", 400, "InvalidParameter"),
    ("POST", "/backups", {"ServiceInstanceId": "si x; drop"}, "default", 400, "InvalidParameter"),
    ("POST", "/backups", {"ServiceInstanceId": "si-x", "Description": "d" * 300}, "default", 400,
     "InvalidParameter"),
    ("GET", "/backups?status=Fine", None, "default", 400, "InvalidParameter"),
    ("GET", "/backups?since=yesterday", None, "default", 400, "InvalidParameter"),
    ("GET", "/backups?serviceInstanceId=si-nobody-knows-it", None, "default", 404, "NotFound"),
    ("GET", "/backups/backup-000000000000ffffffff", None, "default", 404, "NotFound"),
    ("GET", "/backups/../../etc", None, "default", 404, "NotFound"),
    ("DELETE", "/backups", None, "default", 405, "MethodNotAllowed"),
])
def test_bad_requests_get_clear_4xx(api, method, path, body, token, status, code):
    got_status, got = api.call(method, path, body, token=token)
    assert (got_status, got["Code"]) == (status, code), got
    assert got["Message"] and got["RequestId"]


def test_cli_create_wait_json_prints_the_final_record_and_show_prints_the_same(product, control, si):
    control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB")
    done = run_cli(product.endpoint, "backup", "create", "--instance", si, "--wait", "--json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["Status"] == "Created"
    assert {"BackupId", "ServiceInstanceId", "Status", "StartTime", "EndTime", "Resources"} <= set(record)
    assert {"ResourceId", "ResourceType", "Status", "ArtifactId", "Progress", "ErrorCode",
            "ErrorMessage"} <= set(record["Resources"][0])
    assert "Succeeded" in done.stderr          # live per-resource progress went to stderr
    shown = run_cli(product.endpoint, "backup", "show", record["BackupId"], "--json")
    assert json.loads(shown.stdout) == record
    listed = run_cli(product.endpoint, "backup", "list", "--instance", si, "--json")
    assert [b["BackupId"] for b in json.loads(listed.stdout)["Backups"]] == [record["BackupId"]]


def test_cli_exits_non_zero_on_a_failed_backup_with_the_causes(product, control, si):
    disk = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0]
    control.faults(fail=[disk["DiskId"]])
    done = run_cli(product.endpoint, "backup", "create", "--instance", si, "--wait", "--json")
    assert done.returncode == 3
    assert json.loads(done.stdout)["Status"] == "CreateFailed"
    assert f"{disk['DiskId']} failed: SnapshotFailed" in done.stderr


def test_cli_refusals_are_one_line_with_a_non_zero_exit(product):
    refused = run_cli(product.endpoint, "backup", "show", "backup-000000000000ffffffff", "--json")
    assert refused.returncode == 1 and refused.stdout == ""
    assert re.fullmatch(r"nestbackup: NotFound: .+ \([0-9a-f-]{36}\)\n", refused.stderr), refused.stderr
    unauthorized = run_cli(product.endpoint, "backup", "list", "--instance", "si-x", token=None)
    assert unauthorized.returncode == 1 and unauthorized.stderr.startswith("nestbackup: Unauthorized: ")
    assert "Traceback" not in refused.stderr + unauthorized.stderr
