"""Encryption visibility on the in-memory ports: the record says, per artifact, whether it is encrypted and with
which key (a snapshot as DescribeSnapshots says, an RDS instance's sets as its TDE and disk encryption key say), and
the plan lists the same and warns about what is not encrypted or not known."""
from nestbackup.operations.backup import create_backup
from nestbackup.operations.plan import plan_backup
from tests.support.flowplay import play_backup
from tests.support.memory.wiring import MemoryWiring


def seeded() -> tuple[MemoryWiring, dict]:
    w = MemoryWiring()
    out = w.seed("si-1", instances=1, disks_per_instance=2, databases={"PostgreSQL": {"app": {"t": [1]}},
                                                                       "MySQL": {"shop": {"t": [1]}}})
    w.ecs.disks[out["Disks"][0]]["kms_key_id"] = "key-disk"
    pg, my = sorted(out["DBInstances"], key=lambda rid: w.rds.instances[rid]["engine"] != "PostgreSQL")
    w.rds.instances[pg].update(tde_key="key-tde")
    return w, {"sealed": out["Disks"][0], "plain": out["Disks"][1], "pg": pg, "my": my}


def test_the_record_says_each_artifacts_encryption_and_its_key():
    w, ids = seeded()
    record = play_backup(w, create_backup(w, "si-1")["BackupId"])
    shown = {i["ResourceId"]: i["Encryption"] for i in record["Resources"]}
    assert shown[ids["sealed"]] == {"Encrypted": True, "KeyId": "key-disk", "By": "ECS snapshot (Encrypted, KMSKeyId)"}
    assert shown[ids["plain"]]["Encrypted"] is False and shown[ids["plain"]]["KeyId"] is None
    assert shown[ids["pg"]] == {"Encrypted": True, "KeyId": "key-tde", "By": "TDE"}
    assert shown[ids["my"]]["Encrypted"] is False


def test_the_plan_lists_encryption_and_warns_about_unencrypted_and_unknown_resources():
    w, ids = seeded()
    w.rds.refusals.refuse("DescribeDBInstanceTDE", "InvalidParameter")     # RDS does not say, for one
    out = plan_backup(w, "si-1")
    by_id = {r["ResourceId"]: r for r in out["Resources"]}
    assert by_id[ids["sealed"]]["Encryption"]["KeyId"] == "key-disk"
    warned = " ".join(out["Warnings"])
    assert f"{ids['plain']}: not encrypted" in warned and ids["sealed"] not in warned
    unknown = [i for i in (ids["pg"], ids["my"]) if by_id[i]["Encryption"] is None]
    assert len(unknown) == 1 and f"{unknown[0]}: the cloud did not say whether it is encrypted" in warned
