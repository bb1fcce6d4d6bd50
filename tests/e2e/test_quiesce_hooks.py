"""Quiesce hooks end to end on the local cloud: the product's API, flow and functions, ECS Cloud Assistant running
the hooks for real in each instance's sandbox, and snapshots whose content is fixed at creation. The hooks write a
marker at the start of each disk (the sandbox links the instance's disks): a snapshot holding the pre hook's marker
and not the post hook's shows the pre ran before its creation and the post after it."""
from __future__ import annotations

import json
import time
from pathlib import Path

from alibabacloud_ecs20140526 import models as ecs_m

from tests.support import make_ecs, wait_until
from tests.support.product import run_cli, snapshots_of

R = "cn-hangzhou"


def marking(word: str, stamp: str, before: str = "") -> str:
    """A hook: write `word` at the start of every disk of the instance, then the time into the file `stamp`."""
    return (f"{before}for d in disks/*; do printf {word} | dd of=$d conv=notrunc status=none; done; "
            f"date +%s.%N > {stamp}; echo {word} done")


def hooks(api, si, pre=None, post=None, timeout=30, on_failure="Fail") -> None:
    status, out = api.call("PUT", f"/service-instances/{si}/backup-settings", {"Hooks": {
        "Pre": pre or marking("PRE-", "pre-ran"), "Post": post or marking("POST", "post-ran"),
        "TimeoutSeconds": timeout, "OnFailure": on_failure}})
    assert status == 200, out


def sandbox(product, iid: str) -> Path:
    return Path(product.cloud.state_dir) / "ecs" / "assistant" / iid


def stamp(product, iid: str, name: str) -> float:
    return float((sandbox(product, iid) / name).read_text())


