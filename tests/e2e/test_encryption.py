"""Encryption visibility on the local cloud, through the official SDKs: the plan and the record say which disk and
snapshot is encrypted with which KMS key (DescribeDisks, DescribeSnapshots) and which RDS instance has TDE
(DescribeDBInstanceTDE, DescribeDBInstanceEncryptionKey); the plan warns about what is not encrypted."""
from tests.support.product import run_cli


def test_the_plan_and_the_record_say_what_is_encrypted_and_with_which_key(api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", DiskKMSKeyId="key-e2e-disk",
                          Postgres=pg_db[1], RdsBackupPolicy={"TDEKey": "key-e2e-tde"})
    disk, db = seeded["Disks"][0]["DiskId"], seeded["DBInstances"][0]["DBInstanceId"]
    status, plan = api.call("GET", f"/service-instances/{si}/plan")
    assert status == 200
    planned = {r["ResourceId"]: r["Encryption"] for r in plan["Resources"]}
    assert planned[disk] == {"Encrypted": True, "KeyId": "key-e2e-disk", "By": "ECS disk (Encrypted, KMSKeyId)"}
    assert planned[db] == {"Encrypted": True, "KeyId": "key-e2e-tde", "By": "TDE"}
    assert not [w for w in plan["Warnings"] if "encrypted" in w]
    record = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    shown = {i["ResourceId"]: i["Encryption"] for i in record["Resources"]}
    assert shown[disk]["KeyId"] == "key-e2e-disk" and shown[disk]["By"].startswith("ECS snapshot")
    assert shown[db]["KeyId"] == "key-e2e-tde"


def test_the_plan_warns_about_an_unencrypted_disk_and_the_cli_shows_each_key(product, api, control, si):
    disk = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0]["DiskId"]
    plan = api.call("GET", f"/service-instances/{si}/plan")[1]
    assert any(w.startswith(f"{disk}: not encrypted") for w in plan["Warnings"]), plan["Warnings"]
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", DiskKMSKeyId="key-e2e-cli")
    done = run_cli(product.endpoint, "plan", "--instance", si)
    assert done.returncode == 0, done.stderr
    assert "yes (key-e2e-cli)" in done.stdout and f"warning: {disk}: not encrypted" in done.stdout
