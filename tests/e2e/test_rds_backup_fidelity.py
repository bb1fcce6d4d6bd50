"""RDS backups as the real service behaves: paged listings, busy instances, automatic backup tasks, backup set
expiry and table-level restorability (docs/cloud-fidelity.md, "RDS: backups")."""
import time
import uuid
from contextlib import suppress
from datetime import datetime, timezone

import pymysql
import pytest
from alibabacloud_rds20140815 import models as rds_m

from nestbackup.handlers import wiring
from nestbackup.operations import backup as ops
from nestbackup.operations import backup_finalize, backup_poll, backup_start, loading
from tests.support import make_rds, wait_until
from tests.support.crashes import Killed, KilledAfterIntent, wiring_without_flow
from tests.support.product import start_product


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    server = start_product(tmp_path_factory, NESTBACKUP_RDS_DEADLINE_SECONDS="90",
                           NESTBACKUP_RDS_BACKUP_RETENTION_DAYS="30")
    yield server
    server.stop()


@pytest.fixture
def many_my_dbs():
    """35 small MariaDB databases (more than one DescribeDatabases page of 30), each with i+1 rows."""
    names = [f"nbm_{uuid.uuid4().hex[:8]}_{i:02d}" for i in range(35)]
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
    with conn.cursor() as cur:
        for i, name in enumerate(names):
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"CREATE TABLE `{name}`.t (id int PRIMARY KEY)")
            cur.executemany(f"INSERT INTO `{name}`.t VALUES (%s)", [(n,) for n in range(i + 1)])
    yield names, "mysql://root@127.0.0.1:3306/?databases=" + ",".join(names)
    with conn.cursor() as cur:
        cur.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                    (names[0][:13] + "%",))
        for (db,) in cur.fetchall():
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
    conn.close()


def _sets(endpoint, db_instance_id) -> dict:
    body = make_rds(endpoint).describe_backups(rds_m.DescribeBackupsRequest(dbinstance_id=db_instance_id,
                                                                            page_size=100)).body
    return {b.backup_id: b for b in body.items.backup}


def _epoch(text: str) -> float:
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ"):
        with suppress(ValueError):
            return datetime.strptime(text, fmt).replace(tzinfo=timezone.utc).timestamp()
    raise AssertionError(text)


def test_an_instance_with_more_databases_than_one_page_is_backed_up_whole(product, api, control, si, many_my_dbs):
    names, dsn = many_my_dbs
    control.seed(ServiceInstanceId=si, Disks=0, MySQL=dsn)
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    final = api.wait(record["BackupId"])
    assert final["Status"] == "Created", final
    assert sorted(final["Resources"][0]["Databases"]) == sorted(names)
    item = loading.load_backup(wiring(), record["BackupId"]).items[0]
    assert {db: counts["t"] for db, counts in item.row_counts.items()} == {n: i + 1 for i, n in enumerate(names)}
    assert len(wiring().rds.databases(item.resource_id)) == 35


def test_a_backup_waits_for_an_automatic_backup_and_never_takes_its_set(product, api, control, si, pg_db):
    db = control.seed(ServiceInstanceId=si, Disks=0, Postgres=pg_db[1])["DBInstances"][0]["DBInstanceId"]
    auto = control.call("POST", f"/_local/rds/instances/{db}/backups", {"Mode": "Automated", "Seconds": 4})
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    waiting = wait_until(lambda: api.call("GET", f"/backups/{record['BackupId']}")[1]["Resources"][0].get("WaitReason"),
                         timeout=30)
    assert waiting.startswith("BackupJobExists")
    final = api.wait(record["BackupId"])
    assert final["Status"] == "Created", final
    item = final["Resources"][0]
    assert item["WaitReason"] is None
    sets = _sets(product.endpoint, db)
    assert sets[item["ArtifactId"]].backup_mode == "Manual"
    assert [s.backup_mode for s in sets.values()].count("Automated") == 1
    assert auto["BackupJobId"] != loading.load_backup(wiring(), record["BackupId"]).items[0].job_id


def test_a_backup_waits_while_the_instance_is_not_running(product, api, control, si, pg_db):
    db = control.seed(ServiceInstanceId=si, Disks=0, Postgres=pg_db[1])["DBInstances"][0]["DBInstanceId"]
    control.call("POST", f"/_local/rds/instances/{db}", {"Status": "Rebooting"})
    try:
        status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
        waiting = wait_until(lambda: api.call("GET", f"/backups/{record['BackupId']}")[1]["Resources"][0].get(
            "WaitReason"), timeout=30)
        assert waiting.startswith("IncorrectDBInstanceState")
        assert api.call("GET", f"/backups/{record['BackupId']}")[1]["Status"] == "Creating"
    finally:
        control.call("POST", f"/_local/rds/instances/{db}", {"Status": "Running"})
    assert api.wait(record["BackupId"])["Status"] == "Created"


