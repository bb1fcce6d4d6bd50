"""Restore of a whole service instance from a backup: stop, roll disks back, restore databases under new names,
rename them into place (the live ones kept aside), start, verify."""
import datetime
import json
import os
import threading
import time
import uuid

import psycopg2
import pymysql
import pytest

from tests.support import sha256_of, wait_until
from tests.support.product import backup_of, instance_status, pg_rows, start_product, wait_restore

HOSTILE = "shop'; `x` \"q\" -- %"


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    server = start_product(tmp_path_factory, NESTBACKUP_STOP_DEADLINE_SECONDS="4")
    yield server
    server.stop()




def my_conn(db: str | None = None):
    return pymysql.connect(host="127.0.0.1", user="root", password="", database=db, autocommit=True)


def my_rows(db: str, query: str = "SELECT * FROM t ORDER BY id"):
    conn = my_conn(db)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.fixture
def my_db_with_objects():
    """A MariaDB database with a table, a view and a trigger writing to an audit table."""
    name = "nbr_" + uuid.uuid4().hex[:10]
    conn = my_conn()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"USE `{name}`")
        cur.execute("CREATE TABLE t (id int PRIMARY KEY, v varchar(20))")
        cur.execute("CREATE TABLE audit (id int AUTO_INCREMENT PRIMARY KEY, tid int)")
        cur.execute("CREATE VIEW big AS SELECT id, v FROM t WHERE id >= 10")
        cur.execute("CREATE TRIGGER t_ins AFTER INSERT ON t FOR EACH ROW INSERT INTO audit (tid) VALUES (NEW.id)")
        cur.executemany("INSERT INTO t VALUES (%s, %s)", [(i, f"v{i}") for i in range(20)])
    yield name, f"mysql://root@127.0.0.1:3306/?databases={name}"
    with conn.cursor() as cur:
        cur.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                    (name + "%",))
        for (schema,) in cur.fetchall():
            cur.execute(f"DROP DATABASE `{schema}`")
    conn.close()


def drop_pg_family(name: str) -> None:
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (name.replace("%", r"\%") + "%",))
        for (db,) in cur.fetchall():
            cur.execute('DROP DATABASE "{}" WITH (FORCE)'.format(db.replace('"', '""')))
    admin.close()


def test_restore_brings_back_disks_and_databases_and_keeps_the_later_data_aside(product, api, control, si, pg_db,
                                                                                my_db_with_objects):
    my_name, my_dsn = my_db_with_objects
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB", Postgres=pg_db[1], MySQL=my_dsn)
    at_backup = {d["DiskId"]: sha256_of(d["Path"]) for d in seeded["Disks"]}
    pg_before, my_before = pg_rows(pg_db[0]), my_rows(my_name)
    audit_before = my_rows(my_name, "SELECT COUNT(*) FROM audit")
    backup = backup_of(api, si)

    # Life goes on after the backup.
    for disk in seeded["Disks"]:
        with open(disk["Path"], "r+b") as f:
            f.seek(1 << 20)
            f.write(os.urandom(1 << 20))
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0]) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (1000, 'after'); DELETE FROM t WHERE id < 5")
    conn = my_conn(my_name)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (1000, 'after')")
        cur.execute("UPDATE t SET v = 'changed' WHERE id = 1")
    conn.close()

    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"]})
    assert status == 202, restore
    assert restore["RestoreId"] == restore["RestoreTaskId"] and restore["Status"] == "Restoring"
    final = wait_restore(api, restore["RestoreId"])
    assert final["Status"] == "Restored", json.dumps(final, indent=1)
    assert final["Phase"] == "Done" and final["EndTime"] and final["Verified"] is True

    # A safety backup was taken first, and it holds the changed data.
    status, safety = api.call("GET", f"/backups/{final['SafetyBackupId']}")
    assert safety["Status"] == "Created"
    # Disks are byte-identical to backup time; the instance runs again.
    assert {d["DiskId"]: sha256_of(d["Path"]) for d in seeded["Disks"]} == at_backup
    assert instance_status(product.endpoint, seeded["InstanceIds"][0]) == "Running"
    # Databases hold the rows of backup time under their own names, views and triggers included ...
    assert pg_rows(pg_db[0]) == pg_before
    assert my_rows(my_name) == my_before
    assert my_rows(my_name, "SELECT COUNT(*) FROM big") == ((10,),)
    assert my_rows(my_name, "SELECT COUNT(*) FROM audit") == audit_before
    conn = my_conn(my_name)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (2000, 'trigger?')")
    conn.close()
    assert my_rows(my_name, "SELECT tid FROM audit WHERE tid = 2000") == ((2000,),)
    # ... and what was written after the backup is kept aside, under the name the record gives.
    items = {r["ResourceId"]: r for r in final["Resources"]}
    for db in seeded["DBInstances"]:
        (entry,) = items[db["DBInstanceId"]]["Databases"]
        assert entry["State"] == "Renamed" and entry["AsideKept"] is True
        if db["Engine"] == "PostgreSQL":
            assert (1000, "after") in pg_rows(entry["AsideName"])
        else:
            assert (1, "changed") in my_rows(entry["AsideName"])
    drop_pg_family(pg_db[0])

    status, listed = api.call("GET", f"/restores?serviceInstanceId={si}")
    assert [r["RestoreId"] for r in listed["Restores"]] == [restore["RestoreId"]]


