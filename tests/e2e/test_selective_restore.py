"""Selective restore and its preview, end to end on the local cloud with real PostgreSQL and MariaDB: a preview
changes nothing (no state-changing cloud call, no record), a database-only restore leaves every ECS instance
Running and its disks untouched, and a one-disk restore stops only the instance that disk is attached to."""
import threading
import time

import psycopg2
import pymysql

from tests.support import sha256_of
from tests.support.product import backup_of, instance_status, pg_rows, run_cli, wait_restore

# What a preview may ask of the cloud: reads only (the Tablestore ones included).
READ_PREFIXES = ("Describe", "List", "Get", "BatchGetRow")


def _write_after_backup(disks, pg_name, my_name):
    for disk in disks:
        with open(disk["Path"], "r+b") as f:
            f.write(b"written after the backup")
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_name) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (1000, 'after')")
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=my_name, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("DELETE FROM t WHERE id < 10")
    conn.close()


def _my_count(name):
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=name, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM t")
        (count,) = cur.fetchone()
    conn.close()
    return count


class Watch:
    """Each instance's statuses as DescribeInstances shows them while a restore runs."""

    def __init__(self, endpoint, instance_ids):
        self.seen = {iid: set() for iid in instance_ids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(endpoint,), daemon=True)
        self._thread.start()

    def _run(self, endpoint):
        while not self._stop.is_set():
            for iid in self.seen:
                self.seen[iid].add(instance_status(endpoint, iid))
            time.sleep(0.02)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.seen


def test_a_preview_changes_nothing_and_a_database_only_restore_stops_no_instance(product, api, control, si, pg_db,
                                                                                  my_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB", Postgres=pg_db[1], MySQL=my_db[1])
    backup = backup_of(api, si)
    pg, my = (next(d["DBInstanceId"] for d in seeded["DBInstances"] if d["Engine"] == e) for e in ("PostgreSQL",
                                                                                                     "MySQL"))
    pg_before = pg_rows(pg_db[0])
    _write_after_backup(seeded["Disks"], pg_db[0], my_db[0])
    disks_now = {d["DiskId"]: sha256_of(d["Path"]) for d in seeded["Disks"]}
    body = {"BackupId": backup["BackupId"], "Databases": {pg: [pg_db[0]], my: [my_db[0]]}}

    control.call("DELETE", "/_local/stats")
    status, preview = api.call("POST", "/restores/preview", body)
    assert status == 200, preview
    changing = sorted(a for a in control.stats()            # fc: the API function's own invocation
                      if not a.startswith("fc:") and not a.split(":", 1)[1].startswith(READ_PREFIXES))
    assert not changing, f"a preview made state-changing calls: {changing}"
    assert api.call("GET", f"/restores?serviceInstanceId={si}")[1]["Restores"] == []
    assert preview["Stops"] == [] and preview["ExpectedDowntimeSeconds"] == 0
    assert {(r["DBInstanceId"], r["Database"]) for r in preview["Renames"]} == {(pg, pg_db[0]), (my, my_db[0])}
    assert preview["CannotRestore"] == [] and preview["Refused"] is None
    # a whole restore's preview stops the instance
    assert api.call("POST", "/restores/preview", {"BackupId": backup["BackupId"]})[1]["Stops"] == \
        seeded["InstanceIds"]

    watch = Watch(product.endpoint, seeded["InstanceIds"])
    status, restore = api.call("POST", "/restores", body)
    assert status == 202, restore
    final = wait_restore(api, restore["RestoreId"])
    seen = watch.stop()
    assert final["Status"] == "Restored", final["StatusDetail"]
    assert seen == {iid: {"Running"} for iid in seeded["InstanceIds"]}
    assert control.stats().get("ecs:StopInstances", 0) == 0 and control.stats().get("ecs:ResetDisk", 0) == 0
    assert {d["DiskId"]: sha256_of(d["Path"]) for d in seeded["Disks"]} == disks_now     # untouched
    assert pg_rows(pg_db[0]) == pg_before and _my_count(my_db[0]) == 50
    assert {r["ResourceId"] for r in final["Resources"]} == {pg, my}
    assert final["DowntimeSeconds"] is None and final["Selection"]["Databases"] == body["Databases"]
    safety = api.call("GET", f"/backups/{final['SafetyBackupId']}")[1]
    assert (safety["Origin"], safety["Scope"]) == ("safety", "partial")
    assert {r["ResourceId"] for r in safety["Resources"]} == {pg, my}


def test_a_one_disk_restore_stops_only_the_instance_it_is_attached_to(product, api, control, si):
    first = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", ComputeNest={"ListResources": False})
    second = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", ComputeNest=False)
    disk, other = first["Disks"][0], second["Disks"][0]
    backup = backup_of(api, si)
    assert {r["ResourceId"] for r in backup["Resources"]} == {disk["DiskId"], other["DiskId"]}
    at_backup = sha256_of(disk["Path"])
    for d in (disk, other):
        with open(d["Path"], "r+b") as f:
            f.write(b"written after the backup")
    other_now = sha256_of(other["Path"])

    control.faults(pace_ms={disk["InstanceId"]: 300})       # its stop and start last long enough to be seen
    watch = Watch(product.endpoint, [disk["InstanceId"], other["InstanceId"]])
    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "Resources": [disk["DiskId"]],
                                                     "SafetyBackup": False})
    assert status == 202, restore
    final = wait_restore(api, restore["RestoreId"])
    seen = watch.stop()
    assert final["Status"] == "Restored", final["StatusDetail"]
    assert seen[other["InstanceId"]] == {"Running"}
    assert seen[disk["InstanceId"]] - {"Running"}, "the disk's own instance was never seen stopping"
    assert sha256_of(disk["Path"]) == at_backup and sha256_of(other["Path"]) == other_now
    assert [r["ResourceId"] for r in final["Resources"]] == [disk["DiskId"]]


def test_a_selection_not_in_the_backup_is_refused_with_its_name(product, api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    backup = backup_of(api, si)
    for path in ("/restores", "/restores/preview"):
        status, error = api.call("POST", path, {"BackupId": backup["BackupId"], "Resources": ["d-not-there"]})
        assert status == 400 and "d-not-there" in error["Message"], error
    status, error = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "Databases": {"x": "y"}})
    assert status == 400 and error["Code"] == "InvalidParameter", error
    assert api.call("GET", f"/restores?serviceInstanceId={si}")[1]["Restores"] == []


def test_the_cli_previews_and_restores_a_selection(product, api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    backup = backup_of(api, si)
    rds = seeded["DBInstances"][0]["DBInstanceId"]
    shown = run_cli(product.endpoint, "restore", "preview", "--backup", backup["BackupId"], "--database",
                    f"{rds}:{pg_db[0]}")
    assert shown.returncode == 0, shown.stderr
    assert "stops: nothing" in shown.stdout and f"rename on {rds}: {pg_db[0]} <-" in shown.stdout
    bad = run_cli(product.endpoint, "restore", "create", "--backup", backup["BackupId"], "--database", rds)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "RDSID:NAME" in bad.stderr
    done = run_cli(product.endpoint, "restore", "create", "--backup", backup["BackupId"], "--database",
                   f"{rds}:{pg_db[0]}", "--no-safety-backup", "--wait")
    assert done.returncode == 0, done.stderr
    assert f"selective: {rds}:{pg_db[0]}" in done.stdout
