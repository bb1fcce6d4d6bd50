"""A backup's copy in another region on the local cloud, through the official SDK: the copy exists in the
destination region only (DescribeSnapshots with its RegionId), with the source's content, is listed on the record,
retention deletes it with the backup, a Compliance lock locks it there, and the CLI exits 4 when a copy failed."""
import json
import os
import subprocess
import sys
import time

import pytest
from alibabacloud_ecs20140526 import models as ecs_m
from Tea.exceptions import TeaException

from nestbackup.decisions.retention import Retention
from nestbackup.handlers import wiring
from nestbackup.model.records import iso_utc
from nestbackup.operations import schedules
from tests.support import make_ecs
from tests.support.product import ADMIN

OTHER = "cn-shanghai"


def _listed(endpoint: str, region: str, snapshot_id: str) -> list:
    body = make_ecs(endpoint).describe_snapshots(ecs_m.DescribeSnapshotsRequest(
        region_id=region, snapshot_ids=f'["{snapshot_id}"]', max_results=10)).body
    return body.snapshots.snapshot or []


def test_a_cross_region_copy_is_made_listed_on_the_record_and_deleted_by_retention(product, api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="4MiB")
    status, started = api.call("POST", "/backups", {"ServiceInstanceId": si, "CopyToRegion": OTHER})
    assert status == 202 and started["CopyToRegion"] == OTHER
    copied = api.wait(started["BackupId"])
    assert copied["Status"] == "Created" and copied["CopyStatus"] == "Created"
    (item,) = copied["Resources"]
    (copy,) = item["Copies"]
    assert copy["Region"] == OTHER and copy["Status"] == "Succeeded" and copy["SourceSnapshotId"] == item["ArtifactId"]
    (there,) = _listed(product.endpoint, OTHER, copy["SnapshotId"])
    assert there.status == "accomplished" and there.region_id == OTHER
    assert _listed(product.endpoint, "cn-hangzhou", copy["SnapshotId"]) == []       # not in the source region
    manifests = dict(product.cloud.store.query(
        "SELECT snapshot_id, digests FROM ecs_manifests WHERE snapshot_id IN (?, ?)",
        (item["ArtifactId"], copy["SnapshotId"])))
    assert manifests[copy["SnapshotId"]] == manifests[item["ArtifactId"]]            # the source's content

    api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    assert schedules.apply_retention(wiring(), si, Retention(keep_last=1), time.time()) == [copied["BackupId"]]
    deleted = api.call("GET", f"/backups/{copied['BackupId']}")[1]
    assert deleted["Status"] == "Deleted" and deleted["CopyStatus"] == "Deleted"
    assert deleted["Resources"][0]["Copies"][0]["Status"] == "Deleted"
    assert _listed(product.endpoint, OTHER, copy["SnapshotId"]) == []


def test_the_cli_waits_for_the_copies_and_exits_4_when_the_backup_is_created_and_its_copy_failed(product, control,
                                                                                                   si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="1MiB")
    control.faults(fail=["cn-beijing"])                                   # copies into cn-beijing end failed
    done = _cli(product, "backup", "create", "--instance", si, "--copy-to", "cn-beijing", "--wait", "--json")
    assert done.returncode == 4, done.stderr
    record = json.loads(done.stdout)
    assert record["Status"] == "Created" and record["CopyStatus"] == "CreateFailed"
    assert "its copy in cn-beijing is CreateFailed" in done.stderr
    refused = _cli(product, "backup", "create", "--instance", si, "--copy-to", "cn-hangzhou")
    assert refused.returncode == 1 and "another region" in refused.stderr and "Traceback" not in refused.stderr


def _cli(product, *args):
    environ = {**os.environ, "NESTBACKUP_ENDPOINT": product.endpoint + "/api", "NESTBACKUP_TOKEN": ADMIN}
    return subprocess.run([sys.executable, "-m", "nestbackup.cli.main", *args], capture_output=True, text=True,
                          env=environ, stdin=subprocess.DEVNULL, timeout=300)


def test_a_compliance_lock_locks_the_copy_in_its_region_against_a_delete_outside_nestbackup(product, api, control,
                                                                                             si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="1MiB")
    copied = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si, "CopyToRegion": OTHER})[1]["BackupId"])
    copy = copied["Resources"][0]["Copies"][0]["SnapshotId"]
    status, locked = api.call("PUT", f"/backups/{copied['BackupId']}/lock",
                              {"Mode": "Compliance", "Until": iso_utc(time.time() + 86400)})
    assert status == 200 and copy in locked["Lock"]["CloudLocked"]
    with pytest.raises(TeaException) as err:                  # the SDK, outside nestbackup
        make_ecs(product.endpoint).delete_snapshot(ecs_m.DeleteSnapshotRequest(snapshot_id=copy))
    assert err.value.code == "OperationDenied.SnapshotLocked"
    assert [s.snapshot_id for s in _listed(product.endpoint, OTHER, copy)] == [copy]
