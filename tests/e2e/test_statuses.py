"""Statuses that say what happened (docs/statuses.md), end to end on the local cloud: a cancel ends Cancelled with one
sentence, a restore's cause starts with the one database that failed and counts it alone, a backup with one failed
disk is PartiallyCreated (and says it cannot be restored yet), and a restore's summary says what an operator needs
after it."""
import json

import psycopg2

from tests.support import wait_until
from tests.support.product import run_cli


def _running(api, record_id: str) -> None:
    wait_until(lambda: all(r["Status"] == "Running"
                           for r in api.call("GET", f"/backups/{record_id}")[1]["Resources"]), timeout=30)


def _one_sentence(text: str) -> None:
    """One sentence: no second sentence, no failure count, no cause line."""
    assert text.startswith("Cancelled by the caller") and ". " not in text and " — " not in text, text
    assert "failed" not in text, text


def test_a_backup_cancelled_mid_way_ends_cancelled_with_one_sentence(product, api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB", Postgres=pg_db[1])
    control.faults(stuck=[d["DiskId"] for d in seeded["Disks"]], op_delay_ms=1500)
    record = api.call("POST", "/backups", {"ServiceInstanceId": si})[1]
    _running(api, record["BackupId"])
    status, cancelled = api.call("POST", f"/backups/{record['BackupId']}/cancel")
    control.clear_faults()
    assert status == 200 and cancelled["Status"] == "Cancelled", cancelled
    detail = cancelled["StatusDetail"]
    _one_sentence(detail)
    assert "3 of 3 resources had been started and what was made of them was deleted" in detail
    assert "nothing is left behind" in detail and f"{si} ran throughout" in detail
    assert {r["Status"] for r in cancelled["Resources"]} == {"Cancelled"}
    assert cancelled["Cause"] is None and cancelled["RestorableUntil"] is None and cancelled["Restorable"] is False
    shown = run_cli(product.endpoint, "backup", "show", record["BackupId"])
    assert shown.returncode == 0 and f"{record['BackupId']}  Cancelled" in shown.stdout and detail in shown.stdout


def test_a_restore_cancelled_while_its_databases_come_back_ends_cancelled_with_one_sentence(product, api, control,
                                                                                          si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    rds_id, disk = seeded["DBInstances"][0]["DBInstanceId"], seeded["Disks"][0]["DiskId"]
    backup = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    control.faults(stuck=[rds_id])                       # its restore task never ends: RestoringDatabases
    restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})[1]
    wait_until(lambda: [i["Status"] for i in api.call("GET", f"/restores/{restore['RestoreId']}")[1]["Resources"]
                        if i["ResourceId"] == rds_id] == ["Running"])       # RDS restores its copy, beside the live
    status, cancelled = api.call("POST", f"/restores/{restore['RestoreId']}/cancel")
    control.clear_faults()
    assert status == 200 and cancelled["Status"] == "Cancelled", cancelled
    assert cancelled["Phase"] == "Done"
    detail = cancelled["StatusDetail"]
    _one_sentence(detail)
    assert detail.startswith("Cancelled by the caller in RestoringDatabases: no disk was touched; the live databases "
                             "are untouched"), detail
    assert detail.endswith("no instance was stopped"), detail
    items = {i["ResourceId"]: i for i in cancelled["Resources"]}
    assert (items[rds_id]["Status"], items[disk]["Status"]) == ("Cancelled", "NotStarted")
    assert items[disk]["ErrorMessage"] == "not started: the restore was cancelled before it"
    assert cancelled["Cause"] is None
    shown = run_cli(product.endpoint, "restore", "show", restore["RestoreId"])
    assert shown.returncode == 0 and "Cancelled" in shown.stdout and detail in shown.stdout


def test_one_failed_database_is_the_cause_and_the_only_failure_counted(product, api, control, si, pg_db, my_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1], MySQL=my_db[1])
    ids = {d["Engine"]: d["DBInstanceId"] for d in seeded["DBInstances"]}
    disk = seeded["Disks"][0]["DiskId"]
    backup = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    assert backup["Status"] == "Created"
    control.faults(fail=[ids["MySQL"]])                  # its restore task fails; PostgreSQL's succeeds
    restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})[1]
    final = api.wait(restore["RestoreId"])
    control.clear_faults()
    assert final["Status"] == "RestoreFailed"
    items = {i["ResourceId"]: i for i in final["Resources"]}
    mysql = items[ids["MySQL"]]
    assert mysql["Status"] == "Failed"
    detail = final["StatusDetail"]
    assert detail.startswith(f"{ids['MySQL']} {mysql['ErrorCode']}: {' '.join(mysql['ErrorMessage'].split())}"), \
        detail
    assert "1 of 3 resources failed, stopped in RestoringDatabases" in detail and "1 not started" in detail
    assert "1 rolled back" in detail and "also failed" not in detail
    assert [i["Status"] for i in final["Resources"]].count("Failed") == 1
    assert (items[ids["PostgreSQL"]]["Status"], items[disk]["Status"]) == ("RolledBack", "NotStarted")
    assert final["Cause"] == {"ResourceId": ids["MySQL"], "Code": mysql["ErrorCode"],
                              "Message": " ".join(mysql["ErrorMessage"].split()), "RequestId": mysql["RequestId"],
                              "Phase": "RestoringDatabases"}
    shown = run_cli(product.endpoint, "restore", "show", restore["RestoreId"])
    assert detail in shown.stdout                        # never cut
    copy = items[ids["PostgreSQL"]]["Databases"][0]["RestoredName"]
    assert f"left as {copy}; drop it when not needed: DROP DATABASE \"{copy}\";" in shown.stdout


