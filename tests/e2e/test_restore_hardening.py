"""A restore never disturbs what is no longer the service instance's, and never leaves its databases from two
points in time."""
import psycopg2


def _move_away(product, si: str, resource_id: str) -> None:
    """The resource now belongs to another service instance: Compute Nest no longer lists it for `si`, and its
    tag names the other one."""
    cloud = product.cloud
    cloud.store.update("computenest.serviceinstance", si, lambda d: d.update(
        Resources=[r for r in d["Resources"] if not r.endswith("/" + resource_id)]))
    kind = "rds.instance" if resource_id.startswith("rm-") else "ecs.disk"
    cloud.store.update(kind, resource_id, lambda d: d.update(
        Tags={k: ("si-somebody-else" if k == "acs:computenest:serviceInstanceId" else v)
              for k, v in d["Tags"].items()}))


def test_a_resource_moved_to_another_service_instance_since_the_backup_is_not_touched(product, api, control, si,
                                                                                     pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    rds_id = seeded["DBInstances"][0]["DBInstanceId"]
    backup = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    assert backup["Status"] == "Created"
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0]) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (9999, 'theirs now')")
    _move_away(product, si, rds_id)
    restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})[1]
    final = api.wait(restore["RestoreId"])
    items = {i["ResourceId"]: i for i in final["Resources"]}
    assert items[rds_id]["ErrorCode"] == "ResourceMoved" and si in items[rds_id]["ErrorMessage"]
    assert items[seeded["Disks"][0]["DiskId"]]["Status"] == "Succeeded"      # what is still ours was restored
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0])
    with conn.cursor() as cur:                                               # the moved database, untouched
        cur.execute("SELECT count(*) FROM t WHERE id = 9999")
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (pg_db[0] + "\\_\\_%",))
        assert cur.fetchall() == []                                          # nothing restored next to it
    conn.close()


def test_when_one_rds_instance_fails_to_restore_no_database_is_swapped_into_place(product, api, control, si, pg_db,
                                                                                  my_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1], MySQL=my_db[1])
    ids = {d["Engine"]: d["DBInstanceId"] for d in seeded["DBInstances"]}
    backup = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    assert backup["Status"] == "Created"
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0]) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (7777, 'after the backup')")
    control.faults(fail=[ids["MySQL"]])                  # its restore task fails; PostgreSQL's succeeds
    restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})[1]
    final = api.wait(restore["RestoreId"])
    control.clear_faults()
    assert final["Status"] == "RestoreFailed"
    items = {i["ResourceId"]: i for i in final["Resources"]}
    pg = items[ids["PostgreSQL"]]
    assert pg["Status"] == "RolledBack" and ids["MySQL"] in pg["ErrorMessage"], pg     # held back, not failed
    restored_name = pg["Databases"][0]["RestoredName"]
    assert restored_name in pg["ErrorMessage"]
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0])
    with conn.cursor() as cur:                           # the live PostgreSQL data stayed in place
        cur.execute("SELECT count(*) FROM t WHERE id = 7777")
        assert cur.fetchone()[0] == 1
    conn.close()
    assert final["StatusDetail"].startswith(f"{ids['MySQL']} ") and "1 rolled back" in final["StatusDetail"]