def head(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read(4)


def snapshot_heads(endpoint, iid: str, members: dict[str, str], paths: dict[str, str]) -> dict[str, bytes]:
    """Each disk rolled back to its snapshot (the instance stopped, then started again): its first bytes."""
    ecs = make_ecs(endpoint)
    status = lambda: ecs.describe_instances(ecs_m.DescribeInstancesRequest(  # noqa: E731
        region_id=R, instance_ids=json.dumps([iid]))).body.instances.instance[0].status
    ecs.stop_instances(ecs_m.StopInstancesRequest(region_id=R, instance_id=[iid]))
    wait_until(lambda: status() == "Stopped")
    for disk, snapshot in members.items():
        ecs.reset_disk(ecs_m.ResetDiskRequest(disk_id=disk, snapshot_id=snapshot))
    for disk in members:
        wait_until(lambda d=disk: ecs.describe_disks(ecs_m.DescribeDisksRequest(
            region_id=R, disk_ids=json.dumps([d]))).body.disks.disk[0].status == "In_use")
    out = {disk: head(paths[disk]) for disk in members}
    ecs.start_instances(ecs_m.StartInstancesRequest(region_id=R, instance_id=[iid]))
    wait_until(lambda: status() == "Running")
    return out


def test_the_pre_hook_runs_before_the_group_is_created_and_the_post_hook_after(product, api, control, si):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="4MiB")
    iid, paths = seeded["InstanceIds"][0], {d["DiskId"]: d["Path"] for d in seeded["Disks"]}
    control.faults(pace_ms=dict.fromkeys(paths, 1500))            # each snapshot takes its time to complete
    hooks(api, si)
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    final = api.wait(record["BackupId"])
    assert final["Status"] == "Created", final
    runs = {r["Hook"]: r for r in final["Hooks"]}
    assert set(runs) == {"Pre", "Post"} and all(r["InstanceId"] == iid and r["ExitCode"] == 0 for r in runs.values())
    assert runs["Pre"]["Output"].strip() == "PRE- done" and runs["Post"]["Output"].strip() == "POST done"
    assert final["Consistency"] == "ApplicationConsistent" and sorted(final["AtConsistentMoment"]) == sorted(paths)
    # the moment T lies between the end of the pre hook and the start of the post hook, and the instance was
    # frozen for a fraction of the snapshots' 1.5 s
    moment = time.mktime(time.strptime(final["ConsistentAt"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone \
        + float("0" + final["ConsistentAt"][19:-1])
    assert stamp(product, iid, "pre-ran") - 0.01 <= moment <= stamp(product, iid, "post-ran") + 0.01
    assert 0 <= final["FrozenSeconds"] < 1.5
    assert {head(p) for p in paths.values()} == {b"POST"}         # the post hook ran on the live disks
    members = {r["ResourceId"]: r["ArtifactId"] for r in final["Resources"]}
    assert snapshot_heads(product.endpoint, iid, members, paths) == dict.fromkeys(paths, b"PRE-")
    shown = run_cli(product.endpoint, "backup", "show", final["BackupId"])
    assert f"consistent at {final['ConsistentAt']} (2 disks, frozen " in shown.stdout, shown.stdout


def test_a_snapshot_that_fails_to_be_created_still_gets_the_post_hook(product, api, control, si):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="1MiB")
    iid, disks = seeded["InstanceIds"][0], [d["DiskId"] for d in seeded["Disks"]]
    hooks(api, si)
    control.faults(reject={disks[0]: "QuotaExceed.Snapshot"})
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    final = api.wait(record["BackupId"])
    assert final["Status"] == "CreateFailed", final
    assert [r["Hook"] for r in final["Hooks"]] == ["Pre", "Post"]
    assert stamp(product, iid, "pre-ran") <= stamp(product, iid, "post-ran")
    assert all(snapshots_of(product.endpoint, d) == [] for d in disks)


def test_a_cancel_while_the_pre_hook_runs_thaws_once_the_pre_hook_ended(product, api, control, si):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="1MiB")
    iid, disks = seeded["InstanceIds"][0], [d["DiskId"] for d in seeded["Disks"]]
    hooks(api, si, pre=marking("PRE-", "pre-ran", before="touch pre-started; sleep 2; "))
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    wait_until(lambda: (sandbox(product, iid) / "pre-started").exists(), timeout=30)
    status, cancelled = api.call("POST", f"/backups/{record['BackupId']}/cancel")
    assert status == 200 and cancelled["Status"] == "Cancelled", cancelled
    wait_until(lambda: (sandbox(product, iid) / "post-ran").exists(), timeout=30)
    assert stamp(product, iid, "pre-ran") <= stamp(product, iid, "post-ran")     # thawed after the freeze ended
    final = wait_until(lambda: (b := api.call("GET", f"/backups/{record['BackupId']}")[1]) and
                       [r["Hook"] for r in b["Hooks"]] == ["Pre", "Post"] and b, timeout=30)
    assert final["Status"] == "Cancelled"
    assert all(snapshots_of(product.endpoint, d) == [] for d in disks)


def test_a_pre_hook_that_times_out_fails_the_backup_naming_it_and_the_cli_shows_the_settings(product, api, control,
                                                                                             si):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="1MiB")
    iid = seeded["InstanceIds"][0]
    out = run_cli(product.endpoint, "settings", "set", "--instance", si, "--pre", "sleep 60", "--post",
                  marking("POST", "post-ran"), "--timeout", "10", "--on-failure", "Fail")
    assert out.returncode == 0, out.stderr
    shown = run_cli(product.endpoint, "settings", "show", "--instance", si)
    assert "pre   sleep 60" in shown.stdout and "timeout 10 s" in shown.stdout and "Fail" in shown.stdout
    started = time.monotonic()
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    final = api.wait(record["BackupId"])
    assert final["Status"] == "CreateFailed"
    assert f"the pre hook on {iid} timed out" in final["StatusDetail"], final["StatusDetail"]
    assert [(r["Hook"], r["Status"]) for r in final["Hooks"]] == [("Pre", "Timeout"), ("Post", "Success")]
    assert 10 <= time.monotonic() - started < 40
    assert snapshots_of(product.endpoint, seeded["Disks"][0]["DiskId"]) == []