def test_a_start_run_again_after_a_crash_never_adopts_an_automatic_task(product, control, si, pg_db):
    db = control.seed(ServiceInstanceId=si, Disks=0, Postgres=pg_db[1])["DBInstances"][0]["DBInstanceId"]
    w = wiring_without_flow()
    record = ops.create_backup(w, si)
    killed = wiring_without_flow()
    killed.records = KilledAfterIntent(w.records)
    auto = control.call("POST", f"/_local/rds/instances/{db}/backups", {"Mode": "Automated", "Seconds": 3})
    with suppress(Killed):         # the intent is recorded; CreateBackup's answer never is
        backup_start.start_batch(killed, record["BackupId"], 0)
    backup_start.start_batch(w, record["BackupId"], 0)            # the flow's retry
    item = loading.load_backup(w, record["BackupId"]).items[0]
    assert item.job_id != auto["BackupJobId"]
    deadline = time.monotonic() + 60
    while not backup_poll.poll(w, record["BackupId"])["Done"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert backup_finalize.finalize(w, record["BackupId"])["Status"] == "Created"
    item = loading.load_backup(w, record["BackupId"]).items[0]
    assert _sets(product.endpoint, db)[item.artifact_id].backup_mode == "Manual"


def test_expiry_and_table_restorability_are_recorded(product, api, control, si, pg_db, my_db):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1], MySQL=my_db[1],
                 RdsBackupPolicy={"BackupRetentionPeriod": 9, "TableRestore": False})
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    final = api.wait(record["BackupId"])
    assert final["Status"] == "Created", final
    by_engine = {r.get("Engine"): r for r in final["Resources"]}
    day = 86400
    end = _epoch(final["EndTime"])
    # MySQL takes the product's BackupRetentionPeriod (30 days); PostgreSQL keeps the instance policy's 9
    assert abs(_epoch(by_engine["MySQL"]["ExpiresAt"]) - (end + 30 * day)) < 600
    assert abs(_epoch(by_engine["PostgreSQL"]["ExpiresAt"]) - (end + 9 * day)) < 600
    assert by_engine[None]["ExpiresAt"] is None                     # the disk snapshot does not expire
    assert final["RestorableUntil"] == by_engine["PostgreSQL"]["ExpiresAt"]
    assert (by_engine["MySQL"]["Restorable"], by_engine["PostgreSQL"]["Restorable"]) == (False, True)
    assert "MetaStatus ''" in by_engine["MySQL"]["RestorableReason"]
    listed = api.call("GET", f"/backups?serviceInstanceId={si}")[1]["Backups"]
    assert listed[0]["RestorableUntil"] == final["RestorableUntil"]
    document = api.call("GET", "/openapi.json", token=None)[1]["components"]["schemas"]
    assert "RestorableUntil" in document["Backup"]["properties"]
    assert {"ExpiresAt", "Restorable", "RestorableReason", "WaitReason"} <= set(document["Item"]["properties"])
    from click.testing import CliRunner

    from nestbackup.cli.main import main as cli
    shown = CliRunner().invoke(cli, ["backup", "show", record["BackupId"], "--endpoint", product.endpoint + "/api",
                                     "--token", "test-admin-token"])
    assert shown.exit_code == 0, shown.output
    assert f"restorable until {final['RestorableUntil']}" in shown.output
    assert "not restorable: MetaStatus" in shown.output


def test_plan_warns_for_a_mysql_instance_without_table_restore(product, api, control, si, pg_db, my_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=0, Postgres=pg_db[1], MySQL=my_db[1],
                          RdsBackupPolicy={"TableRestore": False})
    mysql = next(d["DBInstanceId"] for d in seeded["DBInstances"] if d["Engine"] == "MySQL")
    status, plan = api.call("GET", f"/service-instances/{si}/plan")
    assert status == 200, plan
    table_restore = [w for w in plan["Warnings"] if "database and table restore" in w]   # (others: encryption)
    assert len(table_restore) == 1 and table_restore[0].startswith(mysql)
    assert {r["ResourceId"]: r.get("TableRestore") for r in plan["Resources"]}[mysql] is False
    control.call("POST", f"/_local/rds/instances/{mysql}", {"TableRestore": True})
    assert not [w for w in api.call("GET", f"/service-instances/{si}/plan")[1]["Warnings"]
                if "database and table restore" in w]


