"""Point-in-time restore of databases on real servers: the local RDS restores a MariaDB database to a chosen second
by loading the backup's dump and replaying the server's row-based binary logs from the position recorded with it,
and a PostgreSQL one (log backup on) by recovering the backup's base backup with the archived WAL in a temporary
server; then the product swaps them in. Rows written before and after the second prove where it stopped. An
instance with log backup off is explained by the window and refused before anything changes."""
import json
import time
from datetime import datetime, timezone

import psycopg2
import pymysql
import pytest

from tests.support.product import run_cli

pytestmark = pytest.mark.slow


def my_rows(db: str) -> list:
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=db, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id, v FROM t ORDER BY id")
            return list(cur.fetchall())
    finally:
        conn.close()


def my_exec(db: str, *statements: str) -> None:
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=db, autocommit=True)
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


def pg_rows(db: str) -> list:
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=db) as conn, conn.cursor() as cur:
        cur.execute("SELECT id, v FROM t ORDER BY id")
        return cur.fetchall()


def pg_exec(db: str, *statements: str) -> None:
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=db) as conn, conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)


def next_second() -> None:
    time.sleep(1.05 - time.time() % 1)


def second(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_point_in_time_restore_brings_tables_back_to_the_rows_they_had_at_that_second(product, api, control, si,
                                                                                       my_db, pg_db):
    """MariaDB from its binary logs, PostgreSQL (log backup on) from a base backup and its archived WAL."""
    name, pg_name = my_db[0], pg_db[0]
    seeded = control.seed(ServiceInstanceId=si, Disks=0, MySQL=my_db[1], Postgres=pg_db[1],
                          RdsBackupPolicy={"LogBackup": True})
    ids = {i["Engine"]: i["DBInstanceId"] for i in seeded["DBInstances"]}
    status, backup = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, backup
    assert api.wait(backup["BackupId"])["Status"] == "Created"
    next_second()
    my_exec(name, "INSERT INTO t VALUES (100, 'before')", "UPDATE t SET v = 'changed before' WHERE id = 1",
            "DELETE FROM t WHERE id = 2")
    pg_exec(pg_name, "INSERT INTO t VALUES (100, 'before')", "DELETE FROM t WHERE id = 2")
    at_the_second, pg_at_the_second = my_rows(name), pg_rows(pg_name)
    next_second()
    chosen = second(time.time())              # every write above was logged in an earlier second
    next_second()
    my_exec(name, "INSERT INTO t VALUES (200, 'after')", "UPDATE t SET v = 'changed after' WHERE id = 3",
            "DELETE FROM t WHERE id < 10")
    pg_exec(pg_name, "INSERT INTO t VALUES (200, 'after')", "DELETE FROM t WHERE id < 10")

    shown = run_cli(product.endpoint, "restore", "window", si)
    assert shown.returncode == 0 and ids["MySQL"] in shown.stdout and " .. " in shown.stdout, shown
    status, window = api.call("GET", f"/service-instances/{si}/restore-window")
    assert status == 200, window
    for inst in window["DBInstances"]:
        assert inst["Restorable"] and inst["LogBackup"], inst
        assert inst["EarliestRestoreTime"] <= chosen <= inst["LatestRestoreTime"]

    done = run_cli(product.endpoint, "restore", "create", "--instance", si, "--time", chosen, "--database",
                   f"{ids['MySQL']}:{name}", "--database", f"{ids['PostgreSQL']}:{pg_name}", "--no-safety-backup",
                   "--wait", "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    final = json.loads(done.stdout[done.stdout.index("{"):])
    assert final["Status"] == "Restored" and final["BackupId"] == "" and final["RestoreTime"] == chosen, final
    assert my_rows(name) == at_the_second
    assert pg_rows(pg_name) == pg_at_the_second
    for item in final["Resources"]:
        assert item["Verified"] is True and "row counts not compared" in item["Verification"], item
    mysql_item = next(i for i in final["Resources"] if i["ResourceId"] == ids["MySQL"])
    assert (200, "after") in my_rows(mysql_item["Databases"][0]["AsideName"])   # the live one of before, kept aside


def test_an_instance_without_log_backup_says_why_and_is_refused_before_anything(product, api, control, si, pg_db):
    control.seed(ServiceInstanceId=si, Disks=0, Postgres=pg_db[1])
    status, window = api.call("GET", f"/service-instances/{si}/restore-window")
    assert status == 200, window
    (inst,) = window["DBInstances"]
    assert not inst["Restorable"] and "log backup is off" in inst["Reason"], inst
    status, refused = api.call("POST", "/restores", {"ServiceInstanceId": si, "RestoreTime": second(time.time() - 5)})
    assert status == 409 and "log backup is off" in refused["Message"], refused
    status, refused = api.call("POST", "/restores", {"ServiceInstanceId": si, "RestoreTime": "yesterday"})
    assert status == 400 and refused["Code"] == "InvalidParameter", refused
    bad = run_cli(product.endpoint, "restore", "create", "--instance", si)
    assert bad.returncode == 2 and "--instance with --time" in bad.stderr and "Traceback" not in bad.stderr
    status, listed = api.call("GET", f"/restores?serviceInstanceId={si}")
    assert status == 200 and listed["Restores"] == []
