"""`nestbackup doctor` end to end against the local cloud: a deployment made from s.yaml passes every check; one
made from a drifted copy (a trigger method fewer, a timer trigger gone) is reported line by line, exit 1."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from localcloud.cloud import LocalCloud
from localcloud.server import LocalCloudServer
from nestbackup.adapters.tablestore import Tablestore

ROOT = Path(__file__).resolve().parents[2]
# the code of this checkout, not whichever one the environment installed
PYTHONPATH = os.pathsep.join([str(ROOT / "shared"), str(ROOT)])


def doctor(endpoint: str, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": PYTHONPATH, "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET}
    return subprocess.run([sys.executable, "-m", "nestbackup.cli.main", "doctor", "--endpoint", endpoint, *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def deployed_from(tmp_path: Path, s_yaml: Path) -> LocalCloudServer:
    cloud = LocalCloud(tmp_path / "state", s_yaml=s_yaml, http_triggers={"/api": "nestbackup-api"})
    cloud.ots_instances.configure("nestbackup", vpcs={"vpc-nestbackup": "nestbackup"})   # the runbook's binding
    server = LocalCloudServer(cloud, port=0)
    server.start_in_thread()
    Tablestore.connect(server.endpoint, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, "nestbackup",
                        table="nestbackup").ensure_table()
    return server


def test_a_deployment_made_from_s_yaml_passes_every_check(tmp_path):
    server = deployed_from(tmp_path, ROOT / "s.yaml")
    try:
        done = doctor(server.endpoint)
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert all(line.startswith("ok ") for line in lines[:-1]) and lines[-1].startswith("all ")
    assert any("trigger nestbackup-api/http" in line for line in lines)
    assert any("flow nestbackup-backup" in line for line in lines) and any("table nestbackup" in line for line in lines)
    assert any("scripts/ram.py" in line for line in lines)


def test_drift_between_s_yaml_and_the_deployment_is_reported(tmp_path):
    doc = yaml.safe_load((ROOT / "s.yaml").read_text())
    doc["resources"]["api"]["props"]["triggers"][0]["triggerConfig"]["methods"] = ["GET", "POST"]
    doc["resources"]["timer"]["props"]["triggers"].pop()                 # the sweep trigger
    doc["resources"]["backup-steps"]["props"]["timeout"] = 30
    doc["resources"]["events"]["props"].pop("logConfig")
    (tmp_path / "functions").symlink_to(ROOT / "functions")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    server = deployed_from(tmp_path, tmp_path / "s.yaml")
    try:
        done = doctor(server.endpoint)                                   # checked against the real s.yaml
    finally:
        server.stop()
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "DIFFERENT trigger nestbackup-api/http (http): methods are ['GET', 'POST'], s.yaml says " \
           "['DELETE', 'GET', 'POST', 'PUT']" in out
    assert "MISSING   trigger nestbackup-timer/sweep (timer)" in out
    assert "DIFFERENT function nestbackup-backup-steps: timeout is 30, s.yaml says 600" in out
    assert "DIFFERENT function nestbackup-events: no logConfig, so its logs are kept nowhere (s.yaml: logConfig: " \
           "auto)" in out
    assert "logs in SLS project serverless-cn-hangzhou-local, logstore default-logs" in out
    assert "fix: run `s deploy`" in out and out.splitlines()[-1].startswith("14 of 18 checks passed")


def test_doctor_without_credentials_says_so_in_one_line():
    done = subprocess.run([sys.executable, "-m", "nestbackup.cli.main", "doctor", "--endpoint", "http://127.0.0.1:9"],
                          capture_output=True, text=True, env={"PATH": os.environ["PATH"], "PYTHONPATH": PYTHONPATH}, cwd=ROOT, timeout=120)
    assert done.returncode == 1 and done.stderr.strip().splitlines() == [
        "nestbackup: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET"]


def test_a_region_the_flow_component_refuses_is_refused_before_anything_is_created():
    """eu-west-1: fc3 deploys there, the flow component (devsapp/fnf src/impl/base.ts validRegions) does not, so
    `s deploy` would leave the functions behind. The preflight needs no cloud call to say so."""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": PYTHONPATH, "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET, "NESTBACKUP_REGION": "eu-west-1"}
    done = subprocess.run([sys.executable, "-m", "nestbackup.cli.main", "doctor", "--before-deploy", "--endpoint",
                           "http://127.0.0.1:9"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.startswith("REGION")] == [
        "REGION    the CloudFlow component of Serverless Devs (flow) refuses eu-west-1 after the functions are "
        "created - fix: set NESTBACKUP_REGION to one of ap-southeast-1, cn-beijing, cn-hangzhou, cn-heyuan-acdr-1, "
        "cn-qingdao, cn-shanghai, cn-shenzhen, us-west-1"]
    assert "ok        Compute Nest region ap-southeast-1 (NESTBACKUP_COMPUTENEST_REGION) serves the Compute Nest API" \
        in lines
    env["NESTBACKUP_COMPUTENEST_REGION"] = "eu-west-1"
    done = subprocess.run([sys.executable, "-m", "nestbackup.cli.main", "doctor", "--before-deploy", "--endpoint",
                           "http://127.0.0.1:9"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert "REGION    Compute Nest is not served in eu-west-1 - fix: set NESTBACKUP_COMPUTENEST_REGION to " \
           "ap-southeast-1 or cn-hangzhou (where the service instances are kept)" in done.stdout


def test_before_the_first_backup_doctor_checks_the_tablestore_network_and_each_rds_backup_policy(tmp_path):
    """Against the local cloud: the functions' VPC not yet bound to the Tablestore instance (a new instance answers
    only bound VPCs), and a MySQL instance of the service instance whose backups have database/table restore off.
    Each is one line with its fix, exit 1; once the VPC is bound and the policy fixed, both pass."""
    from tests.support import MYSQL_DSN, Control

    cloud = LocalCloud(tmp_path / "state", s_yaml=ROOT / "s.yaml")
    server = LocalCloudServer(cloud, port=0)
    server.start_in_thread()
    try:
        seeded = Control(server.endpoint).seed(ServiceInstanceId="si-doctor", Disks=2, DiskSize="1MiB", Fill=False,
                                               MySQL=MYSQL_DSN, RdsBackupPolicy={"TableRestore": False})
        mysql = seeded["DBInstances"][0]["DBInstanceId"]
        basic = Control(server.endpoint).seed(ServiceInstanceId="si-basic", Disks=2, DiskSize="1MiB", Fill=False,
                                              Category="cloud_efficiency")
        done = doctor(server.endpoint, "--before-deploy", "--instance", "si-doctor", "--instance", "si-basic")
        assert done.returncode == 1, done.stdout + done.stderr
        failed = [line for line in done.stdout.splitlines() if not line.startswith("ok ")][:-1]
        assert failed == [
            "NETWORK   VPC vpc-nestbackup of the functions is not bound to Tablestore instance nestbackup, which "
            "refuses it - fix: BindInstance2Vpc (InstanceName nestbackup, VpcId vpc-nestbackup); see "
            "docs/deploy.md, step 2 (Tablestore and its network)",
            f"RDS       RDS {mysql} of si-doctor: database/table restore is off, so its backups cannot be restored "
            f"database by database - fix: turn on 库表恢复 (Database/Table Restoration) in its backup settings, "
            f"then back up again"]
        lines = done.stdout.splitlines()
        assert f"ok        disk {seeded['Disks'][0]['DiskId']} of si-doctor: 0 of 256 manual snapshots" in lines
        assert f"ok        RDS {mysql} of si-doctor: 0 of 20 backup sets a day" in lines     # DescribeBackups
        assert f"ok        disks of {seeded['InstanceIds'][0]} (2): one crash-consistent snapshot group" in lines
        assert f"ok        disks of {basic['InstanceIds'][0]} (2): each snapshotted alone, not crash-consistent " \
               f"with each other: categories cloud_efficiency (groups take cloud_auto, cloud_essd, " \
               f"cloud_essd_entry)" in lines
        cloud.ots_instances.configure("nestbackup", vpcs={"vpc-nestbackup": "nestbackup"})
        Control(server.endpoint).call("POST", f"/_local/rds/instances/{mysql}", {"TableRestore": True})
        done = doctor(server.endpoint, "--before-deploy", "--instance", "si-doctor")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"ok        RDS {mysql} of si-doctor: database/table restore is enabled" in done.stdout
    finally:
        server.stop()


def test_a_disk_without_room_for_another_manual_snapshot_fails_the_quota_check(tmp_path):
    """ECS refuses a 257th manual snapshot of a disk (CreateSnapshot: "has reached 256"; the local ECS answers
    QuotaExceed.Snapshot). The count comes from DescribeSnapshots in the doctor; here it is given, the service
    instance is discovered from the local cloud as a backup discovers it."""
    from nestbackup.cli.doctor import Report
    from nestbackup.cli.preflight import check_instances
    from nestbackup.settings import Settings
    from nestbackup.wiring import Wiring
    from tests.support import Control

    server = LocalCloudServer(LocalCloud(tmp_path / "state", s_yaml=ROOT / "s.yaml"), port=0)
    server.start_in_thread()
    try:
        seeded = Control(server.endpoint).seed(ServiceInstanceId="si-full", Disks=1, DiskSize="1MiB", Fill=False)
        settings = Settings.from_env({"NESTBACKUP_CLOUD_ENDPOINT": server.endpoint,
                                      "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
                                      "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET})
        report = Report()
        check_instances(report, Wiring(settings), ["si-full"], lambda disk_id: 256)
    finally:
        server.stop()
    disk = seeded["Disks"][0]["DiskId"]
    assert report.failed == 1 and report.lines == [
        f"QUOTA     disk {disk} of si-full has 256 manual snapshots, the most ECS keeps (256): a backup cannot "
        f"snapshot it - fix: delete old backups (nestbackup backup delete) or shorten the schedule's retention"]


def test_the_public_tablestore_endpoint_is_refused_before_deploy():
    """s.yaml rendered with the instance's public endpoint: a new instance refuses it (Internet access off), so the
    preflight says so before anything is deployed; no cloud call is needed for it."""
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": PYTHONPATH, "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
           "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET,
           "NESTBACKUP_OTS_ENDPOINT": "https://nestbackup.cn-hangzhou.ots.aliyuncs.com"}
    done = subprocess.run([sys.executable, "-m", "nestbackup.cli.main", "doctor", "--before-deploy", "--endpoint",
                           "http://127.0.0.1:9"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("NETWORK")] == [
        "NETWORK   NESTBACKUP_OTS_ENDPOINT https://nestbackup.cn-hangzhou.ots.aliyuncs.com is the public endpoint, "
        "which a Tablestore instance refuses by default (Internet access off) - fix: use its VPC endpoint "
        "https://nestbackup.<region>.vpc.tablestore.aliyuncs.com; see docs/deploy.md, step 2 (Tablestore and its "
        "network)"]
