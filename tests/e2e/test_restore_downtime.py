"""Downtime: a restore brings the databases back under new names while the service still runs, and stops the
instances only for the disk resets and the swap of names. What the service writes meanwhile is kept aside."""
import psycopg2

from tests.support import wait_until
from tests.support.product import instance_status, pg_rows


def test_instances_run_while_databases_are_restored_and_a_write_made_then_is_kept_aside(product, api, control, si,
                                                                                      pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    rds_id, instance = seeded["DBInstances"][0]["DBInstanceId"], seeded["InstanceIds"][0]
    backup = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    assert backup["Status"] == "Created"
    at_backup = pg_rows(pg_db[0])
    stops = control.stats().get("ecs:StopInstances", 0)
    control.faults(stuck=[rds_id])                   # the restore into new names lasts until the test lets it end
    restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})[1]
    restore_id = restore["RestoreId"]
    wait_until(lambda: api.call("GET", f"/restores/{restore_id}")[1]["Phase"] == "RestoringDatabases")

    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0]) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (4242, 'written while the databases were restored')")
    wait_until(lambda: control.stats().get("rds:DescribeHistoryTasks", 0) >= 2)     # a few rounds went by
    assert api.call("GET", f"/restores/{restore_id}")[1]["Phase"] == "RestoringDatabases"
    assert instance_status(product.endpoint, instance) == "Running"
    assert control.stats().get("ecs:StopInstances", 0) == stops           # nothing was stopped yet

    control.clear_faults()
    final = api.wait(restore_id)
    assert final["Status"] == "Restored", final["StatusDetail"]
    assert pg_rows(pg_db[0]) == at_backup                                  # the live database is as at backup time
    aside = final["Resources"][[r["ResourceId"] for r in final["Resources"]].index(rds_id)]["Databases"][0]
    assert (4242, "written while the databases were restored") in pg_rows(aside["AsideName"])
    assert control.stats().get("ecs:StopInstances", 0) == stops + 1
    assert final["DowntimeSeconds"] is not None and final["DowntimeSeconds"] >= 0
    assert instance_status(product.endpoint, instance) == "Running"
    events = [e["Detail"] for e in api.call("GET", f"/restores/{restore_id}/events")[1]["Events"]
              if e["Event"] == "Phase"]
    assert events.index("RestoringDatabases") < events.index("StoppingInstance") < events.index("RestoringData")