def test_a_backup_with_one_failed_disk_is_partially_created_and_restores_its_good_disk_by_selection(product, api,
                                                                                                     control, si):
    disks = [control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0] for _ in range(2)]
    control.faults(fail=[disks[1]["DiskId"]])            # two ECS instances: two snapshots, one fails
    done = run_cli(product.endpoint, "backup", "create", "--instance", si, "--wait", "--json")
    control.clear_faults()
    assert done.returncode == 4, done.stderr            # completed with issues
    record = json.loads(done.stdout)
    assert record["Status"] == "PartiallyCreated"
    items = {i["ResourceId"]: i for i in record["Resources"]}
    assert (items[disks[0]["DiskId"]]["Status"], items[disks[1]["DiskId"]]["Status"]) == ("Succeeded", "Failed")
    assert record["StatusDetail"].startswith(f"{disks[1]['DiskId']} SnapshotFailed: ")
    assert "1 of 2 resources failed" in record["StatusDetail"]
    assert f"nestbackup: PartiallyCreated: {record['StatusDetail']}" in done.stderr
    assert record["Restorable"] is False and record["RestorableUntil"] is None
    assert record["RestorableReason"].startswith("1 of 2 resources were backed up and their artifacts are kept")
    assert "restored by selection" in record["RestorableReason"]
    status, body = api.call("POST", "/restores", {"BackupId": record["BackupId"]})
    assert status == 409 and "restored by selection" in body["Message"], body
    shown = run_cli(product.endpoint, "backup", "show", record["BackupId"])
    assert "restorable until" not in shown.stdout and "not restorable: 1 of 2 resources" in shown.stdout
    status, body = api.call("POST", "/restores", {"BackupId": record["BackupId"], "Resources": [disks[1]["DiskId"]]})
    assert status == 409 and disks[1]["DiskId"] in body["Message"], body          # the failed one: named
    status, restore = api.call("POST", "/restores", {"BackupId": record["BackupId"],
                                                     "Resources": [disks[0]["DiskId"]], "SafetyBackup": False})
    assert status == 202, restore
    assert api.wait(restore["RestoreId"])["Status"] == "Restored"


def test_after_a_restore_the_summary_says_verified_the_safety_backup_and_how_to_drop_what_was_kept_aside(
        product, api, control, si, pg_db):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    backup = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0]) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO t VALUES (1000, 'after the backup')")
    restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"]})[1]
    final = api.wait(restore["RestoreId"], timeout=180)
    assert final["Status"] == "Restored", final
    summary = final["Summary"]
    assert summary["Verified"] is True and summary["Checks"]["Passed"] == 1 and summary["Checks"]["Failed"] == 0
    assert summary["SafetyBackupId"] == final["SafetyBackupId"] and summary["SafetyBackupId"].startswith("backup-")
    assert summary["DowntimeSeconds"] == final["DowntimeSeconds"] and summary["DowntimeSeconds"] is not None
    [kept] = summary["KeptAside"]
    assert kept["Database"] == pg_db[0] and kept["Drop"] == f'DROP DATABASE "{kept["AsideName"]}";'
    shown = run_cli(product.endpoint, "restore", "show", restore["RestoreId"])
    assert shown.returncode == 0, shown.stderr
    assert "verified: 1 passed, 0 failed" in shown.stdout
    assert f"safety backup {summary['SafetyBackupId']}" in shown.stdout
    assert f"kept aside as {kept['AsideName']}; drop it when satisfied: {kept['Drop']}" in shown.stdout
    assert f"instances stopped for {summary['DowntimeSeconds']} s" in shown.stdout
    # the command it gives works as given
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(kept["Drop"])
        cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (kept["AsideName"],))
        assert cur.fetchone()[0] == 0
    admin.close()
