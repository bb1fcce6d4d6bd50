"""The whole cloud dies in the middle of a backup or a restore: SIGKILL of the local cloud takes down flows,
functions, the RDS front, everything. It comes back on the same state, and the operation resumes where it was. A
backup ends Created with nothing made twice. A restore ends Restored, with the data of backup time under the
original names and the later data kept aside."""
import signal
import time

import psycopg2
import pytest

from tests.support import Control, free_port, spawn_local_cloud
from tests.support.product import ADMIN, Api, pg_rows


def kill_and_restart(proc, state, port):
    """SIGKILL the local cloud and start it again on the same state dir and port."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return spawn_local_cloud(state, port, admin_token=ADMIN)[0]


@pytest.mark.timeout(600)
def test_a_restore_survives_the_cloud_being_killed_and_restarted(tmp_path, pg_db):
    port, state = free_port(), tmp_path / "state"
    proc, endpoint = spawn_local_cloud(state, port, admin_token=ADMIN)
    try:
        api, control = Api(endpoint), Control(endpoint)
        control.seed(ServiceInstanceId="si-restart", Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
        at_backup = pg_rows(pg_db[0])
        status, backup = api.call("POST", "/backups", {"ServiceInstanceId": "si-restart"})
        assert api.wait(backup["BackupId"], timeout=120)["Status"] == "Created"
        with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0]) as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO t VALUES (1000, 'after')")
        control.faults(op_delay_ms=3000)              # slow cloud work: the kill lands mid-restore
        status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
        deadline = time.monotonic() + 60
        while api.call("GET", f"/restores/{restore['RestoreId']}")[1]["Phase"] != "RestoringData":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        proc = kill_and_restart(proc, state, port)
        final = api.wait(restore["RestoreId"], timeout=300)
        assert final["Status"] == "Restored", final
        assert pg_rows(pg_db[0]) == at_backup
        (db,) = next(r for r in final["Resources"] if r["ResourceType"] == "rds")["Databases"]
        assert (1000, "after") in pg_rows(db["AsideName"])
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.timeout(600)
def test_a_backup_survives_the_cloud_being_killed_and_restarted(tmp_path, pg_db):
    from tests.support.product import snapshots_of
    port, state = free_port(), tmp_path / "state"
    proc, endpoint = spawn_local_cloud(state, port, admin_token=ADMIN)
    try:
        api, control = Api(endpoint), Control(endpoint)
        seeded = control.seed(ServiceInstanceId="si-restart-b", Disks=2, DiskSize="8MiB", Postgres=pg_db[1])
        control.faults(op_delay_ms=3000)
        status, backup = api.call("POST", "/backups", {"ServiceInstanceId": "si-restart-b"})
        deadline = time.monotonic() + 60
        while not any(r["Status"] == "Running" for r in api.call("GET", f"/backups/{backup['BackupId']}")[1][
                "Resources"]):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        proc = kill_and_restart(proc, state, port)
        final = api.wait(backup["BackupId"], timeout=300)
        assert final["Status"] == "Created", final
        for disk in seeded["Disks"]:                       # nothing was made twice
            assert len(snapshots_of(endpoint, disk["DiskId"])) == 1
    finally:
        proc.kill()
        proc.wait(10)