def test_an_instance_that_refuses_to_stop_is_left_running_and_untouched(product, api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    backup = backup_of(api, si)
    with open(seeded["Disks"][0]["Path"], "r+b") as f:
        f.write(b"changed after the backup")
    changed = sha256_of(seeded["Disks"][0]["Path"])
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0]) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (1000, 'after')")
    live = pg_rows(pg_db[0])
    control.faults(refuse_stop=seeded["InstanceIds"])
    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
    assert status == 202
    final = wait_restore(api, restore["RestoreId"])
    assert final["Status"] == "RestoreFailed"
    assert "did not stop" in final["StatusDetail"] and "no data was touched" in final["StatusDetail"]
    assert sha256_of(seeded["Disks"][0]["Path"]) == changed
    assert pg_rows(pg_db[0]) == live
    assert instance_status(product.endpoint, seeded["InstanceIds"][0]) == "Running"
    # it never stopped: no downtime, and the record says so; the stop phase gave up at its deadline (4 s here)
    assert final["DowntimeSeconds"] == 0 and "not taken down" in final["StatusDetail"]
    phases = {e["Detail"]: _epoch(e["Time"]) for e in api.call("GET", f"/restores/{restore['RestoreId']}/events")[1]
              ["Events"] if e["Event"] == "Phase"}
    assert phases["StartingInstance"] - phases["StoppingInstance"] <= 4 + 2.5, phases


def _epoch(iso: str) -> float:
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_reset_ecs_ends_with_the_disk_untouched_is_never_called_rolled_back(product, api, control, si):
    """ECS accepts the rollback, shows the disk ReIniting, then In_use, and the data was not rolled back: ECS reports
    nothing more (ResetDisk answers only a RequestId), so the record says what it saw and that the content was not
    checked; it never says "rolled back"."""
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    backup = backup_of(api, si)
    disk = seeded["Disks"][0]
    with open(disk["Path"], "r+b") as f:
        f.write(b"changed after the backup")
    changed = sha256_of(disk["Path"])
    # the rollback to the backup's snapshot fails (not the disk: its snapshot at the stop must succeed first)
    control.faults(fail=[backup["Resources"][0]["ArtifactId"]], op_delay_ms=1500)
    try:
        status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
        assert status == 202
        final = wait_restore(api, restore["RestoreId"])
    finally:
        control.clear_faults()
    item = next(r for r in final["Resources"] if r["ResourceId"] == disk["DiskId"])
    assert sha256_of(disk["Path"]) == changed                       # the rollback did not happen
    assert "rolled back" not in item["Verification"] and "rolled back" not in final["Verification"]
    assert item["Verification"].startswith("not checked:") and item["Verified"] is None
    assert "showed the disk ReIniting" in item["Verification"]
    assert instance_status(product.endpoint, seeded["InstanceIds"][0]) == "Running"


