"""RDS: find DB instances by tag, take backups, follow backup jobs, restore databases under new names."""
from __future__ import annotations

import json
from typing import Any, Iterator

from ..errors import CloudError
from ..model.engines import create_backup_method, recovery_time_listed
from ..ports.databases import BackupJob, BackupSet, Database, DbEncryption, DBInstance, HistoryTask, RestoreWindow
from .openapi import RpcClient

VERSION = "2014-08-15"
# SQL Server has no RestoreTable. The product restores a set's databases into the SOURCE instance under new names:
# RecoveryDBInstance with TargetDBInstanceId = the source and DbNames in the existing-instance form (`db_names_into`).
# Sources: the API reference (help/ja/rds/api-restore-databases, DbNames example: "to an existing instance:
# {"test1":"newtest1","test2":"newtest2"}", "to a new instance: test1,test2"); the zh reference (doc-detail/84685):
# an existing target may be the original instance or another of its region, and a name taken must be a new one
# (no restore over a database); the SDK docstrings before 16.0.2 give the same two forms. UNCONFIRMED: the newest
# text (SDK 16.0.2 RecoveryDBInstanceRequest.db_names) documents only the new-instance form and sends existing
# targets to CopyDatabaseBetweenInstances, whose target must differ from the source; whether the service still takes
# the existing-instance form is for a real account to settle (fallback: docs/cloud-fidelity.md, RDS: restores).
SQLSERVER_RESTORE_ACTION = "RecoveryDBInstance"
# DescribeDatabases and DescribeBackups take PageSize 30, 50 or 100 (default 30) and PageNumber from 1 (SDK
# DescribeDatabasesRequest, DescribeBackupsRequest): ask for the largest page and read until a short one.
PAGE_SIZE = 100
# DBInstanceStorageType of an instance on local SSDs; every other value is a cloud disk (SDK
# CreateDBInstanceRequest.dbinstance_storage_type: local_ssd, general_essd, cloud_essd, cloud_essd2/3, cloud_ssd).
LOCAL_SSD = "local_ssd"
# DescribeBackupPolicy CompressType "4" = quicklz with database and table restoration enabled (SDK
# DescribeBackupPolicyResponseBody.compress_type). UNCONFIRMED: that it is the switch on cloud-disk MySQL
# instances too (the SDK documents it for local SSD backups).
TABLE_RESTORE_COMPRESS_TYPE = "4"
# DescribeDBInstances paging: MaxResults 1-100 (default 30) with NextToken; PageSize/PageNumber are then ignored
# (SDK DescribeDBInstancesRequest.max_results / next_token).
DB_INSTANCES_PER_PAGE = 100
# RestoreTable TableMeta for MySQL: the SDK documents only database entries that list their tables
# ([{"type":"db","name","newname","tables":[{"type":"table","name","newname"}]}]; RestoreTableRequest.table_meta);
# PostgreSQL's form is the database entry alone. UNCONFIRMED: that a MySQL database entry without "tables" restores the
# whole database (with its views, triggers, routines), which the product relies on while this is True; with False it
# lists the tables the database held at backup time. The documented way to read a set's tables, DescribeMetaList, is
# only offered on High-availability MySQL with local SSDs (API reference api-query-data-backup-file-for-databases-
# and-tables). Only a real account settles it.
WHOLE_DATABASE_TABLE_META = True
# DescribeHistoryTasks TaskType of a RestoreTable task. UNCONFIRMED: no source names it. Where it is wrong, no task is
# found and a restore is judged by the instance status and the listed databases alone.
RESTORE_TASK_TYPES = frozenset({"RestoreTable"})

