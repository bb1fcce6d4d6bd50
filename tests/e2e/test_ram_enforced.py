"""Each function runs with its own role's credentials, checked by the local cloud against the role's policy as
scripts/ram.py derives it (deploy/ram/): a whole backup and restore succeeds under them, and a policy missing one
action the code needs fails with the product's documented refusal, on the record."""
from __future__ import annotations

import copy

import psycopg2
import pytest

from nestbackup.cli.local import role_policies
from tests.support import Control
from tests.support.product import Api, backup_of, pg_rows, start_product, wait_restore

pytestmark = pytest.mark.slow

VALUES = {"region": "cn-hangzhou", "accountId": "1234567890123456", "otsInstance": "nestbackup",
          "otsTable": "nestbackup", "dbAccountsSecret": "nestbackup-db-accounts",
          "adminTokenSecret": "nestbackup-admin-token"}


def without(policies: dict[str, dict], role: str, action: str) -> dict[str, dict]:
    """The derived policies with `action` taken out of `role`'s."""
    out = copy.deepcopy(policies)
    for statement in out[role]["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != action]
    assert out != policies, f"{role} was not granted {action}"
    return out


def test_backup_and_restore_run_under_each_functions_own_role(product, api, control, si, pg_db):
    cloud = product.cloud
    assert cloud.ram.enforcing
    assert set(cloud.ram.policy_of("nestbackup-api")["Statement"][0]) == {"Effect", "Action", "Resource"}
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    assert seeded["DBInstances"]
    cloud.stats.reset()
    backup = backup_of(api, si)
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0]) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM t WHERE id < 10")
    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
    assert status == 202, restore
    final = wait_restore(api, restore["RestoreId"], timeout=300)
    assert final["Status"] == "Restored", final
    assert len(pg_rows(pg_db[0])) == 50
    # the secrets are read once per function (its role) and kept: the admin token by the API, the accounts by the
    # functions that connect, however many requests and steps ran
    calls = cloud.stats.snapshot()
    assert 1 <= calls.get("kms:GetSecretValue", 0) <= 4 and sum(calls.values()) > 50, calls


@pytest.fixture(scope="module")
def product_without_create_backup(tmp_path_factory):
    policies = without(role_policies(VALUES), "nestbackup-backup", "rds:CreateBackup")
    server = start_product(tmp_path_factory, policies=policies)
    yield server
    server.stop()


def test_an_action_missing_from_a_derived_policy_fails_with_the_documented_refusal(product_without_create_backup,
                                                                                     si, pg_db):
    api, control = Api(product_without_create_backup.endpoint), Control(product_without_create_backup.endpoint)
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    final = api.wait(record["BackupId"], timeout=120)
    assert final["Status"] == "PartiallyCreated", final           # the disk was backed up (docs/statuses.md)
    rds = next(r for r in final["Resources"] if r["ResourceType"] == "rds")
    disk = next(r for r in final["Resources"] if r["ResourceType"] == "disk")
    assert (rds["Status"], rds["ErrorCode"]) == ("Failed", "Forbidden.RAM"), rds
    assert disk["Status"] == "Succeeded"
