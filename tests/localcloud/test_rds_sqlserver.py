"""RDS SQL Server instances through the unmodified SDK: backups of the local SQL Server stand-in, RecoveryDBInstance
into an existing instance (the same one included), the refusals, and a restart of the cloud."""
from __future__ import annotations

import json
import secrets
import socket

import pytest
from alibabacloud_rds20140815 import models as m

from localcloud.cloud import LocalCloud
from tests.localcloud.test_rds import backup_now, code_of, databases, tag, wait_db
from tests.support import PG_DSN
from tests.support import mssql_run as run


def recover(rds, instance_id: str, backup_id: str, names: dict, target: str | None = "same"):
    return rds.recovery_dbinstance(m.RecoveryDBInstanceRequest(
        dbinstance_id=instance_id, backup_id=backup_id, db_names=json.dumps(names),
        target_dbinstance_id=instance_id if target == "same" else target))


@pytest.fixture
def sqlserver(cloud_server) -> tuple[str, int]:
    made = cloud_server.cloud.rds.create_instance("SQLServer", None, tag())
    return made["DBInstanceId"], made["Port"]


def test_attribute_names_the_tds_endpoint(rds, sqlserver):
    instance_id, port = sqlserver
    (attr,) = rds.describe_dbinstance_attribute(m.DescribeDBInstanceAttributeRequest(
        dbinstance_id=instance_id)).body.items.dbinstance_attribute
    assert (attr.engine, attr.connection_string, attr.port) == ("SQLServer", "127.0.0.1", str(port))
    assert "local cloud stand-in" in run(port, "SELECT @@VERSION")[0][0]


def test_backup_then_recovery_into_the_same_instance_under_new_names(rds, sqlserver):
    instance_id, port = sqlserver
    run(port, "CREATE DATABASE [shop]", "CREATE TABLE [shop].[dbo].[orders] ([id] INT)",
        "INSERT INTO [shop].[dbo].[orders] VALUES (1), (2), (3)", "CREATE DATABASE [crm]")
    assert sorted(d.dbname for d in databases(rds, instance_id)) == ["crm", "shop"]
    backup_id = backup_now(rds, instance_id)
    (b,) = rds.describe_backups(m.DescribeBackupsRequest(dbinstance_id=instance_id, backup_id=backup_id)) \
        .body.items.backup
    assert b.backup_size > 0 and b.engine == "SQLServer"
    run(port, "DELETE FROM [shop].[dbo].[orders]")

    answer = recover(rds, instance_id, backup_id, {"shop": "shop__rst"}).body
    assert answer.dbinstance_id == instance_id
    assert wait_db(rds, instance_id, "shop__rst")[-1] == "Running"
    assert run(port, "SELECT COUNT_BIG(*) FROM [shop__rst].[dbo].[orders]") == [(3,)]
    assert run(port, "SELECT COUNT_BIG(*) FROM [shop].[dbo].[orders]") == [(0,)]     # the live one untouched

    # never over an existing database, whatever its case
    assert code_of(lambda: recover(rds, instance_id, backup_id, {"shop": "SHOP__RST"})) == \
        ("InvalidDBName.Duplicate", 400)
    assert code_of(lambda: recover(rds, instance_id, backup_id, {"nope": "x"})) == ("InvalidDBName.NotFound", 404)
    assert code_of(lambda: recover(rds, instance_id, backup_id, {"shop": "a", "crm": "A"})) == \
        ("InvalidParameter", 400)


def test_recovery_into_another_sqlserver_instance(rds, cloud_server, sqlserver):
    instance_id, port = sqlserver
    run(port, "CREATE DATABASE [hr]", "CREATE TABLE [hr].[dbo].[people] ([n] NVARCHAR(20))",
        "INSERT INTO [hr].[dbo].[people] VALUES (N'ada')")
    backup_id = backup_now(rds, instance_id)
    other = cloud_server.cloud.rds.create_instance("SQLServer", None, tag())
    recover(rds, instance_id, backup_id, {"hr": "hr"}, target=other["DBInstanceId"])
    wait_db(rds, other["DBInstanceId"], "hr")
    assert run(other["Port"], "SELECT * FROM [hr].[dbo].[people]") == [("ada",)]


def test_refusals(rds, cloud_server, sqlserver):
    instance_id, port = sqlserver
    run(port, "CREATE DATABASE [a]")
    backup_id = backup_now(rds, instance_id)
    pg = cloud_server.cloud.rds.create_instance("PostgreSQL", PG_DSN, tag())["DBInstanceId"]
    assert code_of(lambda: recover(rds, instance_id, backup_id, {"a": "b"}, target=None)) == \
        ("InvalidParameter", 400)                                   # a new instance is not emulated
    assert code_of(lambda: recover(rds, instance_id, backup_id, {"a": "b"}, target=pg)) == \
        ("UnsupportedEngine", 400)
    assert code_of(lambda: recover(rds, instance_id, "123", {"a": "b"})) == ("InvalidBackupId.NotFound", 404)
    assert code_of(lambda: rds.recovery_dbinstance(m.RecoveryDBInstanceRequest(
        dbinstance_id=instance_id, backup_id=backup_id, db_names="a,b", target_dbinstance_id=instance_id))) == \
        ("InvalidParameter", 400)
    assert code_of(lambda: rds.restore_table(m.RestoreTableRequest(
        dbinstance_id=instance_id, backup_id=backup_id, table_meta=json.dumps([{"type": "db", "name": "a",
                                                                                "newname": "b"}])))) == \
        ("UnsupportedEngine", 400)