# Refusals that clear by themselves, one table per call: each was refused before anything was applied, so the
# caller asks again a round later instead of failing the item. Beyond these codes, CreateBackup also waits out
# any busy refusal (err.busy: BackupJobExists, another backup task runs) and a restore any transient one
# (err.transient: BUSY_CODES and throttling).
WAIT_CODES: dict[str, frozenset[str]] = {
    # The instance is not Running (403; the documented precondition). The Terraform provider retries it
    # (resource_alicloud_rds_backup.go; errors.go OperationDeniedDBStatus).
    "CreateBackup": frozenset({"IncorrectDBInstanceState"}),
    # RestoreTable / RecoveryDBInstance while the instance changes state (a backup, another restore)
    # (docs/cloud-fidelity.md, RDS: restores); the Terraform provider retries these on RDS calls
    # (alicloud/errors.go OperationDeniedDBStatus).
    "restore": frozenset({"IncorrectDBInstanceState", "OperationDenied.DBInstanceStatus"}),
}


def backup_must_wait(err: CloudError) -> bool:
    """CreateBackup was refused before it was applied and may be asked again later (see WAIT_CODES)."""
    return err.busy or err.code in WAIT_CODES["CreateBackup"]


def restore_waits(err: CloudError) -> bool:
    """A refusal a restore waits out (a round later) instead of failing the item (see WAIT_CODES)."""
    return err.transient or err.code in WAIT_CODES["restore"]


def db_names_into(new_names: dict[str, str]) -> str:
    """RecoveryDBInstance's DbNames for a restore into an existing instance: {"source name":"new name",...} (the
    new-instance form, "name1,name2", renames nothing)."""
    if not new_names or any(not src or not new for src, new in new_names.items()):
        raise ValueError("a restore into an existing instance names each database and its new name")
    return json.dumps(new_names)


def _percent(text) -> int:
    try:
        return int(str(text or "0").rstrip("%") or 0)
    except ValueError:
        return 0


