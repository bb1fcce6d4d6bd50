"""An RDS instance's backup policy: retention, database/table restore (CompressType), whether its sets can be
deleted, as seeded or set through the control plane (`instance_settings`), and DescribeBackupPolicy."""
from __future__ import annotations

from datetime import datetime, timezone

from ..core.rpc import RpcRequest
from . import errors, point_in_time, render
from .state import RdsState

# Instance backup policy when seeded without one: retention 7 days (DescribeBackupPolicy BackupRetentionPeriod;
# UNCONFIRMED default), CompressType 4 = "quicklz with database and table restoration enabled" (SDK
# DescribeBackupPolicyResponseBody.compress_type; 8 = without it).
DEFAULT_RETENTION_DAYS = 7
TABLE_RESTORE_COMPRESS_TYPE = "4"
NO_TABLE_RESTORE_COMPRESS_TYPE = "8"
# DBInstanceStorageType (SDK CreateDBInstanceRequest.dbinstance_storage_type): local_ssd, or a cloud disk. A new
# instance here is on cloud_essd (the default for a cloud-disk instance class) unless seeded with StorageType.
STORAGE_TYPES = ("local_ssd", "general_essd", "cloud_essd", "cloud_essd2", "cloud_essd3", "cloud_ssd")
DEFAULT_STORAGE_TYPE = "cloud_essd"
# DeleteBackup (API reference api-delete-backup-sets, doc-detail/50368): only MySQL and PostgreSQL instances of
# the High-availability Edition, only sets whose StoreStatus is Enabled; with log backup disabled (EnableBackupLog 0)
# only sets retained for more than seven days. A set is Disabled otherwise.
DELETABLE_ENGINES = ("MySQL", "PostgreSQL")
DELETABLE_CATEGORY = "HighAvailability"
CATEGORIES = ("Basic", "HighAvailability", "AlwaysOn", "Finance", "cluster")
DELETABLE_AFTER_DAYS = 7
# UNCONFIRMED choice: the seven-day rule is off unless an instance is seeded with DeletableAfterDays (0 by default),
# so that tests can delete the sets they just made; DeletableAfterDays 7 plays the documented rule.
DEFAULT_DELETABLE_AFTER_DAYS = 0
SETTABLE_STATUSES = ("Running", "Rebooting", "DBInstanceClassChanging", "Restoring", "Stopped")
# DescribeBackupTasks lists unfinished tasks by default (BackupJobStatus: "By default, this operation returns backup
# tasks in both states", NoStart and Progressing); a Finished task is answered when asked by BackupJobId ("If
# BackupStatus is Finished, you must specify BackupJobId to obtain the backup set ID"; API reference
# api-query-backup-tasks). How long a finished task stays answerable by id is UNCONFIRMED: here
# TASK_LISTED_FOR_SECONDS after it ended, then it is forgotten.
TASK_LISTED_FOR_SECONDS = 30.0
# How long after its task ended a new set shows in DescribeBackups: UNCONFIRMED (no source gives the delay). Here
# SET_LISTED_AFTER_SECONDS by default (at once), set per instance (SetListedAfterSeconds) to play a late set;
# RestoreTable / DeleteBackup by id find the set meanwhile.
SET_LISTED_AFTER_SECONDS = 0.0


