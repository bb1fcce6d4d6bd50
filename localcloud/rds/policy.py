"""An RDS instance's backup policy: retention, database/table restore (CompressType), whether its sets can be
deleted, as seeded or set through the control plane (`instance_settings`), and DescribeBackupPolicy."""
from __future__ import annotations

from ..core.rpc import RpcRequest
from . import errors, render
from .state import RdsState

# Instance backup policy when seeded without one: retention 7 days (DescribeBackupPolicy BackupRetentionPeriod;
# UNCONFIRMED default), CompressType 4 = "quicklz with database and table restoration enabled" (SDK
# DescribeBackupPolicyResponseBody.compress_type; 8 = without it).
DEFAULT_RETENTION_DAYS = 7
TABLE_RESTORE_COMPRESS_TYPE = "4"
NO_TABLE_RESTORE_COMPRESS_TYPE = "8"
SETTABLE_STATUSES = ("Running", "Rebooting", "DBInstanceClassChanging", "Restoring", "Stopped")


def instance_settings(current: dict, policy: dict) -> dict:
    """Backup policy and state of an instance from a seed/control description: BackupRetentionPeriod (7-730
    days), TableRestore (database/table restore enabled, i.e. CompressType 4; else 8), BackupsDeletable
    (false: its sets have StoreStatus Disabled and DeleteBackup refuses them), Status (DBInstanceStatus).
    `current`: the instance's fields of before (empty for a new one)."""
    if not isinstance(policy, dict):
        raise ValueError("the backup policy must be a JSON object")
    unknown = set(policy) - {"BackupRetentionPeriod", "TableRestore", "BackupsDeletable", "Status"}
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
    for key in ("TableRestore", "BackupsDeletable"):
        if key in policy and not isinstance(policy[key], bool):
            raise ValueError(f"{key} must be true or false")
    if "TableRestore" in policy:
        out["CompressType"] = TABLE_RESTORE_COMPRESS_TYPE if policy["TableRestore"] \
            else NO_TABLE_RESTORE_COMPRESS_TYPE
    if "BackupsDeletable" in policy:
        out["BackupsDeletable"] = policy["BackupsDeletable"]
    if "Status" in policy:
        if policy["Status"] not in SETTABLE_STATUSES:
            raise ValueError("Status must be Running, Rebooting, DBInstanceClassChanging, Restoring or Stopped")
        out["Status"] = policy["Status"]
    return out


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
        return render.backup_policy(inst.get("BackupRetentionPeriod", DEFAULT_RETENTION_DAYS),
                                    inst.get("CompressType", TABLE_RESTORE_COMPRESS_TYPE), mode)
