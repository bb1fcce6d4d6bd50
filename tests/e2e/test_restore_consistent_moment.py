"""One moment for the whole service instance, end to end on real servers: a restore of a hooked backup brings its
MariaDB database (binary logs) and PostgreSQL database (log backup on: base backup and archived WAL) to the backup's
moment T, the second its disks were snapshotted at with the instance frozen, not to their backup sets. The sets are
held (the RDS instances stuck) until after T, so each set holds a row written after T: a restore from the set would
bring it back, a restore to T does not; the row written after the earlier backup (where the logs start) and before
T is there."""
import json

import pytest

from tests.e2e.test_restore_point_in_time import my_exec, my_rows, next_second, pg_exec, pg_rows
from tests.support import wait_until
from tests.support.product import run_cli

pytestmark = pytest.mark.slow


def test_a_restore_of_a_hooked_backup_brings_the_databases_to_its_moment(product, api, control, si, my_db, pg_db):
    name, pg_name = my_db[0], pg_db[0]
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="1MiB", MySQL=my_db[1], Postgres=pg_db[1],
                          RdsBackupPolicy={"LogBackup": True})
    ids = {i["Engine"]: i["DBInstanceId"] for i in seeded["DBInstances"]}
    disk = seeded["Disks"][0]["DiskId"]
    status, first = api.call("POST", "/backups", {"ServiceInstanceId": si})      # where the logs start
    assert status == 202 and api.wait(first["BackupId"])["Status"] == "Created"
    next_second()
    my_exec(name, "INSERT INTO t VALUES (100, 'before T')", "DELETE FROM t WHERE id = 2")
    pg_exec(pg_name, "INSERT INTO t VALUES (100, 'before T')", "DELETE FROM t WHERE id = 2")
    at_moment, pg_at_moment = my_rows(name), pg_rows(pg_name)
    next_second()

    status, out = api.call("PUT", f"/service-instances/{si}/backup-settings",
                           {"Hooks": {"Pre": "sync", "Post": "true", "TimeoutSeconds": 30}})
    assert status == 200, out
    control.faults(stuck=list(ids.values()))           # the RDS sets are taken after T
    status, hooked = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, hooked
    moment = wait_until(lambda: api.call("GET", f"/backups/{hooked['BackupId']}")[1].get("ConsistentAt"),
                        timeout=30)
    my_exec(name, "INSERT INTO t VALUES (200, 'after T')", "DELETE FROM t WHERE id < 10")
    pg_exec(pg_name, "INSERT INTO t VALUES (200, 'after T')", "DELETE FROM t WHERE id < 10")
    control.clear_faults()
    backup = api.wait(hooked["BackupId"])
    assert backup["Status"] == "Created" and backup["AtConsistentMoment"] == [disk], backup

    shown = run_cli(product.endpoint, "restore", "preview", "--backup", backup["BackupId"], "--json")
    assert shown.returncode == 0, shown.stderr
    replaced = {r["ResourceId"]: r for r in json.loads(shown.stdout)["Replaced"]}
    assert {replaced[i]["RestoredTo"] for i in ids.values()} == {"consistent-moment"}, replaced

    done = run_cli(product.endpoint, "restore", "create", "--backup", backup["BackupId"], "--no-safety-backup",
                   "--wait", "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    final = json.loads(done.stdout[done.stdout.index("{"):])
    second = moment[:19] + "Z"                       # T rounded down to RDS's whole second
    assert final["Status"] == "Restored" and final["ConsistentAt"] == moment, final
    assert sorted(final["AtConsistentMoment"]) == sorted([disk, *ids.values()])
    for item in final["Resources"]:
        if item["ResourceType"] == "rds":
            assert (item["RestoredTo"], item["RestoreTime"]) == ("consistent-moment", second), item
            assert item["Verified"] is True and "row counts not compared" in item["Verification"], item
    assert my_rows(name) == at_moment                # the row before T, none after it (though its set has them)
    assert pg_rows(pg_name) == pg_at_moment
