"""RDS backup sets, the files a finished backup job leaves: DescribeBackups (filters, paging, newest first; a new set
only from its ListedFrom on), DeleteBackup, and their expiry (a set past its ExpectExpireTime is gone)."""
from __future__ import annotations

import shutil
import time
from datetime import timedelta

from ..core.rpc import RpcRequest
from . import errors, render, rules
from .policy import store_status
from .state import BACKUP, RdsState


class BackupSets(RdsState):
    """The backup set actions of `models.Rds`."""

    def DescribeBackups(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        self._instance(instance_id)
        backup_id = req.get("BackupId")
        status = req.get("BackupStatus")
        mode = req.get("BackupMode")
        btype = req.get("BackupType")
        start = rules.parse_time("StartTime", req.get("StartTime"))
        end = rules.parse_time("EndTime", req.get("EndTime"))
        if start and end and end < start:
            raise errors.end_before_start()
        size, number = rules.listed_page(req)
        self._purge_expired()
        now = time.time()

        def wanted(b: dict) -> bool:
            if b["DBInstanceId"] != instance_id:
                return False
            if float(b.get("ListedFrom") or 0) > now:      # a new set shows late (policy.SET_LISTED_AFTER_SECONDS)
                return False
            if backup_id and b["BackupId"] != backup_id:
                return False
            if status and b["Status"] != status:
                return False
            if mode and b.get("Mode", "Manual") != mode:
                return False
            if btype and btype != "FullBackup":
                return False
            t = rules.stored_time(b["StartTime"]).replace(second=0)
            if start and t < start:
                return False
            if end and t > end:
                return False
            return True

        found = self.cloud.store.find(BACKUP, wanted)
        found.sort(key=lambda b: b["StartTime"], reverse=True)  # newest first (stable: later inserts first)
        page = found[(number - 1) * size: number * size]
        inst = self._instance(instance_id)
        return {"Items": {"Backup": [render.backup_set(b, store_status(b, inst, now)) for b in page]},
                "TotalRecordCount": str(len(found)),
                "PageRecordCount": str(len(page)), "PageNumber": str(number), "TotalEcsSnapshotSize": 0}

    def DeleteBackup(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        raw = req.require("BackupId")
        self._instance(instance_id)
        self.cloud.faults.check_reject(instance_id)
        ids = [i.strip() for i in raw.split(",") if i.strip()]
        if not ids:
            raise errors.missing("BackupId")
        if len(ids) > 100:
            raise errors.invalid("BackupId", "At most 100 backup sets per call.")
        inst = self._instance(instance_id)
        if inst["Status"] != "Running":
            raise errors.incorrect_instance_state(inst["Status"])
        with self._lock:
            in_use = {t["BackupId"] for t in self._running_restores(instance_id)}
            for backup_id in ids:
                b = self.cloud.store.get(BACKUP, backup_id)
                if b is None or b["DBInstanceId"] != instance_id:
                    raise errors.backup_not_found(backup_id)
                if backup_id in in_use:
                    raise errors.backup_in_use(backup_id)
                if store_status(b, inst, time.time()) != "Enabled":
                    raise errors.refuse(errors.DELETE_REFUSED, backup_id)
            for backup_id in ids:
                self.cloud.store.delete(BACKUP, backup_id)
                shutil.rmtree(self.backup_root / backup_id, ignore_errors=True)
        return {}

    def _age(self, backup_id: str, days: float) -> dict:
        """The set ended `days` earlier than it did (time passing for DeleteBackup's age rule)."""
        if self.cloud.store.get(BACKUP, backup_id) is None:
            raise errors.backup_not_found(backup_id)
        self.cloud.store.update(BACKUP, backup_id, lambda b: b.update(
            EndEpoch=float(b.get("EndEpoch") or time.time()) - days * 86400))
        return {"BackupId": backup_id}

    def _expire_now(self, backup_id: str) -> str:
        """The set reaches its ExpectExpireTime now (and disappears); answers that time."""
        if self.cloud.store.get(BACKUP, backup_id) is None:
            raise errors.backup_not_found(backup_id)
        past = self.cloud.iso(self.cloud.now() - timedelta(seconds=1))
        self.cloud.store.update(BACKUP, backup_id, lambda b: b.update(ExpectExpireTime=past))
        self._purge_expired()
        return past

    def _purge_expired(self) -> None:
        """Backup sets past their ExpectExpireTime are gone, as the service removes them at expiry."""
        now = self.cloud.iso()
        for b in self.cloud.store.find(BACKUP, lambda b: b.get("ExpectExpireTime") and b["ExpectExpireTime"] <= now):
            if any(t["BackupId"] == b["BackupId"] for t in self._running_restores(b["DBInstanceId"])):
                continue
            self.cloud.store.delete(BACKUP, b["BackupId"])
            shutil.rmtree(self.backup_root / b["BackupId"], ignore_errors=True)
