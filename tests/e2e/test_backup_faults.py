"""Deadlines and crashes: a stuck resource fails at its deadline; a step killed right after its cloud call and run
again starts nothing twice."""
import time

import pytest

from nestbackup.operations import backup as ops
from nestbackup.operations import backup_finalize, backup_poll, backup_start, loading
from tests.support import make_fnf
from tests.support.crashes import Killed, KilledAfterIntent, KilledOnFirstItemWrite, wiring_without_flow
from tests.support.executions import ended_execution
from tests.support.product import snapshots_of, start_product


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    server = start_product(tmp_path_factory, NESTBACKUP_DISK_DEADLINE_SECONDS="3",
                           NESTBACKUP_RDS_DEADLINE_SECONDS="30", NESTBACKUP_POLL_ROUNDS_PER_EXECUTION="3")
    yield server
    server.stop()


def test_a_stuck_resource_fails_at_its_deadline_and_the_others_succeed(product, api, control, si):
    stuck, fine = (control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0] for _ in range(2))
    control.faults(stuck=[stuck["DiskId"]])
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202
    started = time.monotonic()
    final = api.wait(record["BackupId"], timeout=60)
    assert time.monotonic() - started >= 2.5          # not before the deadline
    items = {r["ResourceId"]: r for r in final["Resources"]}
    assert final["Status"] == "PartiallyCreated"                    # the other disk was backed up
    assert final["StatusDetail"].startswith(f"{stuck['DiskId']} Timeout: ")
    assert (items[stuck["DiskId"]]["Status"], items[stuck["DiskId"]]["ErrorCode"]) == ("Failed", "Timeout")
    assert items[fine["DiskId"]]["Status"] == "Succeeded"


def test_a_start_killed_right_after_create_snapshot_and_run_again_leaves_one_snapshot(product, control, si):
    disk = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0]
    control.faults(op_delay_ms=2000)
    w = wiring_without_flow()
    record = ops.create_backup(w, si)
    before = control.stats().get("ecs:CreateSnapshot", 0)
    killed = wiring_without_flow()
    killed.records = KilledOnFirstItemWrite(w.records)
    with pytest.raises(Killed):
        backup_start.start_batch(killed, record["BackupId"], 0)
    assert control.stats()["ecs:CreateSnapshot"] == before + 1
    assert ops.get_backup(w, record["BackupId"])["Resources"][0]["Status"] == "Pending"

    backup_start.start_batch(w, record["BackupId"], 0)          # the flow's retry runs the step again
    item = ops.get_backup(w, record["BackupId"])["Resources"][0]
    assert item["Status"] == "Running"
    assert [s.snapshot_id for s in snapshots_of(product.endpoint, disk["DiskId"])] == [item["ArtifactId"]]
    control.clear_faults()
    while backup_poll.poll(w, record["BackupId"])["Done"] is False:
        time.sleep(0.1)
    assert backup_finalize.finalize(w, record["BackupId"])["Status"] == "Created"


def test_an_rds_start_killed_after_create_backup_adopts_the_job_it_started(product, control, si, pg_db):
    db = control.seed(ServiceInstanceId=si, Disks=0, Postgres=pg_db[1])["DBInstances"][0]
    control.faults(op_delay_ms=3000)
    w = wiring_without_flow()
    record = ops.create_backup(w, si)
    killed = wiring_without_flow()

    killed.records = KilledAfterIntent(w.records)
    with pytest.raises(Killed):
        backup_start.start_batch(killed, record["BackupId"], 0)
    before = control.stats()["rds:CreateBackup"]
    backup_start.start_batch(w, record["BackupId"], 0)
    assert control.stats()["rds:CreateBackup"] == before          # adopted, not started again
    item = ops.get_backup(w, record["BackupId"])["Resources"][0]
    assert item["Status"] == "Running" and item["ResourceId"] == db["DBInstanceId"]
    control.clear_faults()
    while backup_poll.poll(w, record["BackupId"])["Done"] is False:
        time.sleep(0.1)
    assert backup_finalize.finalize(w, record["BackupId"])["Status"] == "Created"


def test_a_long_backup_continues_in_new_executions_within_the_event_budget(product, api, control, si):
    from alibabacloud_fnf20190315 import models as fnf_m
    from alibabacloud_tea_openapi.exceptions import ClientException

    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    control.faults(op_delay_ms=1500)            # several poll rounds; 3 rounds per execution here
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    final = api.wait(record["BackupId"], timeout=60)
    assert final["Status"] == "Created"
    fnf = make_fnf(product.endpoint)
    names = [record["BackupId"]] + [f"{record['BackupId']}-g{g}" for g in range(2, 10)]
    ran = []
    for name in names:              # the last one's closing states follow the record: wait for each to end
        try:
            ran.append(ended_execution(fnf, "nestbackup-backup", name).status)
        except ClientException as err:
            assert err.code == "ExecutionNotExists"
            break
    assert len(ran) >= 2 and set(ran) == {"Succeeded"}, ran
    events = fnf.get_execution_history(fnf_m.GetExecutionHistoryRequest(
        flow_name="nestbackup-backup", execution_name=f"{record['BackupId']}-g2", limit=999)).body.events
    per_round = len(events) / 3
    assert 400 * per_round + 200 < 5000, f"{per_round} events per poll round"


def test_an_rds_start_killed_after_create_backup_adopts_the_backup_set_once_the_job_has_ended(product, control, si,
                                                                                               pg_db):
    control.seed(ServiceInstanceId=si, Disks=0, Postgres=pg_db[1])
    w = wiring_without_flow()
    record = ops.create_backup(w, si)
    killed = wiring_without_flow()

    killed.records = KilledAfterIntent(w.records)
    with pytest.raises(Killed):
        backup_start.start_batch(killed, record["BackupId"], 0)
    db = loading.load_backup(w, record["BackupId"]).items[0].resource_id
    deadline = time.monotonic() + 60
    while w.rds.running_backup_jobs(db):                  # the job CreateBackup started finishes meanwhile
        assert time.monotonic() < deadline
        time.sleep(0.1)
    before = control.stats()["rds:CreateBackup"]
    backup_start.start_batch(w, record["BackupId"], 0)
    assert control.stats()["rds:CreateBackup"] == before          # adopted, not started again
    item = ops.get_backup(w, record["BackupId"])["Resources"][0]
    assert item["Status"] == "Succeeded" and item["ArtifactId"] == w.rds.manual_backups_since(db, 0)[0]
    assert backup_finalize.finalize(w, record["BackupId"])["Status"] == "Created"
