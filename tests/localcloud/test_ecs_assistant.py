"""ECS Cloud Assistant through the unmodified SDK: RunCommand runs a real shell in the instance's sandbox with a
scrubbed environment, times out, takes faults; and a snapshot holds the disk as its creation found it (writes made
after CreateSnapshot answered are not in it, as with the real cloud's copy-on-write)."""
from __future__ import annotations

import base64
import os
import time
import uuid
from pathlib import Path

import pytest
from alibabacloud_ecs20140526 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException

from tests.localcloud.test_ecs import R, create_snapshot, stop, wait_disk, wait_instance, wait_snapshot


def seed(control, disks: int = 1) -> dict:
    return control.seed(ServiceInstanceId=f"si-{uuid.uuid4().hex[:12]}", Disks=disks, DiskSize="8MiB")


def run(ecs, instance_ids: list[str], script: str, timeout: int = 10, token: str | None = None) -> str:
    return ecs.run_command(m.RunCommandRequest(region_id=R, type="RunShellScript", command_content=script,
                                               instance_id=instance_ids, timeout=timeout,
                                               client_token=token)).body.invoke_id


def results(ecs, invoke_id: str, wait: float = 15) -> dict:
    deadline = time.monotonic() + wait
    while True:
        rows = ecs.describe_invocation_results(m.DescribeInvocationResultsRequest(
            region_id=R, invoke_id=invoke_id, content_encoding="PlainText")).body.invocation.invocation_results
        out = {r.instance_id: r for r in rows.invocation_result}
        if all(r.invocation_status != "Running" for r in out.values()) or time.monotonic() > deadline:
            return out
        time.sleep(0.05)


def test_run_command_runs_in_the_instance_sandbox_with_a_scrubbed_environment(ecs, control, monkeypatch):
    s = seed(control, disks=1)
    iid, did = s["InstanceIds"][0], s["Disks"][0]["DiskId"]
    invoke = run(ecs, [iid], "pwd; env | sort; ls disks; echo oops >&2; exit 3")
    row = results(ecs, invoke)[iid]
    assert (row.invocation_status, row.exit_code, row.error_code) == ("Failed", 3, "ExitCodeNonzero")
    lines = row.output.splitlines()
    assert lines[0].endswith(f"/ecs/assistant/{iid}")
    env = {line.split("=", 1)[0] for line in lines if "=" in line}
    assert env <= {"PATH", "HOME", "LANG", "PWD", "SHLVL", "_"}, env    # nothing of the cloud's own environment
    assert did in lines and "oops" in lines
    assert row.start_time and row.finished_time
    # Base64 output by default, as the reference says
    raw = ecs.describe_invocation_results(m.DescribeInvocationResultsRequest(
        region_id=R, invoke_id=invoke)).body.invocation.invocation_results.invocation_result[0]
    assert "oops" in base64.b64decode(raw.output).decode()


def test_run_command_times_out_kills_the_process_and_is_idempotent_by_client_token(ecs, control, tmp_path):
    iid = seed(control)["InstanceIds"][0]
    marker = tmp_path / "after-timeout"
    token = uuid.uuid4().hex
    started = time.monotonic()
    invoke = run(ecs, [iid], f"sleep 30; touch {marker}", timeout=10, token=token)
    assert run(ecs, [iid], f"sleep 30; touch {marker}", timeout=10, token=token) == invoke
    row = results(ecs, invoke, wait=20)[iid]
    assert (row.invocation_status, row.error_code) == ("Timeout", "ExecutionTimeout")
    assert 9 < time.monotonic() - started < 20
    time.sleep(0.2)
    assert not marker.exists()


def test_run_command_faults_and_refusals(ecs, control):
    s = seed(control)
    iid = s["InstanceIds"][0]
    control.faults(fail=[iid])
    row = results(ecs, run(ecs, [iid], "true"))[iid]
    assert (row.invocation_status, row.error_code) == ("Failed", "ClientNotResponse")
    control.clear_faults()
    control.faults(reject={iid: "InvalidInstance.NotRunning"})
    with pytest.raises(ClientException) as exc:
        run(ecs, [iid], "true")
    assert exc.value.code == "InvalidInstance.NotRunning"
    control.clear_faults()
    with pytest.raises(ClientException) as exc:
        run(ecs, ["i-nosuchinstance"], "true")
    assert exc.value.code == "InvalidInstanceId.NotFound"
    stop(ecs, iid)
    row = results(ecs, run(ecs, [iid], "true"))[iid]
    assert (row.invocation_status, row.error_code) == ("Invalid", "InstanceNotRunning")
    ecs.start_instances(m.StartInstancesRequest(region_id=R, instance_id=[iid]))
    wait_instance(ecs, iid, "Running")


def test_a_snapshot_holds_the_disk_as_its_creation_found_it(ecs, control):
    """What a thaw writes right after CreateSnapshotGroup answered is not in the group, even though the snapshot
    job reads the disk later (held stuck until the thaw has written)."""
    s = seed(control, disks=2)
    iid, disks = s["InstanceIds"][0], s["Disks"]
    control.faults(stuck=[d["DiskId"] for d in disks])
    run_ok = results(ecs, run(ecs, [iid], "for d in disks/*; do printf FROZEN | dd of=$d conv=notrunc 2>/dev/null;"
                                          " done"))[iid]
    assert run_ok.invocation_status == "Success", run_ok.output
    group = ecs.create_snapshot_group(m.CreateSnapshotGroupRequest(
        region_id=R, instance_id=iid)).body.snapshot_group_id
    results(ecs, run(ecs, [iid], "for d in disks/*; do printf THAWED | dd of=$d conv=notrunc 2>/dev/null; done"))
    assert all(Path(d["Path"]).read_bytes()[:6] == b"THAWED" for d in disks)
    control.clear_faults()
    members = ecs.describe_snapshot_groups(m.DescribeSnapshotGroupsRequest(
        region_id=R, snapshot_group_id=[group])).body.snapshot_groups.snapshot_group[0].snapshots.snapshot
    for member in members:
        wait_snapshot(ecs, member.snapshot_id)
    stop(ecs, iid)
    for member in members:
        ecs.reset_disk(m.ResetDiskRequest(disk_id=member.source_disk_id, snapshot_id=member.snapshot_id))
    for d in disks:
        wait_disk(ecs, d["DiskId"], "In_use")
        assert Path(d["Path"]).read_bytes()[:6] == b"FROZEN"


def test_an_unchanged_disk_needs_no_copy_at_creation(ecs, control, cloud_server):
    did = seed(control)["Disks"][0]["DiskId"]
    time.sleep(0.2)     # past the racy window of the seeding's write, so the first manifest's key is trusted
    wait_snapshot(ecs, create_snapshot(ecs, did))
    sid = create_snapshot(ecs, did)
    assert not (Path(cloud_server.cloud.state_dir) / "ecs" / "frozen" / f"{sid}.img").exists()
    wait_snapshot(ecs, sid)
    assert not list((Path(cloud_server.cloud.state_dir) / "ecs" / "frozen").glob("*.img"))
    assert os.path.exists(cloud_server.cloud.state_dir)