class Rds:
    whole_database_table_meta = WHOLE_DATABASE_TABLE_META

    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc
        self.region = rpc.region

    def instances_tagged(self, key: str, value: str) -> list[DBInstance]:
        return list(self._pages({"RegionId": self.region, "Tags": json.dumps({key: value})}))

    def describe_instances(self, db_instance_ids: list[str]) -> dict[str, DBInstance]:
        """The named instances that exist (one call each: DBInstanceId takes one id in the SDK's docs)."""
        found: dict[str, DBInstance] = {}
        for db_instance_id in db_instance_ids:
            for inst in self._pages({"RegionId": self.region, "DBInstanceId": db_instance_id}):
                if inst.db_instance_id == db_instance_id:
                    found[db_instance_id] = inst
        return found

    def attribute(self, db_instance_id: str) -> dict:
        body = self.rpc.call("DescribeDBInstanceAttribute", {"DBInstanceId": db_instance_id})
        items = (body.get("Items") or {}).get("DBInstanceAttribute") or []
        return items[0] if items else {}

    def describe_encryption(self, db_instance_id: str) -> DbEncryption:
        """DescribeDBInstanceTDE and DescribeDBInstanceEncryptionKey; a refusal that is not transient (an engine or
        edition without the feature) leaves that part unknown."""
        tde = tde_key = disk_key = None
        try:
            body = self.rpc.call("DescribeDBInstanceTDE", {"DBInstanceId": db_instance_id})
            tde, tde_key = body.get("TDEStatus") == "Enabled", body.get("EncryptionKey") or None
        except CloudError as err:
            if err.transient:
                raise
        try:
            body = self.rpc.call("DescribeDBInstanceEncryptionKey", {"DBInstanceId": db_instance_id})
            keys = list(body.get("EncryptionKeyList") or []) + [body]
            disk_key = next((k.get("EncryptionKey") for k in keys
                             if k.get("KeyUsage") == "DiskEncryption" and k.get("EncryptionKey")), "")
        except CloudError as err:
            if err.transient:
                raise
        return DbEncryption(tde, tde_key, disk_key)

    backup_must_wait = staticmethod(backup_must_wait)
    restore_waits = staticmethod(restore_waits)

    def create_backup(self, db_instance_id: str, retention_days: int | None = None) -> str:
        """Start a full backup, by the method the instance's engine and storage take (`create_backup_method`: a
        MySQL instance on cloud disks takes Snapshot backups). CreateBackup takes no ClientToken, so only refusals
        before it was applied (throttling) are retried here; after a 5xx the caller looks for the job before asking
        again.
        `retention_days` (7-730, -1 = for good): only MySQL takes BackupRetentionPeriod on a plain full backup
        (SQL Server only with BackupStrategy=db); the caller passes it for MySQL only."""
        attribute = self.attribute(db_instance_id)
        method = create_backup_method(str(attribute.get("Engine") or ""),
                                      attribute.get("DBInstanceStorageType") == LOCAL_SSD)
        body = self.rpc.call("CreateBackup", {"DBInstanceId": db_instance_id, "BackupMethod": method,
                                              "BackupType": "FullBackup", "BackupRetentionPeriod": retention_days},
                             retry_when=lambda e: e.throttled)
        return str(body["BackupJobId"])

    def running_backup_jobs(self, db_instance_id: str) -> list[BackupJob]:
        """Every backup task in progress on the instance: ours, others' manual ones, and automatic ones."""
        body = self.rpc.call("DescribeBackupTasks", {"DBInstanceId": db_instance_id})
        return [_job(raw) for raw in (body.get("Items") or {}).get("BackupJob") or []]

    def backup_set(self, db_instance_id: str, backup_id: str) -> BackupSet | None:
        """One backup set (DescribeBackups with BackupId), or None when the instance no longer has it."""
        body = self.rpc.call("DescribeBackups", {"DBInstanceId": db_instance_id, "BackupId": backup_id})
        raw = next((b for b in (body.get("Items") or {}).get("Backup") or []
                    if str(b.get("BackupId")) == str(backup_id)), None)
        return _set(raw) if raw else None

    def table_restore_enabled(self, db_instance_id: str) -> bool:
        """MySQL: whether backups taken now allow database/table restore (RestoreTable), per the backup policy."""
        body = self.rpc.call("DescribeBackupPolicy", {"DBInstanceId": db_instance_id,
                                                      "BackupPolicyMode": "DataBackupPolicy"})
        return str(body.get("CompressType", "")) == TABLE_RESTORE_COMPRESS_TYPE

    def backup_job(self, db_instance_id: str, job_id: str) -> BackupJob | None:
        body = self.rpc.call("DescribeBackupTasks", {"DBInstanceId": db_instance_id, "BackupJobId": int(job_id)})
        jobs = [_job(raw) for raw in (body.get("Items") or {}).get("BackupJob") or []]
        return next((j for j in jobs if j.job_id == str(job_id)), None)

    def manual_backups_since(self, db_instance_id: str, since_epoch: float) -> list[str]:
        """Successful manual backup sets that started at or after `since_epoch` (minute precision), newest first."""
        from datetime import datetime, timedelta, timezone
        start = datetime.fromtimestamp(since_epoch, timezone.utc).replace(second=0, microsecond=0)
        end = datetime.now(timezone.utc) + timedelta(minutes=1)
        sets = [raw for raw in self._all_pages("DescribeBackups", {
                    "DBInstanceId": db_instance_id, "BackupMode": "Manual", "BackupStatus": "Success",
                    "StartTime": start.strftime("%Y-%m-%dT%H:%MZ"), "EndTime": end.strftime("%Y-%m-%dT%H:%MZ")},
                    lambda body: (body.get("Items") or {}).get("Backup"))
                if raw.get("BackupStatus", "Success") == "Success" and raw.get("BackupMode", "Manual") == "Manual"]
        sets.sort(key=lambda raw: str(raw.get("BackupStartTime") or ""), reverse=True)
        return [str(raw["BackupId"]) for raw in sets]

    def delete_backup(self, db_instance_id: str, backup_id: str) -> None:
        self.rpc.call("DeleteBackup", {"DBInstanceId": db_instance_id, "BackupId": backup_id})

    def restore_table(self, db_instance_id: str, backup_id: str, table_meta: list[dict[str, Any]],
                      client_token: str, restore_time: str | None = None) -> None:
        """From a set, or to a second: RestoreTable takes BackupId or RestoreTime (yyyy-MM-ddTHH:mm:ssZ, UTC; log
        backup must be on) (SDK RestoreTableRequest.backup_id / restore_time)."""
        self.rpc.call("RestoreTable", {"DBInstanceId": db_instance_id, "BackupId": backup_id or None,
                                       "RestoreTime": restore_time, "TableMeta": json.dumps(table_meta),
                                       "ClientToken": client_token})

    def recover_databases(self, db_instance_id: str, backup_id: str, new_names: dict[str, str],
                          restore_time: str | None = None) -> None:
        """SQL Server: bring the databases of `backup_id` (or as they were at `restore_time`: SDK
        RecoveryDBInstanceRequest.restore_time) back into the same instance, each under `new_names[db]` (see
        SQLSERVER_RESTORE_ACTION). No ClientToken: only throttling is retried here; before asking again the caller
        looks for the new databases (DescribeDatabases)."""
        self.rpc.call(SQLSERVER_RESTORE_ACTION, {"DBInstanceId": db_instance_id, "TargetDBInstanceId": db_instance_id,
                                                 "BackupId": backup_id or None, "RestoreTime": restore_time,
                                                 "DbNames": db_names_into(new_names)},
                      retry_when=lambda e: e.throttled)

    def restore_window(self, db_instance_id: str) -> RestoreWindow:
        """Whether log backup is on (DescribeBackupPolicy EnableBackupLog "1", LogBackupRetentionPeriod days), whether
        database/table restore is (CompressType, see TABLE_RESTORE_COMPRESS_TYPE), and the range the instance can be
        restored to (DescribeLocalAvailableRecoveryTime RecoveryBeginTime / RecoveryEndTime; MySQL, PostgreSQL and
        MariaDB only, so SQL Server gets no range)."""
        policy = self.rpc.call("DescribeBackupPolicy", {"DBInstanceId": db_instance_id,
                                                        "BackupPolicyMode": "DataBackupPolicy"})
        log_backup = str(policy.get("EnableBackupLog", "")) in ("1", "True", "true")
        days = str(policy.get("LogBackupRetentionPeriod") or "")
        begin = end = None
        engine = str(self.attribute(db_instance_id).get("Engine") or "")
        if log_backup and recovery_time_listed(engine):
            found = self.rpc.call("DescribeLocalAvailableRecoveryTime", {"DBInstanceId": db_instance_id})
            begin, end = _iso_utc(found.get("RecoveryBeginTime")), _iso_utc(found.get("RecoveryEndTime"))
        return RestoreWindow(log_backup, str(policy.get("CompressType", "")) == TABLE_RESTORE_COMPRESS_TYPE,
                             begin, end, int(days) if days.isdigit() else None)

    def instance_status(self, db_instance_id: str) -> str:
        """DBInstanceStatus: Running, or e.g. TempDBInstanceCreating while a database/table restore runs."""
        return str(self.attribute(db_instance_id).get("DBInstanceStatus") or "")

    def restore_tasks(self, db_instance_id: str, since_epoch: float) -> list[HistoryTask]:
        """The instance's restore tasks (RESTORE_TASK_TYPES) that started since `since_epoch` (less a minute for
        clock skew), newest first, from the task centre (DescribeHistoryTasks keeps 30 days)."""
        from datetime import datetime, timedelta, timezone
        start = datetime.fromtimestamp(since_epoch, timezone.utc) - timedelta(minutes=1)
        end = datetime.now(timezone.utc) + timedelta(minutes=1)
        body = self.rpc.call("DescribeHistoryTasks", {
            "RegionId": self.region, "InstanceId": db_instance_id, "TaskType": ",".join(sorted(RESTORE_TASK_TYPES)),
            "FromStartTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "ToStartTime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "PageSize": 100})
        return [HistoryTask(str(raw.get("TaskId", "")), str(raw.get("TaskType", "")), str(raw.get("Status", "")),
                            str(raw.get("ReasonCode") or ""), str(raw.get("TaskDetail") or ""))
                for raw in body.get("Items") or [] if raw.get("TaskType") in RESTORE_TASK_TYPES]

    def databases(self, db_instance_id: str, name: str | None = None) -> list[Database]:
        """Every database of the instance (all pages), or the one named."""
        return [Database(raw.get("DBName", ""), raw.get("DBStatus", ""))
                for raw in self._all_pages("DescribeDatabases", {"DBInstanceId": db_instance_id, "DBName": name},
                                           lambda body: (body.get("Databases") or {}).get("Database"))]

    def delete_database(self, db_instance_id: str, name: str) -> None:
        self.rpc.call("DeleteDatabase", {"DBInstanceId": db_instance_id, "DBName": name})

    def disk_used_bytes(self, db_instance_id: str) -> int | None:
        body = self.rpc.call("DescribeResourceUsage", {"DBInstanceId": db_instance_id})
        used = body.get("DiskUsed")
        return int(used) if used is not None and int(used) >= 0 else None     # -1: no data or log files

    def _all_pages(self, action: str, params: dict, rows) -> list[dict]:
        """PageNumber paging: pages of PAGE_SIZE until a short (or empty) one."""
        out: list[dict] = []
        page = 1
        while True:
            batch = rows(self.rpc.call(action, {**params, "PageSize": PAGE_SIZE, "PageNumber": page})) or []
            out.extend(batch)
            if len(batch) < PAGE_SIZE:
                return out
            page += 1

    def _pages(self, params: dict) -> Iterator[DBInstance]:
        token = None
        while True:
            body = self.rpc.call("DescribeDBInstances", {**params, "MaxResults": DB_INSTANCES_PER_PAGE,
                                                         "NextToken": token})
            for raw in (body.get("Items") or {}).get("DBInstance") or []:
                yield _db_instance(raw)
            token = body.get("NextToken")
            if not token:
                return