def test_a_reset_ecs_refuses_fails_its_disk_with_the_code_and_starts_the_instance(product, api, control, si):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    backup = backup_of(api, si)
    disk = seeded["Disks"][0]
    # a refusal that does not clear (the snapshot is not the disk's); IncorrectDiskStatus (not settled) is waited out
    control.faults(reject={backup["Resources"][0]["ArtifactId"]: "InvalidParameter.Mismatch"})
    try:
        status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
        final = wait_restore(api, restore["RestoreId"])
    finally:
        control.clear_faults()
    item = next(r for r in final["Resources"] if r["ResourceId"] == disk["DiskId"])
    assert final["Status"] == "RestoreFailed"
    assert (item["Status"], item["ErrorCode"]) == ("Failed", "InvalidParameter.Mismatch") and item["RequestId"]
    assert "rolled back" not in (item["Verification"] or "")
    assert instance_status(product.endpoint, seeded["InstanceIds"][0]) == "Running"


def test_a_failed_database_restore_stops_nothing_and_leaves_the_live_data_and_disks(product, api, control, si,
                                                                                     pg_db):
    """The databases are restored into new names before anything is stopped; when that fails, the restore ends
    there: no instance is stopped, no disk reset, no database touched."""
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    backup = backup_of(api, si)
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0]) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (1000, 'after')")
    live = pg_rows(pg_db[0])
    disk = seeded["Disks"][0]
    with open(disk["Path"], "r+b") as f:                  # written after the backup: a reset would undo it
        f.write(b"written after the backup")
    before = sha256_of(disk["Path"])
    stops = control.stats().get("ecs:StopInstances", 0)
    control.faults(reject={seeded["DBInstances"][0]["DBInstanceId"]: "IncorrectBackupSetState"})
    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
    final = wait_restore(api, restore["RestoreId"])
    items = {r["ResourceId"]: r for r in final["Resources"]}
    assert final["Status"] == "RestoreFailed"
    assert items[seeded["DBInstances"][0]["DBInstanceId"]]["ErrorCode"] == "IncorrectBackupSetState"
    assert items[disk["DiskId"]]["Status"] == "NotStarted"        # never touched, not a failure (docs/statuses.md)
    assert "nothing was stopped" in final["StatusDetail"]
    assert pg_rows(pg_db[0]) == live                      # the live database was never touched
    assert control.stats().get("ecs:StopInstances", 0) == stops        # no instance was stopped
    assert sha256_of(disk["Path"]) == before              # the disk was not reset
    assert instance_status(product.endpoint, seeded["InstanceIds"][0]) == "Running"


def test_hostile_database_names_are_restored_and_never_executed(product, api, control, si):
    suffix = uuid.uuid4().hex[:6]
    pg_name, my_name = f"{HOSTILE}{suffix}", f"{HOSTILE}{suffix}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute('CREATE DATABASE "{}"'.format(pg_name.replace('"', '""')))
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_name) as conn, conn.cursor() as cur:
        cur.execute('CREATE TABLE "we\'ird; table" (id int)')
        cur.execute('INSERT INTO "we\'ird; table" VALUES (1), (2)')
    conn = my_conn()
    quoted = "`" + my_name.replace("`", "``") + "`"
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {quoted}")
        cur.execute(f"CREATE TABLE {quoted}.`ta``ble; drop` (id int)")
        cur.execute(f"INSERT INTO {quoted}.`ta``ble; drop` VALUES (1), (2)")
    try:
        from urllib.parse import quote
        seeded = control.seed(ServiceInstanceId=si, Disks=0,
                              Postgres=f"postgresql://postgres@127.0.0.1:5432/postgres?databases={quote(pg_name)}",
                              MySQL=f"mysql://root@127.0.0.1:3306/?databases={quote(my_name)}")
        backup = backup_of(api, si)
        with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_name) as c2, c2.cursor() as cur:
            cur.execute('DELETE FROM "we\'ird; table"')
        with conn.cursor() as cur:
            cur.execute(f"DELETE FROM {quoted}.`ta``ble; drop`")
        status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
        final = wait_restore(api, restore["RestoreId"])
        assert final["Status"] == "Restored", json.dumps(final, indent=1)
        assert pg_rows(pg_name, 'SELECT id FROM "we\'ird; table" ORDER BY id') == [(1,), (2,)]
        assert my_rows(my_name, "SELECT id FROM `ta``ble; drop` ORDER BY id") == ((1,), (2,))
        assert len(seeded["DBInstances"]) == 2
    finally:
        drop_pg_family(pg_name)
        with conn.cursor() as cur:
            cur.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                        (my_name.replace("%", r"\%") + "%",))
            for (schema,) in cur.fetchall():
                cur.execute("DROP DATABASE `{}`".format(schema.replace("`", "``")))
        conn.close()
        admin.close()