def test_a_refused_rds_delete_is_recorded_once_and_retention_does_not_loop_on_it(product, api, control, si, pg_db):
    """A set RDS lists with StoreStatus Disabled (here: BackupsDeletable false) is never asked for: the item says
    when RDS deletes it itself, once; retention does not come back to it, a delete by hand looks again."""
    from nestbackup.decisions.retention import Retention
    from nestbackup.operations.schedules import apply_retention

    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1],
                 RdsBackupPolicy={"BackupsDeletable": False})
    first = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    assert first["Status"] == "Created"
    api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    before = control.stats().get("rds:DeleteBackup", 0)
    w = wiring()
    for _ in range(4):                     # looked at once; later retention runs do not look again
        assert apply_retention(w, si, Retention(keep_last=1), time.time()) == []
    assert control.stats().get("rds:DeleteBackup", 0) == before          # never asked where RDS refuses
    record = api.call("GET", f"/backups/{first['BackupId']}")[1]
    assert (record["Status"], record.get("AwaitingExpiry")) == ("DeleteFailed", True)
    rds = next(r for r in record["Resources"] if r["ResourceType"] == "rds")
    assert rds["DeleteRefused"].startswith("BackupSetNotDeletable") and "expire" in record["StatusDetail"]
    assert f"expires at {rds['ExpiresAt']}" in rds["DeleteRefused"]
    status, again = api.call("DELETE", f"/backups/{first['BackupId']}")     # by hand: looked at again
    assert control.stats().get("rds:DeleteBackup", 0) == before and again["Status"] == "DeleteFailed"


def test_a_set_younger_than_rds_deletes_is_kept_until_it_expires_and_deleted_once_old_enough(
        product, api, control, si, pg_db):
    """DeleteBackup takes a set only once it is older than seven days (log backup off; API reference): before, the
    product does not ask and says when the set expires; once the set is old enough, a delete by hand deletes it."""
    db = control.seed(ServiceInstanceId=si, Disks=0, Postgres=pg_db[1],
                      RdsBackupPolicy={"DeletableAfterDays": 7})["DBInstances"][0]["DBInstanceId"]
    backup = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    set_id = backup["Resources"][0]["ArtifactId"]
    assert _sets(product.endpoint, db)[set_id].store_status == "Disabled"
    before = control.stats().get("rds:DeleteBackup", 0)
    status, refused = api.call("DELETE", f"/backups/{backup['BackupId']}")
    assert refused["Status"] == "DeleteFailed" and refused.get("AwaitingExpiry") is True, refused
    assert control.stats().get("rds:DeleteBackup", 0) == before
    control.call("POST", f"/_local/rds/backups/{set_id}/age", {"Days": 8})
    assert _sets(product.endpoint, db)[set_id].store_status == "Enabled"
    status, deleted = api.call("DELETE", f"/backups/{backup['BackupId']}")
    assert deleted["Status"] == "Deleted", deleted
    assert control.stats()["rds:DeleteBackup"] == before + 1 and set_id not in _sets(product.endpoint, db)


@pytest.mark.parametrize("task_listed_for", [0, 600], ids=["task-forgotten-at-once", "task-listed-by-id"])
def test_a_finished_job_that_drops_out_and_a_set_listed_late_still_make_a_created_backup_with_its_facts(
        product, api, control, si, pg_db, task_listed_for):
    """DescribeBackupTasks lists unfinished tasks; a finished one may be gone (here at once), and the new set shows
    in DescribeBackups late (here 3 s): the backup is a success, its set the one the job made, its facts read once
    the set shows."""
    db = control.seed(ServiceInstanceId=si, Disks=0, Postgres=pg_db[1],
                      RdsBackupPolicy={"BackupRetentionPeriod": 9, "TaskListedForSeconds": task_listed_for,
                                       "SetListedAfterSeconds": 3})["DBInstances"][0]["DBInstanceId"]
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    final = api.wait(record["BackupId"])
    item = final["Resources"][0]
    assert final["Status"] == "Created", final
    assert item["Status"] == "Succeeded" and item["ArtifactId"] in _sets(product.endpoint, db)
    assert item["Restorable"] is True
    assert abs(_epoch(item["ExpiresAt"]) - (_epoch(final["EndTime"]) + 9 * 86400)) < 600


@pytest.mark.parametrize("storage, method", [("cloud_essd", "Snapshot"), ("local_ssd", "Physical")])
def test_a_mysql_instance_is_backed_up_by_the_method_its_storage_takes(product, api, control, si, my_db, storage,
                                                                         method):
    """CreateBackup's BackupMethod: Physical on local SSDs, Snapshot on cloud disks (the local cloud refuses the other
    with 400 InvalidBackupMethod.ValueNotSupport, as RDS documents)."""
    db = control.seed(ServiceInstanceId=si, Disks=0, MySQL=my_db[1],
                      RdsBackupPolicy={"StorageType": storage})["DBInstances"][0]["DBInstanceId"]
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    final = api.wait(record["BackupId"])
    assert final["Status"] == "Created", final
    assert _sets(product.endpoint, db)[final["Resources"][0]["ArtifactId"]].backup_method == method
