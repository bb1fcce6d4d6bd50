"""RDS backup jobs (tasks): CreateBackup and the automatic tasks of the control plane start one (one at a time per
instance), a worker dumps the instance's databases and leaves a backup set, DescribeBackupTasks reports them, and
a restart re-runs the jobs a killed server left in progress."""
from __future__ import annotations

import logging
import shutil
import time
from datetime import timedelta

from ..core.rpc import RpcRequest
from . import errors, point_in_time, render
from .checksum import crc64
from .engines import wal
from .engines.base import EngineError
from .engines.postgres import PgEngine
from .engines.sqlserver import MssqlEngine
from .policy import DEFAULT_RETENTION_DAYS, DEFAULT_STORAGE_TYPE, set_listed_after, table_restore, task_listed_for
from .state import ACTIVE_JOB, BACKUP, INSTANCE, JOB, RdsState

log = logging.getLogger("localcloud.rds")


def method_refused(inst: dict, method: str) -> str | None:
    """Why CreateBackup refuses `method` on this instance (SDK CreateBackupRequest.backup_method): Logical only on
    MySQL with local SSDs; Physical on MySQL with local SSDs, SQL Server and PostgreSQL (and on MariaDB, which takes
    snapshot backups but is asked for them as Physical); Snapshot on MySQL with cloud disks, SQL Server, PostgreSQL
    (and MariaDB: refused here, as the docs say to ask it Physical)."""
    engine, local = inst["Engine"], inst.get("StorageType", DEFAULT_STORAGE_TYPE) == "local_ssd"
    allowed = {"MySQL": ("Physical", "Logical") if local else ("Snapshot",), "MariaDB": ("Physical",),
               "PostgreSQL": ("Physical", "Snapshot"), "SQLServer": ("Physical", "Snapshot")}.get(engine, ("Physical",))
    if method in allowed:
        return None
    disks = "local SSDs" if local else "cloud disks"
    return f"BackupMethod {method} is not supported for {engine} on {disks} (use {' or '.join(allowed)})."


