"""ECS across restarts: work left in progress resumes, committed snapshots survive a SIGKILL at any point."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from alibabacloud_ecs20140526 import models as m

from localcloud.cloud import LocalCloud
from localcloud.seed import seed
from localcloud.server import LocalCloudServer
from tests.localcloud.test_ecs import R, scribble
from tests.support import Control, make_ecs, spawn_local_cloud

ROOT = Path(__file__).resolve().parents[2]

def _snapshot(ecs, sid):
    return ecs.describe_snapshots(m.DescribeSnapshotsRequest(
        region_id=R, snapshot_ids=json.dumps([sid]))).body.snapshots.snapshot[0]


def _until(predicate, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _instance_status(ecs, iid):
    return ecs.describe_instance_status(m.DescribeInstanceStatusRequest(
        region_id=R, instance_id=[iid])).body.instance_statuses.instance_status[0].status


def _disk_status(ecs, did):
    return ecs.describe_disks(m.DescribeDisksRequest(
        region_id=R, disk_ids=json.dumps([did]))).body.disks.disk[0].status


def _serve(state: Path):
    """A local cloud on `state` (its faults are not durable: after a restart nothing is stuck any more)."""
    cloud = LocalCloud(state)
    server = LocalCloudServer(cloud, port=0)
    server.start_in_thread()
    return cloud, server, make_ecs(server.endpoint)


def test_work_in_progress_resumes_after_a_restart(tmp_path):
    cloud, server, ecs = _serve(tmp_path)
    out = seed(cloud, {"ServiceInstanceId": "si-restart", "Disks": 2, "DiskSize": "4MiB"})
    iid = out["InstanceIds"][0]
    d1, d2 = out["Disks"]
    done = ecs.create_snapshot(m.CreateSnapshotRequest(disk_id=d1["DiskId"])).body.snapshot_id
    _until(lambda: _snapshot(ecs, done).status == "accomplished", what="first snapshot")
    original = Path(d1["Path"]).read_bytes()
    cloud.faults.configure({"stuck": [d2["DiskId"], iid]})
    pending = ecs.create_snapshot(m.CreateSnapshotRequest(disk_id=d2["DiskId"])).body.snapshot_id
    ecs.stop_instance(m.StopInstanceRequest(instance_id=iid))
    time.sleep(0.2)
    assert _snapshot(ecs, pending).status == "progressing" and _instance_status(ecs, iid) == "Stopping"
    server.stop()

    cloud, server, ecs = _serve(tmp_path)
    try:
        assert _instance_status(ecs, iid) == "Stopped"
        _until(lambda: _snapshot(ecs, pending).status == "accomplished", what="resumed snapshot")
        assert _snapshot(ecs, done).status == "accomplished"
        scribble(d1["Path"], 0, 4096)
        ecs.reset_disk(m.ResetDiskRequest(disk_id=d1["DiskId"], snapshot_id=done))
        _until(lambda: _disk_status(ecs, d1["DiskId"]) == "In_use", what="reset")
        assert Path(d1["Path"]).read_bytes() == original
    finally:
        server.stop()


def test_a_copy_in_progress_resumes_after_a_restart_in_its_region(tmp_path):
    cloud, server, ecs = _serve(tmp_path)
    disk = seed(cloud, {"ServiceInstanceId": "si-copy", "Disks": 1, "DiskSize": "1MiB"})["Disks"][0]
    source = ecs.create_snapshot(m.CreateSnapshotRequest(disk_id=disk["DiskId"])).body.snapshot_id
    _until(lambda: _snapshot(ecs, source).status == "accomplished", what="source snapshot")
    cloud.faults.configure({"stuck": ["cn-shanghai", source]})
    copy = ecs.copy_snapshot(m.CopySnapshotRequest(region_id=R, snapshot_id=source, destination_region_id="cn-shanghai",
                                                   destination_snapshot_name="nestbackup-copy")).body.snapshot_id
    scribble(disk["Path"], 0, 4096)         # the disk changes after the source: the copy holds the source still
    server.stop()

    cloud, server, ecs = _serve(tmp_path)
    try:
        def there():
            found = ecs.describe_snapshots(m.DescribeSnapshotsRequest(
                region_id="cn-shanghai", snapshot_ids=json.dumps([copy]))).body.snapshots.snapshot
            return found and found[0].status == "accomplished"
        _until(there, what="resumed copy")
        digests = dict(cloud.store.query("SELECT snapshot_id, digests FROM ecs_manifests WHERE snapshot_id IN (?, ?)",
                                         (source, copy)))
        assert digests[copy] == digests[source]
    finally:
        server.stop()


class _Server:
    """A local cloud in its own process, to be killed with SIGKILL."""

    def __init__(self, state: Path) -> None:
        self.proc, self.endpoint = spawn_local_cloud(state)
        self.ecs = make_ecs(self.endpoint)
        self.control = Control(self.endpoint)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def test_sigkill_during_a_snapshot_and_a_reset_loses_nothing(tmp_path):
    server = _Server(tmp_path)
    try:
        out = server.control.seed(ServiceInstanceId="si-kill", Disks=1, DiskSize="32MiB")
        iid, d = out["InstanceIds"][0], out["Disks"][0]
        ecs = server.ecs
        first = ecs.create_snapshot(m.CreateSnapshotRequest(disk_id=d["DiskId"])).body.snapshot_id
        _until(lambda: _snapshot(ecs, first).status == "accomplished", what="first snapshot")
        at_first = Path(d["Path"]).read_bytes()
        scribble(d["Path"], 20 << 20, 1 << 20)
        at_second = Path(d["Path"]).read_bytes()
        server.control.faults(op_delay_ms=3000)
        second = ecs.create_snapshot(m.CreateSnapshotRequest(disk_id=d["DiskId"])).body.snapshot_id
        _until(lambda: _snapshot(ecs, second).progress not in ("0%", "100%"), what="progress")
        server.kill()

        server = _Server(tmp_path)
        ecs = server.ecs
        assert _snapshot(ecs, first).status == "accomplished"
        _until(lambda: _snapshot(ecs, second).status == "accomplished", what="resumed snapshot")
        ecs.stop_instances(m.StopInstancesRequest(region_id=R, instance_id=[iid]))
        _until(lambda: _instance_status(ecs, iid) == "Stopped", what="stop")

        # kill in the middle of a rollback: the image is the old one or the new one, and the rollback resumes
        scribble(d["Path"], 0, 8192)
        server.control.faults(op_delay_ms=1000)
        ecs.reset_disk(m.ResetDiskRequest(disk_id=d["DiskId"], snapshot_id=first))
        assert _disk_status(ecs, d["DiskId"]) == "ReIniting"
        time.sleep(0.3)
        server.kill()
        server = _Server(tmp_path)
        ecs = server.ecs
        _until(lambda: _disk_status(ecs, d["DiskId"]) == "In_use", what="resumed reset")
        assert Path(d["Path"]).read_bytes() == at_first
        ecs.reset_disk(m.ResetDiskRequest(disk_id=d["DiskId"], snapshot_id=second))
        _until(lambda: _disk_status(ecs, d["DiskId"]) == "In_use", what="second reset")
        assert Path(d["Path"]).read_bytes() == at_second
    finally:
        server.kill()


def test_a_command_running_when_the_cloud_stops_ends_failed_after_the_restart(tmp_path):
    """The agent's process died with the cloud: the run is not left Running for ever (a hook waiting on it would
    wait to its deadline); RunCommand's ClientToken still answers the same invocation."""
    cloud = LocalCloud(tmp_path)
    server = LocalCloudServer(cloud, port=0)
    server.start_in_thread()
    ecs = make_ecs(server.endpoint)
    iid = seed(cloud, {"ServiceInstanceId": "si-cmd", "Disks": 1, "DiskSize": "1MiB"})["InstanceIds"][0]
    request = m.RunCommandRequest(region_id=R, type="RunShellScript", command_content="sleep 2", instance_id=[iid],
                                  timeout=30, client_token="tok-restart")
    invoke = ecs.run_command(request).body.invoke_id
    time.sleep(0.3)
    server.stop()

    cloud = LocalCloud(tmp_path)
    server = LocalCloudServer(cloud, port=0)
    server.start_in_thread()
    try:
        ecs = make_ecs(server.endpoint)
        row = ecs.describe_invocation_results(m.DescribeInvocationResultsRequest(
            region_id=R, invoke_id=invoke)).body.invocation.invocation_results.invocation_result[0]
        assert (row.invocation_status, row.error_code) == ("Failed", "ClientRestarted")
        assert ecs.run_command(request).body.invoke_id == invoke
    finally:
        server.stop()
