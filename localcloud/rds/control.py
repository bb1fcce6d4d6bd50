"""The /_local/rds/... control plane (no cloud API): what the service does on its own, triggered by tests and
the demo: a changed backup policy or instance status, an automatic backup task, a set reaching its expiry."""
from __future__ import annotations

from .backup_jobs import BackupJobs
from .backup_sets import BackupSets
from .policy import instance_settings
from .state import INSTANCE


class LocalControl(BackupJobs, BackupSets):
    """The control plane of `models.Rds`, as localcloud/control.py routes it."""

    def control(self, method: str, parts: list[str], body: dict) -> dict:
        """POST instances/<id>            change backup policy / status (see policy.instance_settings)
        POST instances/<id>/backups    start a backup task as the service would: {"Mode": "Automated"|"Manual",
                                       "Seconds": minimum duration}; answers its BackupJobId
        POST backups/<id>/expire       the set reaches its ExpectExpireTime now (and disappears)
        POST backups/<id>/age          {"Days": n}: the set ended n days earlier (DeleteBackup's age rule)"""
        if method != "POST":
            raise ValueError("use POST")
        if len(parts) == 2 and parts[0] == "instances":
            fields = instance_settings(self._instance(parts[1]), body)
            self.cloud.store.update(INSTANCE, parts[1], lambda d: d.update(fields))
            inst = self._instance(parts[1])
            return {k: inst.get(k) for k in ("DBInstanceId", "Status", "BackupRetentionPeriod", "CompressType",
                                             "BackupsDeletable")}
        if len(parts) == 3 and parts[0] == "instances" and parts[2] == "backups":
            mode = body.get("Mode", "Automated")
            seconds = body.get("Seconds", 0)
            if mode not in ("Automated", "Manual"):
                raise ValueError("Mode must be Automated or Manual")
            if not isinstance(seconds, (int, float)) or not 0 <= seconds <= 3600:
                raise ValueError("Seconds must be 0 to 3600")
            return {"BackupJobId": self._start_job(parts[1], method="Physical", db_names=None, retention=None,
                                                   mode=mode, min_seconds=float(seconds))}
        if len(parts) == 3 and parts[0] == "backups" and parts[2] == "expire":
            return {"BackupId": parts[1], "ExpectExpireTime": self._expire_now(parts[1])}
        if len(parts) == 3 and parts[0] == "backups" and parts[2] == "age":
            days = body.get("Days")
            if not isinstance(days, (int, float)) or isinstance(days, bool) or not 0 <= days <= 3650:
                raise ValueError("Days must be 0 to 3650")
            return self._age(parts[1], float(days))
        raise ValueError(f"no RDS control endpoint {'/'.join(parts)}")