def instance_settings(current: dict, policy: dict) -> dict:
    """Backup policy and state of an instance from a seed/control description: BackupRetentionPeriod (7-730
    days), TableRestore (database/table restore enabled, i.e. CompressType 4; else 8), BackupsDeletable
    (false: its sets have StoreStatus Disabled and DeleteBackup refuses them), Status (DBInstanceStatus),
    TaskListedForSeconds / SetListedAfterSeconds (0-3600: the listing delays above, for this instance),
    StorageType (DBInstanceStorageType, STORAGE_TYPES; set once, at seeding), Category (the edition,
    CATEGORIES), DeletableAfterDays (the age from which DeleteBackup takes a set; see below), TDEKey (TDE enabled
    with that key), DiskEncryptionKey (cloud disk encryption with that key; see encryption.py) and LogBackup
    (PostgreSQL: log backup on, each backup also taking a base backup; point_in_time.py).
    `current`: the instance's fields of before (empty for a new one)."""
    if not isinstance(policy, dict):
        raise ValueError("the backup policy must be a JSON object")
    unknown = set(policy) - {"BackupRetentionPeriod", "TableRestore", "BackupsDeletable", "Status", "LogBackup",
                             "TaskListedForSeconds", "SetListedAfterSeconds", "StorageType",
                             "Category", "DeletableAfterDays", "TDEKey", "DiskEncryptionKey"}
    if unknown:
        raise ValueError(f"unknown RDS instance settings: {', '.join(sorted(unknown))}")
    out = {"BackupRetentionPeriod": current.get("BackupRetentionPeriod", DEFAULT_RETENTION_DAYS),
           "CompressType": current.get("CompressType", TABLE_RESTORE_COMPRESS_TYPE),
           "BackupsDeletable": current.get("BackupsDeletable", True)}
    if "BackupRetentionPeriod" in policy:
        days = policy["BackupRetentionPeriod"]
        if not isinstance(days, int) or isinstance(days, bool) or not 7 <= days <= 730:
            raise ValueError("BackupRetentionPeriod must be 7 to 730 days")
        out["BackupRetentionPeriod"] = days
    for key in ("TableRestore", "BackupsDeletable", "LogBackup"):
        if key in policy and not isinstance(policy[key], bool):
            raise ValueError(f"{key} must be true or false")
    if "LogBackup" in policy:
        out["LogBackup"] = policy["LogBackup"]
    if "TableRestore" in policy:
        out["CompressType"] = TABLE_RESTORE_COMPRESS_TYPE if policy["TableRestore"] \
            else NO_TABLE_RESTORE_COMPRESS_TYPE
    if "BackupsDeletable" in policy:
        out["BackupsDeletable"] = policy["BackupsDeletable"]
    for key in ("TaskListedForSeconds", "SetListedAfterSeconds"):
        if key in policy:
            seconds = policy[key]
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds <= 3600:
                raise ValueError(f"{key} must be 0 to 3600 seconds")
            out[key] = float(seconds)
    if "Category" in policy:
        if policy["Category"] not in CATEGORIES:
            raise ValueError(f"Category must be one of {', '.join(CATEGORIES)}")
        out["Category"] = policy["Category"]
    if "DeletableAfterDays" in policy:
        days = policy["DeletableAfterDays"]
        if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 730:
            raise ValueError("DeletableAfterDays must be 0 to 730")
        out["DeletableAfterDays"] = days
    if "StorageType" in policy:
        if policy["StorageType"] not in STORAGE_TYPES:
            raise ValueError(f"StorageType must be one of {', '.join(STORAGE_TYPES)}")
        out["StorageType"] = policy["StorageType"]
    for key in ("TDEKey", "DiskEncryptionKey"):      # TDE on with this key; cloud disk encryption with this key
        if key in policy:
            if not isinstance(policy[key], str) or not policy[key]:
                raise ValueError(f"{key} must be a KMS key id")
            out[key] = policy[key]
    if "Status" in policy:
        if policy["Status"] not in SETTABLE_STATUSES:
            raise ValueError("Status must be Running, Rebooting, DBInstanceClassChanging, Restoring or Stopped")
        out["Status"] = policy["Status"]
    return out


def task_listed_for(inst: dict) -> float:
    return float(inst.get("TaskListedForSeconds", TASK_LISTED_FOR_SECONDS))


def set_listed_after(inst: dict) -> float:
    return float(inst.get("SetListedAfterSeconds", SET_LISTED_AFTER_SECONDS))


def store_status(backup: dict, inst: dict, now: float) -> str:
    """StoreStatus of a set: Enabled when DeleteBackup takes it (engine, edition, BackupsDeletable, its age)."""
    age_days = (now - float(backup.get("EndEpoch") or now)) / 86400
    deletable = (inst.get("Engine") in DELETABLE_ENGINES and inst.get("BackupsDeletable", True)
                 and inst.get("Category", DELETABLE_CATEGORY) == DELETABLE_CATEGORY
                 and age_days >= float(inst.get("DeletableAfterDays", DEFAULT_DELETABLE_AFTER_DAYS)))
    return "Enabled" if deletable else "Disabled"


def table_restore(inst: dict) -> bool:
    """Whether the instance takes its sets with database/table restore enabled (CompressType 4)."""
    return inst.get("CompressType", TABLE_RESTORE_COMPRESS_TYPE) == TABLE_RESTORE_COMPRESS_TYPE


class BackupPolicies(RdsState):
    """The backup policy action of `models.Rds`."""

    def DescribeBackupPolicy(self, req: RpcRequest) -> dict:
        inst = self._instance(req.require("DBInstanceId"))
        mode = req.get("BackupPolicyMode", "DataBackupPolicy")
        if mode not in ("DataBackupPolicy", "LogBackupPolicy"):
            raise errors.invalid("BackupPolicyMode", "Use DataBackupPolicy or LogBackupPolicy.")
        logs = point_in_time.why_no_logs(inst, self._engine(inst)) is None
        return render.backup_policy(inst.get("BackupRetentionPeriod", DEFAULT_RETENTION_DAYS),
                                    inst.get("CompressType", TABLE_RESTORE_COMPRESS_TYPE), mode, logs)

    def DescribeLocalAvailableRecoveryTime(self, req: RpcRequest) -> dict:
        """The range the instance can be restored to (point_in_time.window); both times empty when there is none
        (UNCONFIRMED: what the service answers for an instance without log backup)."""
        inst = self._instance(req.require("DBInstanceId"))
        found = point_in_time.window(self.cloud.store, inst, self._engine(inst))
        begin, end = (self.cloud.iso(datetime.fromtimestamp(t, timezone.utc)) for t in found) if found else ("", "")
        return {"DBInstanceId": inst["DBInstanceId"], "RecoveryBeginTime": begin, "RecoveryEndTime": end}
