"""Undo of a restore, end to end: real disk files, real PostgreSQL and MariaDB, the official SDKs over the local
cloud, the restore flow and the CLI."""
import json
import os

import psycopg2
import pymysql

from tests.support import sha256_of
from tests.support.product import backup_of, instance_status, pg_rows, run_cli, snapshots_of, wait_restore


def my_rows(db: str):
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=db, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM t ORDER BY id")
            return cur.fetchall()
    finally:
        conn.close()


def test_an_undo_returns_disks_bytes_and_databases_rows_to_their_state_just_before_the_restore(
        product, api, control, si, pg_db, my_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB", Postgres=pg_db[1], MySQL=my_db[1])
    disks = {d["DiskId"]: d["Path"] for d in seeded["Disks"]}
    backup = backup_of(api, si)
    at_backup = {d: sha256_of(p) for d, p in disks.items()}
    pg_at_backup, my_at_backup = pg_rows(pg_db[0]), my_rows(my_db[0])

    # Life goes on after the backup: this is what the restore replaces and the undo must bring back.
    for path in disks.values():
        with open(path, "r+b") as f:
            f.seek(1 << 20)
            f.write(os.urandom(1 << 20))
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0]) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (1000, 'after'); DELETE FROM t WHERE id < 5")
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=my_db[0], autocommit=True)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (1000, 'after')")
        cur.execute("UPDATE t SET v = 'changed' WHERE id = 1")
    conn.close()
    before_restore = {d: sha256_of(p) for d, p in disks.items()}
    pg_before, my_before = pg_rows(pg_db[0]), my_rows(my_db[0])

    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
    assert status == 202, restore
    restored = wait_restore(api, restore["RestoreId"])
    assert restored["Status"] == "Restored", json.dumps(restored, indent=1)
    assert {d: sha256_of(p) for d, p in disks.items()} == at_backup
    assert pg_rows(pg_db[0]) == pg_at_backup and my_rows(my_db[0]) == my_at_backup
    # each disk was snapshotted at the stop (ECS lists the snapshot), the time it took is part of the downtime
    assert set(restored["UndoSnapshots"]) == set(disks) and restored["UndoableUntil"]
    for disk, sid in restored["UndoSnapshots"].items():
        assert sid in {s.snapshot_id for s in snapshots_of(product.endpoint, disk)}
    assert 0 <= restored["UndoSnapshotSeconds"] <= restored["DowntimeSeconds"]

    shown = run_cli(product.endpoint, "restore", "show", restore["RestoreId"])
    assert f"undoable until {restored['UndoableUntil']}: nestbackup restore undo {restore['RestoreId']} --yes " \
           f"(changed since: " in shown.stdout, shown.stdout
    # The instance ran since the restore: without confirmation the undo is refused, naming why, nothing touched.
    status, refused = api.call("POST", f"/restores/{restore['RestoreId']}/undo", {})
    assert status == 409 and "ran since the restore" in refused["Message"] and refused["RequestId"], refused
    assert {d: sha256_of(p) for d, p in disks.items()} == at_backup

    out = run_cli(product.endpoint, "restore", "undo", restore["RestoreId"])      # no terminal to ask on
    assert out.returncode == 1 and "ran since the restore" in out.stderr and "pass --yes" in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    out = run_cli(product.endpoint, "restore", "undo", restore["RestoreId"], "--yes", "--wait", "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    undo_id = json.loads(out.stdout.strip().splitlines()[-1])["RestoreId"]
    undone = wait_restore(api, undo_id)
    assert undone["Status"] == "Restored" and undone["Origin"] == "undo", json.dumps(undone, indent=1)
    assert undone["Undoes"] == restore["RestoreId"] and undone["Verified"] is True
    # disks byte for byte, databases row for row, as they were just before the restore
    assert {d: sha256_of(p) for d, p in disks.items()} == before_restore
    assert pg_rows(pg_db[0]) == pg_before and my_rows(my_db[0]) == my_before
    assert instance_status(product.endpoint, seeded["InstanceIds"][0]) == "Running"
    # and the undo can be undone in turn: the restored data was kept aside, the disks snapshotted at its stop
    assert undone["UndoableUntil"] and set(undone["UndoSnapshots"]) == set(disks)
    kept = {r["ResourceId"]: r["Databases"][0] for r in undone["Resources"] if r["ResourceType"] == "rds"}
    assert all(db["State"] == "Renamed" and db["AsideKept"] for db in kept.values())
    status, again = api.call("POST", f"/restores/{undo_id}/undo", {"Confirm": True})
    assert status == 202 and again["Undoes"] == undo_id, again
    assert wait_restore(api, again["RestoreId"])["Status"] == "Restored"
    assert {d: sha256_of(p) for d, p in disks.items()} == at_backup      # the restore's state again
    assert pg_rows(pg_db[0]) == pg_at_backup and my_rows(my_db[0]) == my_at_backup


def test_a_snapshot_at_the_stop_that_fails_ends_the_restore_before_any_disk_is_reset(product, api, control, si):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    backup = backup_of(api, si)
    disk = seeded["Disks"][0]
    with open(disk["Path"], "r+b") as f:
        f.write(b"changed after the backup")
    changed = sha256_of(disk["Path"])
    control.faults(fail=[disk["DiskId"]])                             # ECS ends the disk's new snapshot failed
    try:
        status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
        final = wait_restore(api, restore["RestoreId"])
    finally:
        control.clear_faults()
    assert final["Status"] == "RestoreFailed" and "no disk was reset" in final["StatusDetail"], final["StatusDetail"]
    assert sha256_of(disk["Path"]) == changed
    assert instance_status(product.endpoint, seeded["InstanceIds"][0]) == "Running"
    assert final["UndoableUntil"] is None                              # it touched nothing: nothing to undo