def _db_instance(raw: dict) -> DBInstance:
    return DBInstance(raw["DBInstanceId"], raw.get("Engine", ""), raw.get("DBInstanceStatus", ""),
                      db_instance_type=raw.get("DBInstanceType") or "Primary",
                      master_instance_id=raw.get("MasterInstanceId") or "")


def _job(raw: dict) -> BackupJob:
    return BackupJob(job_id=str(raw.get("BackupJobId", "")), status=raw.get("BackupStatus") or "NoStart",
                     progress=_percent(raw.get("Process")),
                     backup_id=str(raw["BackupId"]) if raw.get("BackupId") else None,
                     mode=raw.get("JobMode") or "Manual")


def _set(raw: dict) -> BackupSet:
    return BackupSet(backup_id=str(raw.get("BackupId", "")), status=raw.get("BackupStatus") or "",
                     mode=raw.get("BackupMode") or "", meta_status=raw.get("MetaStatus") or "",
                     store_status=raw.get("StoreStatus") or "", expires_at=_iso_utc(raw.get("ExpectExpireTime")),
                     size_bytes=int(raw["BackupSize"]) if str(raw.get("BackupSize") or "").isdigit() else None)


def _iso_utc(text) -> str | None:
    """ExpectExpireTime as yyyy-MM-ddTHH:mm:ssZ; None when empty (kept for good) or not a UTC time."""
    from datetime import datetime
    text = str(text or "").strip()
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ"):
        try:
            return datetime.strptime(text, fmt).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            pass
    return None
