"""The local cloud's command-line contract, checked from outside: `local serve` and `local seed --json`."""
import json
import os
import subprocess
import sys

import pytest

from tests.support import spawn_local_cloud


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    proc, endpoint = spawn_local_cloud(tmp_path_factory.mktemp("cli-state"), throttle_ecs=True)   # as served
    yield endpoint
    proc.kill()
    proc.wait(10)


def nestbackup(*args):
    return subprocess.run([sys.executable, "-m", "nestbackup.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={k: v for k, v in os.environ.items() if "proxy" not in k.lower()})


def test_seed_prints_the_contract_object(served):
    done = nestbackup("local", "seed", "--endpoint", served, "--instance", "si-cli", "--disks", "2",
                      "--disk-size", "8MiB", "--sqlserver", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["ServiceInstanceId"] == "si-cli" and len(out["InstanceIds"]) == 1
    assert [set(d) for d in out["Disks"]] == [{"DiskId", "Path", "InstanceId"}] * 2
    assert all(os.path.getsize(d["Path"]) == 8 << 20 for d in out["Disks"])
    assert out["DBInstances"][0]["Engine"] == "SQLServer" and out["DBInstances"][0]["DBInstanceId"].startswith("rm-")
    assert out["ComputeNest"]["Status"] == "Deployed" and len(out["ComputeNest"]["Resources"]) == 4


def test_seed_registers_a_compute_nest_status_and_replicas(served):
    done = nestbackup("local", "seed", "--endpoint", served, "--instance", "si-cli3", "--disks", "0", "--sqlserver",
                      "--read-only-replicas", "1", "--status", "Upgrading", "--untagged")
    assert done.returncode == 0, done.stderr
    assert "Readonly of rm-" in done.stdout and "Compute Nest  Upgrading, 3 resources" in done.stdout
    bad = nestbackup("local", "seed", "--endpoint", served, "--instance", "si-cli4", "--status", "Sleeping")
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1 and "Status" in bad.stderr


def test_seed_sets_the_rds_backup_policy(served):
    from alibabacloud_rds20140815 import models as m

    from tests.support import make_rds
    done = nestbackup("local", "seed", "--endpoint", served, "--instance", "si-cli3", "--disks", "0", "--sqlserver",
                      "--rds-backup-policy", '{"BackupRetentionPeriod": 30}', "--json")
    assert done.returncode == 0, done.stderr
    db = json.loads(done.stdout)["DBInstances"][0]["DBInstanceId"]
    policy = make_rds(served).describe_backup_policy(m.DescribeBackupPolicyRequest(dbinstance_id=db)).body
    assert policy.backup_retention_period == 30


@pytest.mark.parametrize("args, words", [
    (["--disk-size", "3XB"], "not a size"),
    (["--instance", "bad id; drop"], "ServiceInstanceId"),
    (["--sqlserver", "--rds-backup-policy", '{"BackupRetentionPeriod": 3}'], "BackupRetentionPeriod"),
])
def test_seed_refusals_are_one_line(served, args, words):
    base = ["local", "seed", "--endpoint", served, "--instance", "si-cli2"]
    if args[0] == "--instance":
        base = base[:-2]
    done = nestbackup(*base, *args)
    assert done.returncode != 0 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and words in done.stderr


def test_seed_without_a_server_says_so(tmp_path):
    done = nestbackup("local", "seed", "--endpoint", "http://127.0.0.1:9", "--instance", "si-x")
    assert done.returncode == 1 and "no local cloud" in done.stderr


def test_local_serve_throttles_each_ecs_api_as_ecs_does(served):
    """`local serve` holds each ECS API to 500 calls a minute by default (--ecs-calls-per-minute; the real threshold
    is the account's, UNCONFIRMED): past it the call is refused Throttling.User, not applied. Within 1,001 calls one
    is refused whatever second of its minute the test starts in. DescribeSnapshotGroups: no other test here calls
    it, so none is throttled by this one."""
    from alibabacloud_ecs20140526 import models as m
    from Tea.exceptions import TeaException

    from tests.support import make_ecs
    ecs = make_ecs(served)
    request = m.DescribeSnapshotGroupsRequest(region_id="cn-hangzhou")
    answered = 0
    for _ in range(1001):
        try:
            ecs.describe_snapshot_groups(request)
        except TeaException as err:
            assert err.code == "Throttling.User", err
            break
        answered += 1
    else:
        pytest.fail("1,001 calls in at most two minutes were all answered")
    assert answered >= 500          # never refused before the minute's 500 (a minute's end only resets the count)
