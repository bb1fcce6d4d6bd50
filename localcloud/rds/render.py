"""How RDS resources look on the wire: stored instances, databases, backup jobs, backup sets, the backup policy and
restore tasks rendered as the items of the Describe* answers (the state stays in the stored documents)."""
from __future__ import annotations

import json

from . import rules

# DescribeHistoryTasks TaskType of a RestoreTable task. UNCONFIRMED: no source names it.
RESTORE_TASK_TYPE = "RestoreTable"
INSTANCE_CLASSES = {"MySQL": "mysql.n2.medium.2c", "MariaDB": "mariadb.n2.medium.2c", "PostgreSQL": "pg.n2.2c.2m",
                    "SQLServer": "mssql.x4.medium.e2"}


def instance(inst: dict, status: str) -> dict:
    """A DescribeDBInstances item; `status` is its DBInstanceStatus (see RdsState._status)."""
    engine = inst["Engine"]
    return {
        "DBInstanceId": inst["DBInstanceId"], "DBInstanceDescription": inst["DBInstanceId"],
        "Engine": engine, "EngineVersion": inst["EngineVersion"], "DBInstanceStatus": status,
        "DBInstanceType": inst.get("DBInstanceType", "Primary"),
        "DBInstanceClass": INSTANCE_CLASSES.get(engine, "rds.n2.medium"),
        "DBInstanceStorageType": inst.get("StorageType", "cloud_essd"),
        "DBInstanceNetType": "Intranet", "InstanceNetworkType": "VPC", "ConnectionMode": "Standard",
        "LockMode": "Unlock", "LockReason": "", "RegionId": inst["RegionId"], "ZoneId": inst["ZoneId"],
        "PayType": "Postpaid", "Category": inst.get("Category", "HighAvailability"), "CreateTime": inst["CreateTime"],
        "ExpireTime": "", "MasterInstanceId": inst.get("MasterInstanceId", ""), "GuardDBInstanceId": "",
        "TempDBInstanceId": "",
        "ResourceGroupId": "rg-localcloud", "VpcId": "vpc-localcloud", "VSwitchId": "vsw-localcloud",
        "ConnectionString": inst["Host"], "MutriORsignle": False, "DeletionProtection": False,
        "ReadOnlyDBInstanceIds": {"ReadOnlyDBInstanceId": []},
    }


def instance_attribute(inst: dict, status: str) -> dict:
    """A DescribeDBInstanceAttribute item: the DescribeDBInstances item and the instance's settings."""
    view = instance(inst, status)
    view.update({
        "Port": str(inst["Port"]), "DBInstanceStorage": inst.get("StorageGB", 100), "DBInstanceMemory": 4096,
        "DBInstanceCPU": "2", "DBMaxQuantity": 1000, "AccountMaxQuantity": 1000, "MaxConnections": 2000,
        "MaxIOPS": 10000, "MaintainTime": "18:00Z-22:00Z", "CreationTime": inst["CreateTime"],
        "SecurityIPList": "127.0.0.1", "SecurityIPMode": "normal", "IPType": "IPv4",
        "DBInstanceClassType": "x", "AutoUpgradeMinorVersion": "Auto", "TimeZone": "UTC",
        "SupportUpgradeAccountType": "No", "AvailabilityValue": "100.0%",
    })
    return view


def database(name: str, status: str, inst: dict, info: dict, postgres: bool) -> dict:
    """A DescribeDatabases item (without the paging fields); `info` holds its character set and collation."""
    item = {"DBName": name, "DBStatus": status, "Engine": inst["Engine"], "DBInstanceId": inst["DBInstanceId"],
            "CharacterSetName": info.get("CharacterSetName", ""), "DBDescription": "",
            "Accounts": {"AccountPrivilegeInfo": []}}
    if postgres:
        item.update(Collate=info.get("Collate", ""), Ctype=info.get("Ctype", ""), ConnLimit="-1",
                    Tablespace="pg_default")
    elif info.get("Collate"):
        item["Collate"] = info["Collate"]
    return item