class BackupJobs(RdsState):
    """The backup task actions of `models.Rds` and their worker."""

    def CreateBackup(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        inst = self._instance(instance_id)
        self.cloud.faults.check_reject(instance_id)
        if inst.get("DBInstanceType", "Primary") != "Primary":
            raise errors.refuse(errors.READ_ONLY_BACKUP_REFUSAL)
        method = req.get("BackupMethod", "Physical")
        if method not in ("Physical", "Logical", "Snapshot"):
            raise errors.backup_method_not_supported()
        why = method_refused(inst, method)
        if why:
            raise errors.backup_method_not_supported(why)
        backup_type = req.get("BackupType")
        if backup_type is not None and backup_type not in ("Auto", "FullBackup"):
            raise errors.backup_type_not_supported()
        strategy = req.get("BackupStrategy")
        if strategy is not None and strategy not in ("db", "instance"):
            raise errors.invalid("BackupStrategy", "Use db or instance.")
        retention = req.get_int("BackupRetentionPeriod")
        if retention is not None and retention != -1 and not 7 <= retention <= 730:
            raise errors.invalid("BackupRetentionPeriod", "Use 7 to 730 days, or -1.")
        db_names = None
        if strategy == "db" and req.get("DBName"):
            db_names = [n.strip() for n in req.get("DBName").split(",") if n.strip()]
        return {"BackupJobId": self._start_job(instance_id, method=method, db_names=db_names, retention=retention,
                                               mode="Manual")}

    def DescribeBackupTasks(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        self._instance(instance_id)
        job_id = req.get_int("BackupJobId")
        status = req.get("BackupJobStatus")
        if status is not None and status not in ("NoStart", "Progressing"):
            raise errors.invalid("BackupJobStatus", "Use NoStart or Progressing.")
        mode = req.get("BackupMode")
        if mode is not None and mode not in ("Automated", "Manual"):
            raise errors.invalid("BackupMode", "Use Automated or Manual.")

        forgotten_before = time.time() - task_listed_for(self._instance(instance_id))

        def wanted(j: dict) -> bool:
            if j["DBInstanceId"] != instance_id:
                return False
            if mode and j.get("Mode", "Manual") != mode:
                return False
            if job_id is not None:      # a finished task is answered by id for a while, then forgotten
                return j["BackupJobId"] == str(job_id) and float(j.get("EndEpoch") or time.time()) > forgotten_before
            if status == "NoStart":
                return j["Status"] == "NoStart"
            if status == "Progressing":
                return j["Status"] in ("Preparing", "Uploading")
            return j["Status"] in ACTIVE_JOB

        items = [render.backup_task(j, with_backup_id=job_id is not None) for j in self.cloud.store.find(JOB, wanted)]
        return {"Items": {"BackupJob": items}}

    def _start_job(self, instance_id: str, method: str, db_names: list[str] | None, retention: int | None,
                   mode: str, min_seconds: float = 0.0) -> str:
        """Start a backup task: one at a time per instance, only while it is Running (CreateBackup doc)."""
        with self._lock:
            inst = self._instance(instance_id)
            if inst["Status"] != "Running":
                raise errors.incorrect_instance_state(inst["Status"])
            busy = self.cloud.store.find(JOB, lambda j: j["DBInstanceId"] == instance_id and j["Status"] in ACTIVE_JOB)
            if busy:
                raise errors.refuse(errors.BACKUP_JOB_EXISTS,
                                    f"task {busy[0]['BackupJobId']}, {busy[0].get('Mode', 'Manual')}")
            if db_names:
                try:
                    present = set(self._databases(inst))
                except EngineError as err:
                    raise errors.server_unreachable(err) from None
                for n in db_names:
                    if n not in present:
                        raise errors.database_not_on_instance(n, instance_id)
            job_id = self._new_numeric_id(JOB)
            backup_id = self._new_numeric_id(BACKUP)
            now = self.cloud.now()
            job = {"BackupJobId": job_id, "BackupId": backup_id, "DBInstanceId": instance_id, "Status": "NoStart",
                   "Process": "0", "Method": method, "DBNames": db_names, "Retention": retention,
                   "StartTime": self.cloud.iso(now), "Reason": "", "Mode": mode, "MinSeconds": min_seconds}
            self.cloud.store.put(JOB, job_id, job)
        self.cloud.submit(self._run_backup, job_id, time.monotonic())
        return job_id

    def _resume_backup_jobs(self) -> None:
        """Re-run, from scratch, the backup jobs a killed server left in progress."""
        for job in self.cloud.store.find(JOB, lambda j: j["Status"] in ACTIVE_JOB):
            self._set_job(job["BackupJobId"], Status="NoStart", Process="0",
                          Reason="re-run after a restart of the local cloud")
            self.cloud.submit(self._run_backup, job["BackupJobId"], time.monotonic())

    def _set_job(self, job_id: str, **fields) -> dict | None:
        return self.cloud.store.update(JOB, job_id, lambda j: j.update(fields))

    def _run_backup(self, job_id: str, started: float) -> None:
        try:
            self._backup_work(job_id, started)
        except Exception as err:  # noqa: BLE001 - any failure ends the job Failed, with its reason
            if self.cloud.stopping:
                return  # left in progress: resume() re-runs it
            log.warning("RDS backup job %s failed: %s", job_id, err)
            self._finish_backup(job_id, started, failed=str(err) or type(err).__name__, databases=[])

    def _backup_work(self, job_id: str, started: float) -> None:
        job = self.cloud.store.get(JOB, job_id)
        if job is None or job["Status"] not in ACTIVE_JOB:
            return
        instance_id = job["DBInstanceId"]
        inst = self.cloud.store.get(INSTANCE, instance_id)
        if inst is None:
            raise EngineError("the instance no longer exists")
        self._set_job(job_id, Status="Preparing", Process="5")
        if self.cloud.wait_while_stuck(instance_id, job_id):
            return
        directory = self.backup_root / job["BackupId"]
        shutil.rmtree(directory, ignore_errors=True)
        self._set_job(job_id, Status="Uploading", Process="10")
        if self.cloud.faults.fails(instance_id, job_id):
            self.cloud.pace(started)
            if not self.cloud.stopping:
                self._finish_backup(job_id, started, failed="injected fault: the backup failed", databases=[])
            return
        databases: list[dict] = []
        eng = self._engine(inst)
        if eng is not None:
            names = job["DBNames"] or self._databases(inst, eng)
            directory.mkdir(parents=True, exist_ok=True)
            suffix = {PgEngine: ".dump", MssqlEngine: ".json"}.get(type(eng), ".sql")
            for i, name in enumerate(names):
                path = directory / f"db-{i}{suffix}"
                meta = eng.dump(name, path, stopping=lambda: self.cloud.stopping)
                databases.append({"DBName": name, "File": path.name, **meta})
                self._set_job(job_id, Process=str(10 + 85 * (i + 1) // max(1, len(names))))
            if point_in_time.takes_base_backup(inst, eng):      # log backup on: restores to a second start here
                wal.base_backup(eng, directory, stopping=lambda: self.cloud.stopping)
        self.cloud.pace(started)
        while time.monotonic() < started + float(job.get("MinSeconds") or 0) and not self.cloud.stopping:
            time.sleep(0.05)
        if self.cloud.stopping:
            return
        if self.cloud.faults.fails(instance_id, job_id):
            self._finish_backup(job_id, started, failed="injected fault: the backup failed", databases=[])
            return
        self._finish_backup(job_id, started, failed=None, databases=databases)

    def _finish_backup(self, job_id: str, started: float, failed: str | None, databases: list[dict]) -> None:
        """End a job Finished (or Failed, its files removed) and store the backup set it leaves."""
        job = self.cloud.store.get(JOB, job_id)
        if job is None:
            return
        inst = self.cloud.store.get(INSTANCE, job["DBInstanceId"]) or {}
        directory = self.backup_root / job["BackupId"]
        files = [directory / d["File"] for d in databases]
        if failed:
            shutil.rmtree(directory, ignore_errors=True)
            files, databases = [], []
        end = self.cloud.now()
        # A set is kept for the days CreateBackup asked (MySQL), else the instance policy's; -1 keeps it for good.
        retention = job.get("Retention") or inst.get("BackupRetentionPeriod", DEFAULT_RETENTION_DAYS)
        expire = end + timedelta(days=max(0, retention))
        # MetaStatus OK only for MySQL sets taken with database/table restore enabled; "" otherwise (SDK-old
        # DescribeBackupsResponseBodyItemsBackup.meta_status: "" = not usable for database/table restore).
        if failed:
            meta = "EMPTY"
        elif inst.get("Engine") != "MySQL" or table_restore(inst):
            meta = "OK"
        else:
            meta = ""
        backup = {
            "BackupId": job["BackupId"], "BackupJobId": job_id, "DBInstanceId": job["DBInstanceId"],
            "Status": "Failed" if failed else "Success", "Reason": failed or "",
            "StartTime": job["StartTime"], "EndTime": self.cloud.iso(end),
            "Size": sum(f.stat().st_size for f in files), "Checksum": crc64(files) if files else "",
            "Method": job["Method"], "Engine": inst.get("Engine", ""), "EngineVersion": inst.get("EngineVersion", ""),
            "Databases": databases, "ExpectExpireTime": "" if retention == -1 else self.cloud.iso(expire),
            "Mode": job.get("Mode", "Manual"), "MetaStatus": meta, "BaseBackup": (directory / wal.BASE).is_dir(),
            "EndEpoch": end.timestamp(), "ListedFrom": end.timestamp() + set_listed_after(inst),
        }
        self.cloud.store.put(BACKUP, job["BackupId"], backup)
        self._set_job(job_id, Status="Failed" if failed else "Finished",
                      Process="100" if not failed else job["Process"], Reason=failed or "", EndTime=self.cloud.iso(end),
                      EndEpoch=end.timestamp())
