"""RDS restores as the real service runs them (docs/cloud-fidelity.md, "RDS: restores"): a restored database is
listed before its task has filled it, a failed task is seen through the task centre, busy refusals are waited out,
and a restore whose backup artifacts are gone (or unusable) is refused before anything is stopped."""
import json
import time

import psycopg2
import pytest
from alibabacloud_ecs20140526 import models as ecs_m
from alibabacloud_rds20140815 import models as rds_m

from tests.support import make_ecs, make_rds
from tests.support.product import start_product


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    server = start_product(tmp_path_factory, NESTBACKUP_STOP_DEADLINE_SECONDS="4")
    yield server
    server.stop()


def pg_rows(db: str):
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=db) as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM t ORDER BY id")
        return cur.fetchall()


def backup_of(api, si) -> dict:
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    final = api.wait(record["BackupId"])
    assert final["Status"] == "Created", final
    return final


def change(db: str) -> None:
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=db) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (1000, 'after'); DELETE FROM t WHERE id < 5")


def test_a_database_listed_before_its_restore_task_ends_is_not_renamed_early(product, api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=0, Postgres=pg_db[1])
    before = pg_rows(pg_db[0])
    backup = backup_of(api, si)
    change(pg_db[0])
    # The cloud creates the new database, lists it, and only fills it 2.5 s later (then the task ends).
    control.faults(op_delay_ms=2500)
    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
    assert status == 202, restore
    final = api.wait(restore["RestoreId"], 120)
    assert final["Status"] == "Restored", json.dumps(final, indent=1)
    assert final["Verified"] is True
    assert pg_rows(pg_db[0]) == before
    (item,) = final["Resources"]
    assert item["ResourceId"] == seeded["DBInstances"][0]["DBInstanceId"] and item["Databases"][0]["AsideKept"]


def test_a_failed_restore_task_fails_the_item_at_once_with_the_cloud_cause(product, api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=0, Postgres=pg_db[1])
    rds_id = seeded["DBInstances"][0]["DBInstanceId"]
    backup = backup_of(api, si)
    change(pg_db[0])
    live = pg_rows(pg_db[0])
    control.faults(fail=[rds_id], op_delay_ms=500)
    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
    started = time.monotonic()
    final = api.wait(restore["RestoreId"], 60)     # not the 24 h restore deadline
    assert time.monotonic() - started < 60
    assert final["Status"] == "RestoreFailed", json.dumps(final, indent=1)
    (item,) = final["Resources"]
    assert item["ErrorCode"] == "RestoreTableFailed"
    assert "RestoreFailed" in item["ErrorMessage"] and "injected fault" in item["ErrorMessage"]
    assert item["Databases"][0]["State"] == "Failed"
    assert pg_rows(pg_db[0]) == live


def test_busy_refusals_of_restore_table_are_waited_out(product, api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=0, Postgres=pg_db[1])
    rds_id = seeded["DBInstances"][0]["DBInstanceId"]
    before = pg_rows(pg_db[0])
    backup = backup_of(api, si)
    change(pg_db[0])
    control.faults(reject={rds_id: "IncorrectDBInstanceState"})
    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
    time.sleep(3)
    status, now = api.call("GET", f"/restores/{restore['RestoreId']}")
    assert now["Status"] == "Restoring" and now["Resources"][0]["Status"] == "Pending", json.dumps(now, indent=1)
    control.clear_faults()
    final = api.wait(restore["RestoreId"], 120)
    assert final["Status"] == "Restored", json.dumps(final, indent=1)
    assert pg_rows(pg_db[0]) == before


def test_a_restore_whose_artifacts_are_gone_is_refused_before_anything_stops(product, api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="4MiB", Postgres=pg_db[1])
    rds_id = seeded["DBInstances"][0]["DBInstanceId"]
    backup = backup_of(api, si)
    items = {r["ResourceId"]: r for r in backup["Resources"]}
    set_id = items[rds_id]["ArtifactId"]
    snapshot_id = items[seeded["Disks"][0]["DiskId"]]["ArtifactId"]

    make_rds(product.endpoint).delete_backup(rds_m.DeleteBackupRequest(dbinstance_id=rds_id, backup_id=set_id))
    status, body = api.call("POST", "/restores", {"BackupId": backup["BackupId"]})
    assert (status, body["Code"]) == (409, "Conflict"), body
    assert set_id in body["Message"] and rds_id in body["Message"] and body["RequestId"]
    make_ecs(product.endpoint).delete_snapshot(ecs_m.DeleteSnapshotRequest(snapshot_id=snapshot_id))
    status, body = api.call("POST", "/restores", {"BackupId": backup["BackupId"]})
    assert status == 409 and snapshot_id in body["Message"] and set_id in body["Message"], body
    # nothing was recorded, nothing was stopped
    status, listed = api.call("GET", f"/restores?serviceInstanceId={si}")
    assert listed["Restores"] == []
    instance = make_ecs(product.endpoint).describe_instances(ecs_m.DescribeInstancesRequest(
        region_id="cn-hangzhou", instance_ids=json.dumps(seeded["InstanceIds"]))).body.instances.instance[0]
    assert instance.status == "Running"


def test_a_mysql_backup_set_without_table_meta_is_refused_at_create(product, api, control, si, my_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=0, MySQL=my_db[1])
    rds_id = seeded["DBInstances"][0]["DBInstanceId"]
    # The instance's backup policy has database/table restore off (CompressType 8): its sets get MetaStatus "".
    product.cloud.store.update("rds.instance", rds_id, lambda d: d.update(CompressType="8"))
    backup = backup_of(api, si)
    status, body = api.call("POST", "/restores", {"BackupId": backup["BackupId"]})
    assert (status, body["Code"]) == (409, "Conflict"), body
    assert "MetaStatus" in body["Message"] and rds_id in body["Message"]
    status, listed = api.call("GET", f"/restores?serviceInstanceId={si}")
    assert listed["Restores"] == []