def test_restore_preconditions(product, api, control, si):
    disk = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0]
    good = backup_of(api, si)
    control.faults(fail=[disk["DiskId"]])
    status, failed = api.call("POST", "/backups", {"ServiceInstanceId": si})
    failed = api.wait(failed["BackupId"])
    assert failed["Status"] == "CreateFailed"
    status, body = api.call("POST", "/restores", {"BackupId": failed["BackupId"]})
    assert (status, body["Code"]) == (409, "Conflict") and "only a Created backup" in body["Message"]
    status, body = api.call("POST", "/restores", {"BackupId": "backup-000000000000ffffffff"})
    assert (status, body["Code"]) == (404, "NotFound")
    status, body = api.call("POST", "/restores", {"BackupId": good["BackupId"], "SafetyBackup": "yes"})
    assert (status, body["Code"]) == (400, "InvalidParameter")
    # A restore while a backup runs is refused, naming the backup.
    control.clear_faults()
    control.faults(op_delay_ms=3000)
    status, running = api.call("POST", "/backups", {"ServiceInstanceId": si})
    status, body = api.call("POST", "/restores", {"BackupId": good["BackupId"]})
    assert (status, body["Code"]) == (409, "Conflict") and running["BackupId"] in body["Message"]
    api.wait(running["BackupId"])


class _SlowCreate:
    """The record store, except that writing a new record takes half a second (a first request mid-write)."""

    def __init__(self, store) -> None:
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    def create(self, *args, **kwargs):
        time.sleep(0.5)
        return self._store.create(*args, **kwargs)


def test_the_same_client_token_while_the_first_request_still_writes_gives_the_same_restore(product, api, control,
                                                                                              si):
    from nestbackup.operations import restore as restores
    from tests.support.crashes import wiring_without_flow
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="4MiB")
    backup = backup_of(api, si)
    slow, w = wiring_without_flow(), wiring_without_flow()
    slow.records = _SlowCreate(w.records)
    first: list = []
    writer = threading.Thread(target=lambda: first.append(restores.create_restore(
        slow, backup["BackupId"], token="tok-" + si, safety_backup=False)))
    writer.start()
    time.sleep(0.2)                                   # the token is claimed, the record not yet written
    second = restores.create_restore(w, backup["BackupId"], token="tok-" + si, safety_backup=False)
    writer.join()
    assert second["RestoreId"] == first[0]["RestoreId"]
    status, body = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "ClientToken": "tok-" + si,
                                                  "SafetyBackup": True})          # the same token, another request
    assert (status, body["Code"]) == (400, "IdempotentParameterMismatch"), body
    restores.recover(w, second["RestoreId"], {"Code": "TestDone", "Detail": "no flow ran in this test"})


def test_a_service_that_keeps_writing_during_the_backup_still_restores_verified_within_the_window(
        product, api, control, si, pg_db):
    import threading
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    stop, written = threading.Event(), []

    def keep_writing():                    # a live service: rows arrive before, during and after the dump
        conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0])
        conn.autocommit = True             # each row committed at once (`with conn` would hold one transaction)
        try:
            with conn.cursor() as cur:
                n = 10_000
                while not stop.is_set():
                    cur.execute("INSERT INTO t VALUES (%s, 'live')", (n,))
                    written.append(n)
                    n += 1
                    time.sleep(0.01)
        finally:
            conn.close()

    control.faults(op_delay_ms=1500, products=["rds"])
    writer = threading.Thread(target=keep_writing)
    writer.start()
    wait_until(lambda: len(written) > 5)
    try:
        backup = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    finally:
        stop.set()
        writer.join()
        control.clear_faults()
    assert backup["Status"] == "Created" and written
    restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})[1]
    final = api.wait(restore["RestoreId"])
    assert final["Status"] == "Restored", final
    [rds] = [r for r in final["Resources"] if r["ResourceType"] == "rds"]
    assert rds["Verified"] is True and "within the backup window" in rds["Verification"], rds
    assert final["Verified"] is True and "within the backup window" in final["Verification"]
