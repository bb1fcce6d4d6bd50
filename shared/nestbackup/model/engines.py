"""The database engines the product backs up and restores, one row each: everything the product decides by engine.
An engine not in ENGINES is not backed up. A new engine = one row here, one adapter module under
adapters/databases/ (its swap and row counts), and the engine in the local cloud (localcloud/rds/engines/)."""
from __future__ import annotations

from enum import Enum
from typing import NamedTuple

from ..errors import ValidationError


class RestoreMethod(str, Enum):
    """How RDS brings an instance's databases back under new names beside the live ones (the RDS action's name)."""
    RESTORE_TABLE = "RestoreTable"
    RECOVERY_DB_INSTANCE = "RecoveryDBInstance"

    def __str__(self) -> str:
        return self.value


class Engine(NamedTuple):
    """What nestbackup knows of one RDS engine (one row of ENGINES)."""
    name: str                          # as RDS spells it (DescribeDBInstances Engine)
    aliases: frozenset[str]            # other usual spellings, lowercased without spaces
    restore_method: RestoreMethod
    # A backup set restores with RestoreTable only with MetaStatus OK, which the backup policy's database/table
    # restore switch gives (SDK-old DescribeBackupsResponseBodyItemsBackup.meta_status: LARGE = too many tables,
    # EMPTY = failed task, "" = not usable). PostgreSQL sets are restored whole; UNCONFIRMED that their MetaStatus
    # does not matter.
    meta_status_gates_restore: bool
    takes_backup_retention: bool       # CreateBackup takes BackupRetentionPeriod on a plain full backup
    cloud_disk_backup_method: str      # CreateBackup BackupMethod on cloud disks (local SSDs: Physical); see below
    # RestoreTable's documented TableMeta lists each database's tables for MySQL ({"type":"db",..,"tables":[{"type":
    # "table","name","newname"}]}); PostgreSQL restores whole databases only (SDK RestoreTableRequest.table_meta).
    table_meta_lists_tables: bool
    name_limit: int                    # longest database name
    limit_in_bytes: bool               # ... in bytes of UTF-8 (NAMEDATALEN - 1), else in characters
    case_sensitive_names: bool         # names differing only in case are different databases
    basic_plane_names: bool            # names hold no character outside the BMP, nor end with a space
    quotes: tuple[str, str]            # an identifier's opening and closing quote (the closing one doubled inside)
    maintenance_db: str                # where a rename session connects (never renamed); "" when it needs none


MYSQL = Engine("MySQL", frozenset({"mysql", "mariadb"}), RestoreMethod.RESTORE_TABLE,
               meta_status_gates_restore=True, takes_backup_retention=True, cloud_disk_backup_method="Snapshot",
               table_meta_lists_tables=True, name_limit=64, limit_in_bytes=False,
               case_sensitive_names=False, basic_plane_names=True, quotes=("`", "`"), maintenance_db="")
POSTGRESQL = Engine("PostgreSQL", frozenset({"postgresql", "postgres", "pg"}), RestoreMethod.RESTORE_TABLE,
                    meta_status_gates_restore=False, takes_backup_retention=False,
                    cloud_disk_backup_method="Physical", table_meta_lists_tables=False, name_limit=63,
                    limit_in_bytes=True, case_sensitive_names=True, basic_plane_names=False, quotes=('"', '"'),
                    maintenance_db="postgres")
# SQL Server takes BackupRetentionPeriod only with BackupStrategy=db (adapters/rds.py create_backup).
SQLSERVER = Engine("SQLServer", frozenset({"sqlserver", "mssql"}), RestoreMethod.RECOVERY_DB_INSTANCE,
                   meta_status_gates_restore=False, takes_backup_retention=False,
                   cloud_disk_backup_method="Physical", table_meta_lists_tables=False, name_limit=128,
                   limit_in_bytes=False, case_sensitive_names=False, basic_plane_names=False, quotes=("[", "]"),
                   maintenance_db="master")

ENGINES: dict[str, Engine] = {e.name: e for e in (MYSQL, POSTGRESQL, SQLSERVER)}
_BY_SPELLING = {spelling: e for e in ENGINES.values() for spelling in e.aliases | {e.name.lower()}}


def engine_of(engine: str) -> Engine:
    """The engine for any usual spelling ("MySQL", "mariadb", "postgres", "SQL Server", ...)."""
    found = _BY_SPELLING.get(str(engine).replace(" ", "").lower())
    if found is None:
        raise ValidationError(f"unsupported database engine {engine!r}")
    return found


# CreateBackup's BackupMethod (SDK CreateBackupRequest.backup_method; API reference CreateBackup, "BackupMethod"):
# Physical for MySQL on local SSDs, SQL Server and PostgreSQL; Snapshot for MySQL on cloud disks (also offered for
# SQL Server and PostgreSQL, whose full physical backups the restores use); MariaDB takes snapshot backups only but
# is asked for them with Physical. Any other method is refused (400 InvalidBackupMethod.ValueNotSupport).
PHYSICAL, SNAPSHOT = "Physical", "Snapshot"
_ASKED_AS_PHYSICAL = frozenset({"mariadb"})


def create_backup_method(engine: str, local_ssd: bool) -> str:
    """The BackupMethod CreateBackup accepts for a full backup of this engine on this storage."""
    if str(engine).replace(" ", "").lower() in _ASKED_AS_PHYSICAL or local_ssd:
        return PHYSICAL
    try:
        return engine_of(engine).cloud_disk_backup_method
    except ValidationError:        # not said: the API's default
        return PHYSICAL


def recovery_time_listed(engine: str) -> bool:
    """DescribeLocalAvailableRecoveryTime answers for MySQL, PostgreSQL and MariaDB instances (API reference
    api-query-the-time-range-for-restoration, "Supported database engines"), not SQL Server."""
    found = _BY_SPELLING.get(str(engine).replace(" ", "").lower())
    return found is not None and found is not SQLSERVER