def backup_policy(retention_days: int, compress_type: str, mode: str, log_backup: bool = False) -> dict:
    """The DescribeBackupPolicy answer (SDK DescribeBackupPolicyResponseBody): the fields the local cloud models;
    EnableBackupLog "1" where the instance keeps logs to restore to a second (point_in_time.why_no_logs)."""
    return {"BackupRetentionPeriod": retention_days, "CompressType": compress_type,
            "PreferredBackupTime": "18:00Z-19:00Z", "PreferredBackupPeriod": "Monday,Wednesday,Friday",
            "BackupMethod": "Physical", "EnableBackupLog": "1" if log_backup else "0", "LocalLogRetentionHours": 0,
            "LogBackupRetentionPeriod": 7, "Category": "Standard", "BackupPolicyMode": mode}


def backup_task(job: dict, with_backup_id: bool) -> dict:
    """A DescribeBackupTasks item; `with_backup_id`: the caller asked for this job by id (the set's id is then
    given once it is Finished)."""
    progress = {"NoStart": "NoStart", "Preparing": "Preparing", "Uploading": "Uploading"}.get(
        job["Status"], "Finished")
    item = {"BackupJobId": job["BackupJobId"], "BackupStatus": job["Status"], "BackupProgressStatus": progress,
            "Process": job["Process"], "JobMode": job.get("Mode", "Manual"),
            "TaskAction": "TempBackupTask" if job.get("Mode", "Manual") == "Manual" else "NormalBackupTask"}
    if with_backup_id and job["Status"] == "Finished":
        item["BackupId"] = job["BackupId"]
    return item


def backup_set(b: dict, store_status: str) -> dict:
    """A DescribeBackups item; `store_status`: Enabled when DeleteBackup takes it now (policy.store_status)."""
    ok = b["Status"] == "Success"
    start = rules.stored_time(b["StartTime"])
    end = rules.stored_time(b["EndTime"])
    return {
        "BackupId": b["BackupId"], "DBInstanceId": b["DBInstanceId"], "BackupStatus": b["Status"],
        "BackupStartTime": start.strftime(rules.MINUTE), "BackupEndTime": end.strftime(rules.MINUTE),
        "BackupSize": b["Size"], "BackupMethod": b["Method"], "BackupMode": b.get("Mode", "Manual"),
        "BackupType": "FullBackup", "BackupInitiator": "User" if b.get("Mode", "Manual") == "Manual" else "System",
        "Engine": b["Engine"], "EngineVersion": b["EngineVersion"], "IsAvail": 1 if ok else 0,
        "MetaStatus": b.get("MetaStatus", "OK" if ok else "EMPTY"), "StoreStatus": store_status,
        "ConsistentTime": 0, "CopyOnlyBackup": "0", "StorageClass": "0", "HostInstanceID": "0",
        "BackupDownloadURL": "", "BackupIntranetDownloadURL": "", "Checksum": b["Checksum"],
        "Encryption": "{}", "ExpectExpireTime": b.get("ExpectExpireTime", ""),
        "BackupDownloadLinkByDB": {"BackupDownloadLinkByDB": [
            {"DataBase": d["DBName"], "DownloadLink": "", "IntranetDownloadLink": ""} for d in b["Databases"]]},
    }


def history_task(task: dict, engine: str, region: str) -> dict:
    """A DescribeHistoryTasks item for a restore task (TaskType RESTORE_TASK_TYPE, or RecoveryDBInstance);
    `engine` is its instance's."""
    status = {"Running": "Running", "Succeed": "Succeed"}.get(task["Status"], "Failed")
    action = task.get("Action", "RestoreTable")
    return {"TaskId": task["TaskId"], "TaskType": RESTORE_TASK_TYPE if action == "RestoreTable" else action,
            "Status": status, "InstanceId": task["DBInstanceId"],
            "InstanceName": task["DBInstanceId"], "InstanceType": "Instance", "Product": "rds",
            "DbType": engine, "RegionId": region, "StartTime": task["StartTime"],
            "EndTime": task.get("EndTime", ""), "Progress": 100.0 if status != "Running" else 50.0,
            "RemainTime": 0, "CurrentStepName": "" if status != "Running" else "restore_data",
            "ReasonCode": "RestoreFailed" if status == "Failed" else "",
            "TaskDetail": json.dumps({"BackupId": task["BackupId"], "Reason": task.get("Reason", "")}),
            "CallerSource": "User", "CallerUid": "", "Uid": "", "ActionInfo": "{}"}
