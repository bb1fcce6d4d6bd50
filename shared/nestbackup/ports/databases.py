"""The databases port: what the product needs of RDS (instances, backup jobs and sets, restores into new names,
the databases listed), and the plain values it answers with. `adapters/rds.py` implements it over the RDS API."""
from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from ..errors import CloudError
from ..model.status import primary_instance

# DescribeHistoryTasks Status of a restore task that is not over, and of one that ended without its work.
UNFINISHED_TASK = frozenset({"Scheduled", "Running", "Waiting", "Cancelling"})
FAILED_TASK = frozenset({"Failed", "Canceled"})


class DBInstance(NamedTuple):
    """An RDS instance (DescribeDBInstances)."""
    db_instance_id: str
    engine: str
    status: str
    db_instance_type: str = "Primary"   # Primary | Readonly | Guard | Temp (DescribeDBInstances.DBInstanceType)
    master_instance_id: str = ""        # a replica's primary

    @property
    def primary(self) -> bool:
        return primary_instance(self.db_instance_type)


class BackupJob(NamedTuple):
    """An RDS backup job (DescribeBackupTasks)."""
    job_id: str
    status: str               # NoStart | Checking | Preparing | Waiting | Uploading | Finished | Failed
    progress: int
    backup_id: str | None
    mode: str = "Manual"      # JobMode: Manual (CreateBackup) | Automated (the instance's backup policy)

    @property
    def manual(self) -> bool:
        """Started by CreateBackup, not by the instance's backup policy."""
        return self.mode == "Manual"

    @property
    def finished(self) -> bool:
        return self.status == "Finished"

    @property
    def failed(self) -> bool:
        return self.status == "Failed"


class BackupSet(NamedTuple):
    """An RDS backup set (DescribeBackups)."""
    backup_id: str
    status: str               # Success | Failed
    mode: str                 # BackupMode: Manual | Automated
    meta_status: str          # OK | LARGE | EMPTY | "" ("" / LARGE: no database/table restore from this set)
    store_status: str         # Enabled (deletable) | Disabled
    expires_at: str | None    # ExpectExpireTime; None when the set is kept for good or the field is absent
    size_bytes: int | None = None   # BackupSize

    @property
    def succeeded(self) -> bool:
        return self.status == "Success"

    @property
    def deletable(self) -> bool:
        """DeleteBackup takes only sets whose StoreStatus is Enabled (SDK DeleteBackupRequest.backup_id)."""
        return self.store_status == "Enabled"

    @property
    def table_restorable(self) -> bool:
        """MetaStatus OK: the set holds the database/table metadata RestoreTable needs."""
        return self.meta_status == "OK"


class Database(NamedTuple):
    """A database of an RDS instance (DescribeDatabases)."""
    name: str
    status: str               # Creating | Running | Deleting ("" where the API leaves it out)

    @property
    def running(self) -> bool:
        return self.status == "Running"


class HistoryTask(NamedTuple):
    """An RDS instance's task (DescribeHistoryTasks)."""
    task_id: str
    task_type: str
    status: str               # Scheduled | Running | Succeed | Failed | Cancelling | Canceled | Waiting
    reason_code: str
    detail: str

    @property
    def unfinished(self) -> bool:
        return self.status in UNFINISHED_TASK

    @property
    def failed(self) -> bool:
        return self.status in FAILED_TASK


class DbEncryption(NamedTuple):
    """What RDS says of an instance's encryption; None where it did not answer."""
    tde: bool | None               # DescribeDBInstanceTDE TDEStatus Enabled
    tde_key: str | None            # its EncryptionKey
    disk_key: str | None           # DescribeDBInstanceEncryptionKey: the key of KeyUsage DiskEncryption ("" none)


class RestoreWindow(NamedTuple):
    """What an instance can be restored to by the second (DescribeBackupPolicy, DescribeLocalAvailableRecoveryTime):
    whether it keeps log backups, whether database/table restore is on (MySQL), and the first and last second
    (yyyy-MM-ddTHH:mm:ssZ; None when the cloud gives no range)."""
    log_backup: bool
    table_restore: bool
    begin: str | None
    end: str | None
    log_retention_days: int | None = None


class Databases(Protocol):
    # RestoreTable takes a MySQL database entry without its tables as "the whole database" (adapters/rds.py).
    whole_database_table_meta: bool

    def instances_tagged(self, key: str, value: str) -> list[DBInstance]: ...

    def describe_instances(self, db_instance_ids: list[str]) -> dict[str, DBInstance]: ...

    def attribute(self, db_instance_id: str) -> dict[str, Any]: ...

    def instance_status(self, db_instance_id: str) -> str: ...

    def describe_encryption(self, db_instance_id: str) -> DbEncryption:
        """TDE and cloud disk encryption of the instance; a part RDS refuses to say (e.g. an engine without TDE)
        is None."""
        ...

    def create_backup(self, db_instance_id: str, retention_days: int | None = None) -> str: ...

    def backup_must_wait(self, err: CloudError) -> bool:
        """CreateBackup was refused before it was applied and may be asked again later."""
        ...

    def running_backup_jobs(self, db_instance_id: str) -> list[BackupJob]: ...

    def backup_job(self, db_instance_id: str, job_id: str) -> BackupJob | None: ...

    def backup_set(self, db_instance_id: str, backup_id: str) -> BackupSet | None: ...

    def manual_backups_since(self, db_instance_id: str, since_epoch: float) -> list[str]: ...

    def table_restore_enabled(self, db_instance_id: str) -> bool: ...

    def delete_backup(self, db_instance_id: str, backup_id: str) -> None: ...

    def restore_table(self, db_instance_id: str, backup_id: str, table_meta: list[dict[str, Any]],
                      client_token: str, restore_time: str | None = None) -> None:
        """From the set `backup_id`, or (backup_id "") to the second `restore_time` (UTC, log backup needed)."""
        ...

    def recover_databases(self, db_instance_id: str, backup_id: str, new_names: dict[str, str],
                          restore_time: str | None = None) -> None: ...

    def restore_window(self, db_instance_id: str) -> RestoreWindow: ...

    def restore_waits(self, err: CloudError) -> bool:
        """A refusal a restore waits out (a round later) instead of failing the item."""
        ...

    def restore_tasks(self, db_instance_id: str, since_epoch: float) -> list[HistoryTask]: ...

    def databases(self, db_instance_id: str, name: str | None = None) -> list[Database]: ...

    def delete_database(self, db_instance_id: str, name: str) -> None:
        """DeleteDatabase: drop one database of the instance (InvalidDBName.NotFound when it is not there)."""
        ...

    def disk_used_bytes(self, db_instance_id: str) -> int | None:
        """DescribeResourceUsage DiskUsed: the bytes data and log files take on the instance (None: unknown)."""
        ...