def test_db_names_take_the_documented_form_of_their_target(rds, sqlserver):
    """RecoveryDBInstance's DbNames: {"source":"new"} into an existing instance (the source one included), the names
    as "a,b" into a new one (API reference api-restore-databases; SDK RecoveryDBInstanceRequest.db_names)."""
    instance_id, port = sqlserver
    run(port, "CREATE DATABASE [a]")
    backup_id = backup_now(rds, instance_id)

    def raw(db_names: str, target: str | None):
        return code_of(lambda: rds.recovery_dbinstance(m.RecoveryDBInstanceRequest(
            backup_id=backup_id, db_names=db_names, target_dbinstance_id=target)))
    for wrong in ("a,a__rst", "a", '["a"]', "{}", '{"a": ""}'):
        assert raw(wrong, instance_id) == ("InvalidParameter", 400), wrong
    assert raw('{"a":"a__rst"}', None) == ("InvalidParameter", 400)      # the existing-instance form needs a target
    assert "needs TargetDBInstanceId" in rds_message(lambda: rds.recovery_dbinstance(m.RecoveryDBInstanceRequest(
        backup_id=backup_id, db_names='{"a":"a__rst"}')))
    # without DBInstanceId (optional with BackupId), into the source instance itself
    rds.recovery_dbinstance(m.RecoveryDBInstanceRequest(backup_id=backup_id, db_names='{"a":"a__rst"}',
                                                        target_dbinstance_id=instance_id))
    assert wait_db(rds, instance_id, "a__rst")[-1] == "Running"


def test_copy_between_instances_needs_another_target(rds, cloud_server, sqlserver):
    """CopyDatabaseBetweenInstances: the target must differ from the source (help/id/rds/api-copy-database); DbNames
    is {"source":"new"} (SDK CopyDatabaseBetweenInstancesRequest.db_names)."""
    instance_id, port = sqlserver
    run(port, "CREATE DATABASE [pay]", "CREATE TABLE [pay].[dbo].[t] ([id] INT)", "INSERT INTO [pay].[dbo].[t] VALUES (7)")
    backup_id = backup_now(rds, instance_id)
    other = cloud_server.cloud.rds.create_instance("SQLServer", None, tag())

    def copy(target: str, db_names: str = '{"pay":"pay2"}'):
        return rds.copy_database_between_instances(m.CopyDatabaseBetweenInstancesRequest(
            dbinstance_id=instance_id, target_dbinstance_id=target, backup_id=backup_id, db_names=db_names))
    assert code_of(lambda: copy(instance_id)) == ("InvalidParameter", 400)
    assert code_of(lambda: copy(other["DBInstanceId"], "pay,pay2")) == ("InvalidParameter", 400)
    copy(other["DBInstanceId"])
    wait_db(rds, other["DBInstanceId"], "pay2")
    assert run(other["Port"], "SELECT * FROM [pay2].[dbo].[t]") == [(7,)]
    assert [d.dbname for d in databases(rds, instance_id)] == ["pay"]      # nothing lands on the source


def rds_message(call) -> str:
    try:
        call()
    except Exception as err:  # noqa: BLE001 - the SDK's error carries the cloud's message
        return str(getattr(err, "message", err))
    raise AssertionError("the call was not refused")


def test_a_failed_recovery_leaves_nothing_behind(rds, control, sqlserver):
    instance_id, port = sqlserver
    run(port, "CREATE DATABASE [f]")
    backup_id = backup_now(rds, instance_id)
    control.faults(fail=[backup_id])
    try:
        recover(rds, instance_id, backup_id, {"f": "f__rst"})
        with pytest.raises(AssertionError, match="never became Running"):
            wait_db(rds, instance_id, "f__rst", timeout=2)
    finally:
        control.clear_faults()
    assert [d.dbname for d in databases(rds, instance_id)] == ["f"]


def test_data_and_port_survive_a_restart(tmp_path):
    first = LocalCloud(tmp_path)
    made = first.rds.create_instance("SQLServer", None, tag())
    name = "kept ]' " + secrets.token_hex(3)
    run(made["Port"], f"CREATE DATABASE [{name.replace(']', ']]')}]")
    first.close()
    with pytest.raises(OSError):                        # nothing listens while the cloud is down
        socket.create_connection(("127.0.0.1", made["Port"]), timeout=2).close()
    second = LocalCloud(tmp_path)
    try:
        doc = second.store.get("rds.instance", made["DBInstanceId"])
        rows = run(doc["Port"], "SELECT name, user_access_desc FROM sys.databases")
        assert (name, "MULTI_USER") in rows and doc["Port"] == made["Port"]
    finally:
        second.close()
