"""A rename step that cannot do its work: the restore fails, the instance runs again, and no data is lost: the live
database is untouched under its name and the restored copy is kept under the name the record gives."""
import pytest

from tests.support.product import backup_of, instance_status, pg_rows, start_product, wait_restore


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    server = start_product(tmp_path_factory, NESTBACKUP_STOP_DEADLINE_SECONDS="4",
                           db_accounts={"PostgreSQL": {"User": "no_such_role"}})
    yield server
    server.stop()


def test_a_failing_rename_keeps_both_copies_and_starts_the_instance(product, api, control, si, pg_db):
    import psycopg2
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    backup = backup_of(api, si)
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0]) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (1000, 'after')")
    live = pg_rows(pg_db[0])
    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
    final = wait_restore(api, restore["RestoreId"], timeout=300)
    assert final["Status"] == "RestoreFailed", final
    item = next(r for r in final["Resources"] if r["ResourceType"] == "rds")
    assert item["Status"] == "Failed" and item["ErrorCode"]
    (db,) = item["Databases"]
    assert pg_rows(pg_db[0]) == live                                  # live data untouched, under its name
    assert (1000, "after") not in pg_rows(db["RestoredName"])        # the restored copy, kept
    assert instance_status(product.endpoint, seeded["InstanceIds"][0]) == "Running"
