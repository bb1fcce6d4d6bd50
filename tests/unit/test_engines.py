"""One engine table (model/engines.py): every module asks it instead of testing engine names."""
from __future__ import annotations

import pytest

from nestbackup.decisions import dbnames
from nestbackup.errors import ValidationError
from nestbackup.model.engines import ENGINES, MYSQL, POSTGRESQL, SQLSERVER, RestoreMethod, engine_of
from tests.unit.literals import compared_literals, violations

SPELLINGS = {s for e in ENGINES.values() for s in e.aliases | {e.name}}


def test_every_spelling_names_its_engine():
    for engine in ENGINES.values():
        assert ENGINES[engine.name] is engine
        for spelling in engine.aliases | {engine.name, engine.name.upper()}:
            assert engine_of(spelling) is engine
    assert engine_of("SQL Server") is SQLSERVER
    with pytest.raises(ValidationError):
        engine_of("Oracle")


def test_what_the_table_decides():
    assert MYSQL.restore_method is POSTGRESQL.restore_method is RestoreMethod.RESTORE_TABLE
    assert SQLSERVER.restore_method is RestoreMethod.RECOVERY_DB_INSTANCE
    assert [e.name for e in ENGINES.values() if e.meta_status_gates_restore] == ["MySQL"]
    assert [e.name for e in ENGINES.values() if e.takes_backup_retention] == ["MySQL"]
    assert {e.name: e.name_limit for e in ENGINES.values()} == {"MySQL": 64, "PostgreSQL": 63, "SQLServer": 128}
    assert {e.name: dbnames.quote("a", e.name) for e in ENGINES.values()} == {
        "MySQL": "`a`", "PostgreSQL": '"a"', "SQLServer": "[a]"}


def test_no_module_tests_an_engine_name():
    """Engine names are compared in model/engines.py only (the CLI's demo and local commands name the engines
    they seed, which is data, not a decision)."""
    assert violations(["operations", "decisions", "model", "ports", "adapters", "api"], SPELLINGS, fold_case=True,
                      allowed=frozenset({"model/engines.py"})) == []


def test_the_check_finds_an_engine_test():
    source = ('if item.engine == "SQLServer":\n    pass\n'
              'retention = 7 if engine in ("mysql", "x") else None\n'
              'counter = {"PostgreSQL": 1}.get(engine)\n'
              'name = "MySQL backup"\n')
    assert compared_literals(source, SPELLINGS, fold_case=True) == [(1, "SQLServer"), (3, "mysql"),
                                                                     (4, "PostgreSQL")]


def test_create_backup_takes_the_method_the_engine_and_storage_take():
    """SDK CreateBackupRequest.backup_method: Snapshot for MySQL on cloud disks, Physical on local SSDs and for
    PostgreSQL and SQL Server; MariaDB takes snapshot backups but is asked with Physical."""
    from nestbackup.model.engines import create_backup_method
    assert [create_backup_method(e, False) for e in ("MySQL", "PostgreSQL", "SQLServer", "MariaDB")] == \
        ["Snapshot", "Physical", "Physical", "Physical"]
    assert {create_backup_method(e, True) for e in ("MySQL", "PostgreSQL", "SQLServer", "MariaDB")} == {"Physical"}


def test_restore_table_meta_takes_the_documented_forms():
    """SDK RestoreTableRequest.table_meta: MySQL databases list their tables; PostgreSQL whole databases only. A MySQL
    database entry alone (the whole database) is kept behind adapters/rds.py WHOLE_DATABASE_TABLE_META."""
    from nestbackup.decisions.restore import table_meta
    from nestbackup.model.records import ResourceType
    from nestbackup.model.restores import DatabaseRestore, RestoreItem

    def item(engine: str) -> RestoreItem:
        it = RestoreItem("rm-1", ResourceType.RDS, "1", engine=engine)
        it.databases = [DatabaseRestore("shop", "shop_r", "shop_a"), DatabaseRestore("empty", "empty_r", "empty_a")]
        it.expected = {"shop": {"orders": 3, "audit": 0}}
        return it
    assert table_meta(item("MySQL"), whole_databases=False) == [
        {"type": "db", "name": "shop", "newname": "shop_r",
         "tables": [{"type": "table", "name": "audit", "newname": "audit"},
                    {"type": "table", "name": "orders", "newname": "orders"}]},
        {"type": "db", "name": "empty", "newname": "empty_r"}]
    whole = [{"type": "db", "name": "shop", "newname": "shop_r"}, {"type": "db", "name": "empty", "newname": "empty_r"}]
    assert table_meta(item("MySQL"), whole_databases=True) == whole
    assert table_meta(item("PostgreSQL"), whole_databases=False) == whole


def test_recovery_db_names_take_the_existing_instance_form():
    """RecoveryDBInstance into an existing instance (the source): DbNames {"source":"new",...} (API reference
    api-restore-databases); the new-instance form "a,b" would rename nothing."""
    import json

    from nestbackup.adapters.rds import db_names_into
    names = {"shop": "shop__rst_1", "it's, [odd]": "it's, [odd]__rst_1"}
    assert json.loads(db_names_into(names)) == names
    with pytest.raises(ValueError):
        db_names_into({})
    with pytest.raises(ValueError):
        db_names_into({"shop": ""})
