"""Restore of a service instance with an RDS SQL Server instance, on the local SQL Server stand-in: CreateBackup,
RecoveryDBInstance into the same instance under new names, the T-SQL rename over TDS, row-count verification.

The local stand-in speaks the TDS protocol to the unmodified pytds client but is no SQL Server engine (see
localcloud.mssql): this verifies what nestbackup sends and decides, not what a real server does with it."""
import json
import time

from nestbackup.decisions.dbnames import quote_mssql
from nestbackup.errors import CloudError
from nestbackup.operations import restore as restores
from nestbackup.operations import restore_rename
from tests.support import mssql_run
from tests.support.crashes import wiring_without_flow
from tests.support.product import backup_of, wait_restore

HOSTILE = "sales]; DROP DATABASE [x]; -- 'q'"


def sql(entry: dict, *statements: str) -> list:
    return mssql_run(entry["Port"], *statements)


def table(db: str, name: str) -> str:
    return f"{quote_mssql(db)}.[dbo].{quote_mssql(name)}"


def test_sqlserver_databases_come_back_under_their_names_and_the_later_data_is_kept_aside(api, control, si):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="4MiB", SQLServer=True)
    (mssql,) = seeded["DBInstances"]
    orders, notes = table("shop", "orders"), table(HOSTILE, "no]tes; --")
    sql(mssql, "CREATE DATABASE [shop]", f"CREATE TABLE {orders} ([id] INT, [item] NVARCHAR(40))",
        *[f"INSERT INTO {orders} VALUES ({i}, N'item {i}')" for i in range(12)],
        f"CREATE DATABASE {quote_mssql(HOSTILE)}", f"CREATE TABLE {notes} ([n] NVARCHAR(40))",
        f"INSERT INTO {notes} VALUES (N'it''s'), (N'kept')")
    backup = backup_of(api, si)
    (item,) = [i for i in backup["Resources"] if i["ResourceId"] == mssql["DBInstanceId"]]
    assert sorted(item["Databases"]) == sorted(["shop", HOSTILE])

    # Life goes on after the backup.
    sql(mssql, f"DELETE FROM {orders}", f"INSERT INTO {orders} VALUES (1000, N'after')", f"DELETE FROM {notes}")

    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
    assert status == 202, restore
    final = wait_restore(api, restore["RestoreId"])
    assert final["Status"] == "Restored" and final["Verified"] is True, json.dumps(final, indent=1)
    assert sql(mssql, f"SELECT COUNT_BIG(*) FROM {orders}") == [(12,)]
    assert sorted(sql(mssql, f"SELECT * FROM {notes}")) == [("it's",), ("kept",)]
    (entry,) = [i for i in final["Resources"] if i["ResourceId"] == mssql["DBInstanceId"]]
    assert entry["Status"] == "Succeeded" and entry["Verified"] is True
    aside = {d["Name"]: d["AsideName"] for d in entry["Databases"]}
    assert all(d["State"] == "Renamed" and d["AsideKept"] for d in entry["Databases"])
    assert sql(mssql, f"SELECT * FROM {table(aside['shop'], 'orders')}") == [(1000, "after")]
    assert sql(mssql, f"SELECT COUNT_BIG(*) FROM {table(aside[HOSTILE], 'no]tes; --')}") == [(0,)]
    names = {r[0] for r in sql(mssql, "SELECT name, user_access_desc FROM sys.databases")}
    assert {"shop", HOSTILE, aside["shop"], aside[HOSTILE]} <= names
    assert not any("__rst_" in n for n in names)           # no restored copy is left under its restore name


def test_a_refused_sqlserver_restore_leaves_the_live_data(api, control, si):
    seeded = control.seed(ServiceInstanceId=si, Disks=0, SQLServer=True)
    (mssql,) = seeded["DBInstances"]
    t = table("crm", "people")
    sql(mssql, "CREATE DATABASE [crm]", f"CREATE TABLE {t} ([id] INT)", f"INSERT INTO {t} VALUES (1), (2)")
    backup = backup_of(api, si)
    sql(mssql, f"INSERT INTO {t} VALUES (3)")
    control.faults(reject={mssql["DBInstanceId"]: "IncorrectBackupSetState"})
    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
    final = wait_restore(api, restore["RestoreId"])
    (entry,) = final["Resources"]
    assert final["Status"] == "RestoreFailed" and entry["ErrorCode"] == "IncorrectBackupSetState"
    assert sql(mssql, f"SELECT COUNT_BIG(*) FROM {t}") == [(3,)]
    assert sorted(r[0] for r in sql(mssql, "SELECT name, user_access_desc FROM sys.databases")
                  if r[0] not in ("master", "tempdb", "model", "msdb")) == ["crm"]


class _AnswerLost:
    """The RDS adapter, except that the first RecoveryDBInstance is applied but its answer is lost (a 500)."""

    def __init__(self, rds) -> None:
        self._rds, self.lost = rds, 0

    def __getattr__(self, name):
        return getattr(self._rds, name)

    def recover_databases(self, *args) -> None:
        self._rds.recover_databases(*args)
        if not self.lost:
            self.lost += 1
            raise CloudError("InternalError", "the answer was lost", action="RecoveryDBInstance", http_status=500)


def test_a_recovery_whose_answer_was_lost_is_not_asked_again(api, control, si):
    """RecoveryDBInstance takes no ClientToken: the step must find the restore it started instead of repeating it
    (which the cloud would refuse for the duplicate names)."""
    (mssql,) = control.seed(ServiceInstanceId=si, Disks=0, SQLServer=True)["DBInstances"]
    t = table("ledger", "entries")
    sql(mssql, "CREATE DATABASE [ledger]", f"CREATE TABLE {t} ([id] INT)", f"INSERT INTO {t} VALUES (1), (2)")
    backup = backup_of(api, si)
    sql(mssql, f"INSERT INTO {t} VALUES (3)")
    w = wiring_without_flow()
    restore_id = restores.create_restore(w, backup["BackupId"], safety_backup=False)["RestoreId"]
    w.rds = lost = _AnswerLost(w.rds)
    before = control.stats().get("rds:RecoveryDBInstance", 0)
    deadline = time.monotonic() + 60
    while (step := restores.advance(w, restore_id))["State"] != "Done":
        if step["State"] == "Rename":
            restore_rename.rename(w, restore_id)
        assert time.monotonic() < deadline, restores.get_restore(w, restore_id)
        time.sleep(0.05)
    final = restores.get_restore(w, restore_id)
    assert final["Status"] == "Restored", json.dumps(final, indent=1)
    assert lost.lost == 1 and control.stats()["rds:RecoveryDBInstance"] == before + 1
    assert sql(mssql, f"SELECT COUNT_BIG(*) FROM {t}") == [(2,)]
