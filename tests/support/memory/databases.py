"""The databases port (RDS) in memory, over in-memory database servers (`servers`: instance id -> database name ->
table -> rows), which the in-memory database gateway reads and renames too. Backup jobs and restore tasks move on
when the test says so (`finish`) or by themselves after `steps` describe calls."""
from __future__ import annotations

import copy
import itertools
import math
import threading
import time
from datetime import datetime, timezone

from nestbackup.adapters.rds import (  # the same refusal tables and TableMeta form as the real port
    WHOLE_DATABASE_TABLE_META,
    backup_must_wait,
    restore_waits,
)
from nestbackup.errors import CloudError
from nestbackup.ports.databases import (
    BackupJob,
    BackupSet,
    Database,
    DbEncryption,
    DBInstance,
    HistoryTask,
    RestoreWindow,
)

from .compute import Refusals


class MemoryDatabases:
    whole_database_table_meta = WHOLE_DATABASE_TABLE_META
    backup_must_wait = staticmethod(backup_must_wait)
    restore_waits = staticmethod(restore_waits)

    def __init__(self, steps: int = 1) -> None:
        self.steps = steps
        self.refusals = Refusals()
        self._lock = threading.RLock()
        self._ids = itertools.count(100)
        self.instances: dict[str, dict] = {}
        self.servers: dict[str, dict[str, dict[str, list]]] = {}
        self.jobs: dict[str, dict] = {}
        self.sets: dict[str, dict] = {}
        self.tasks: dict[str, dict] = {}
        self.failing: set[str] = set()          # instances whose backups and restores end failed
        self.forget_finished = False            # DescribeBackupTasks no longer answers for an ended job
        self.tokens: set[str] = set()
        self.disk_used: dict[str, int] = {}     # DescribeResourceUsage DiskUsed per instance (default 1 GiB)
        # What each instance's logs hold: (epoch, contents then), from its first backup set on; a test that changes a
        # server calls `log` (the engine logging the change). Only MySQL instances keep log backups here, as on the
        # local cloud (localcloud/rds/point_in_time.py).
        self.history: dict[str, list[tuple[float, dict]]] = {}

    # -- seeding
    def add_instance(self, engine: str, tags: dict[str, str], databases: dict[str, dict[str, list]] | None = None,
                     kind: str = "Primary", master: str = "") -> str:
        rid = f"rm-{next(self._ids):06d}"
        self.instances[rid] = {"engine": engine, "status": "Running", "tags": dict(tags), "kind": kind,
                               "master": master, "table_restore": True,
                               "log_backup": engine.lower() in ("mysql", "mariadb")}
        self.servers[rid] = copy.deepcopy(databases or {})
        return rid

    def log(self, rid: str, at: float | None = None) -> None:
        """The server's current contents, logged at `at` (now): what a restore to a later second brings back."""
        with self._lock:
            if self.history.get(rid):
                self.history[rid].append((time.time() if at is None else at, copy.deepcopy(self.servers[rid])))

    def finish(self, *ids: str) -> None:
        """End the backup jobs and restore tasks named (or every one)."""
        with self._lock:
            for jid, job in self.jobs.items():
                if (not ids or jid in ids or job["instance"] in ids) and job["status"] != "Finished" \
                        and job["status"] != "Failed":
                    self._end_job(jid, job)
            for tid, task in self.tasks.items():
                if (not ids or tid in ids or task["instance"] in ids) and task["status"] == "Running":
                    self._end_task(task)

    # -- the port
    def instances_tagged(self, key: str, value: str) -> list[DBInstance]:
        return [self._instance(r) for r, d in self.instances.items() if d["tags"].get(key) == value]

    def describe_instances(self, db_instance_ids: list[str]) -> dict[str, DBInstance]:
        return {r: self._instance(r) for r in db_instance_ids if r in self.instances}

    def attribute(self, db_instance_id: str) -> dict:
        doc = self.instances[db_instance_id]
        return {"DBInstanceId": db_instance_id, "DBInstanceStatus": self.instance_status(db_instance_id),
                "ConnectionString": f"{db_instance_id}.memory", "Port": "3306", "DBInstanceStorage": "20",
                "Engine": doc["engine"]}

    def describe_encryption(self, db_instance_id: str) -> DbEncryption:
        """As RDS answers: TDE with `tde_key` and cloud disk encryption with `disk_key`, as set on the instance."""
        self.refusals.call("DescribeDBInstanceTDE")
        doc = self.instances[db_instance_id]
        return DbEncryption(bool(doc.get("tde_key")), doc.get("tde_key"), doc.get("disk_key") or "")

    def instance_status(self, db_instance_id: str) -> str:
        busy = any(t["instance"] == db_instance_id and t["status"] == "Running" for t in self.tasks.values())
        return "TempDBInstanceCreating" if busy else self.instances[db_instance_id]["status"]

    def create_backup(self, db_instance_id: str, retention_days: int | None = None) -> str:
        self.refusals.call("CreateBackup")
        with self._lock:
            if any(j["instance"] == db_instance_id and j["status"] not in ("Finished", "Failed")
                   for j in self.jobs.values()):
                raise CloudError("BackupJobExists", "a backup task is running", action="CreateBackup",
                                 http_status=403)
            jid = str(next(self._ids))
            self.jobs[jid] = {"instance": db_instance_id, "status": "Uploading", "progress": 0, "backup_id": None,
                              "mode": "Manual", "seen": 0, "started": time.time()}
            return jid

    def running_backup_jobs(self, db_instance_id: str) -> list[BackupJob]:
        return [self._job(j) for j, d in self.jobs.items()
                if d["instance"] == db_instance_id and d["status"] not in ("Finished", "Failed")]

    def backup_job(self, db_instance_id: str, job_id: str) -> BackupJob | None:
        self.refusals.call("DescribeBackupTasks")
        with self._lock:
            job = self.jobs.get(job_id)
            if job is None or job["instance"] != db_instance_id:
                return None
            if self.forget_finished and job["status"] in ("Finished", "Failed"):
                return None
            if job["status"] not in ("Finished", "Failed") and self.steps > 0:
                job["seen"] += 1
                job["progress"] = min(95, int(100 * job["seen"] / (self.steps + 1)))
                if job["seen"] >= self.steps:
                    self._end_job(job_id, job)
            return self._job(job_id)

    def backup_set(self, db_instance_id: str, backup_id: str) -> BackupSet | None:
        found = self.sets.get(backup_id)
        if found is None or found["instance"] != db_instance_id:
            return None
        return BackupSet(backup_id, found["status"], found["mode"], "OK", "Enabled", None,
                         size_bytes=found["size"])

    def manual_backups_since(self, db_instance_id: str, since_epoch: float) -> list[str]:
        mine = [(s["started"], b) for b, s in self.sets.items()
                if s["instance"] == db_instance_id and s["mode"] == "Manual" and s["status"] == "Success"
                and s["started"] >= since_epoch - 60]
        return [b for _, b in sorted(mine, reverse=True)]

    def table_restore_enabled(self, db_instance_id: str) -> bool:
        return bool(self.instances[db_instance_id]["table_restore"])

    def delete_backup(self, db_instance_id: str, backup_id: str) -> None:
        self.refusals.call("DeleteBackup")
        if self.sets.pop(backup_id, None) is None:
            raise CloudError("InvalidBackupId.NotFound", f"backup {backup_id} does not exist", action="DeleteBackup",
                             http_status=404)

    def restore_table(self, db_instance_id: str, backup_id: str, table_meta: list[dict], client_token: str,
                      restore_time: str | None = None) -> None:
        self.refusals.call("RestoreTable")
        with self._lock:
            if client_token in self.tokens:
                return
            backup = self._at(db_instance_id, restore_time, "RestoreTable") if restore_time else \
                self.sets.get(backup_id)
            if backup is None:
                raise CloudError("InvalidBackupId.NotFound", f"backup {backup_id} does not exist",
                                 action="RestoreTable", http_status=404)
            self.tokens.add(client_token)
            self._new_task(db_instance_id, backup, {m["name"]: m["newname"] for m in table_meta}, "RestoreTable")

    def recover_databases(self, db_instance_id: str, backup_id: str, new_names: dict[str, str],
                          restore_time: str | None = None) -> None:
        self.refusals.call("RecoveryDBInstance")
        with self._lock:
            source = self._at(db_instance_id, restore_time, "RecoveryDBInstance") if restore_time else \
                self.sets[backup_id]
            self._new_task(db_instance_id, source, dict(new_names), "RecoveryDBInstance")

    def restore_window(self, db_instance_id: str) -> RestoreWindow:
        self.refusals.call("DescribeBackupPolicy")
        with self._lock:
            inst = self.instances[db_instance_id]
            logged = self.history.get(db_instance_id) if inst["log_backup"] else None
            begin, end = (math.ceil(logged[0][0]), math.floor(time.time())) if logged else (1, 0)
            if begin > end:             # no set yet, or not a whole second since the first one
                return RestoreWindow(inst["log_backup"], inst["table_restore"], None, None, 7)
            return RestoreWindow(True, inst["table_restore"], _iso(begin), _iso(end), 7)

    def _at(self, rid: str, restore_time: str, action: str) -> dict:
        """The contents logged last before the second `restore_time`, as a restore to it brings back; refused as
        the local cloud refuses (no log backup, outside the range)."""
        def refuse(why: str) -> CloudError:
            return CloudError("InvalidParameter", f"The specified parameter \"RestoreTime\" is not valid: {why}",
                              action=action, http_status=400)
        if not self.instances[rid]["log_backup"]:
            raise refuse("the instance has no log backup")
        epoch = datetime.strptime(restore_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
        logged = [contents for at, contents in self.history.get(rid, []) if at < epoch]
        if not logged or epoch > time.time():
            raise refuse("the time is outside the restorable time range")
        return {"contents": logged[-1]}

    def restore_tasks(self, db_instance_id: str, since_epoch: float) -> list[HistoryTask]:
        self.refusals.call("DescribeHistoryTasks")
        with self._lock:
            for task in self.tasks.values():
                if task["instance"] == db_instance_id and task["status"] == "Running" and self.steps > 0:
                    task["seen"] += 1
                    if task["seen"] >= self.steps:
                        self._end_task(task)
            return [HistoryTask(t, "RestoreTable", d["status"], d.get("reason", ""), d.get("detail", ""))
                    for t, d in self.tasks.items() if d["instance"] == db_instance_id
                    and d["started"] >= since_epoch - 60 and d["kind"] == "RestoreTable"]

    def databases(self, db_instance_id: str, name: str | None = None) -> list[Database]:
        self.refusals.call("DescribeDatabases")
        with self._lock:
            if any(t["instance"] == db_instance_id and t["status"] == "Running" and t["kind"] == "RecoveryDBInstance"
                   for t in self.tasks.values()):
                for task in list(self.tasks.values()):      # RecoveryDBInstance is followed through the list
                    if task["instance"] == db_instance_id and task["status"] == "Running" and self.steps > 0:
                        task["seen"] += 1
                        if task["seen"] >= self.steps:
                            self._end_task(task)
            names = sorted(self.servers[db_instance_id])
            return [Database(n, "Running") for n in names if name is None or n == name]

    def delete_database(self, db_instance_id: str, name: str) -> None:
        self.refusals.call("DeleteDatabase")
        with self._lock:
            if self.servers[db_instance_id].pop(name, None) is None:
                raise CloudError("InvalidDBName.NotFound", f"database {name} does not exist",
                                 action="DeleteDatabase", http_status=404)

    def disk_used_bytes(self, db_instance_id: str) -> int | None:
        self.refusals.call("DescribeResourceUsage")
        return self.disk_used.get(db_instance_id, 1 << 30)

    # -- plumbing
    def _new_task(self, instance: str, backup: dict, names: dict[str, str], kind: str) -> None:
        tid = f"t-{next(self._ids)}"
        self.tasks[tid] = {"instance": instance, "contents": backup["contents"], "names": names, "kind": kind,
                           "status": "Running", "seen": 0, "started": time.time()}

    def _end_task(self, task: dict) -> None:
        if task["instance"] in self.failing:
            task.update(status="Failed", reason="RestoreFailed", detail="the restore failed (injected)")
            return
        for old, new in task["names"].items():
            self.servers[task["instance"]][new] = copy.deepcopy(task["contents"].get(old, {}))
        task["status"] = "Succeed"

    def _end_job(self, jid: str, job: dict) -> None:
        if job["instance"] in self.failing:
            job["status"] = "Failed"
            return
        bid = str(next(self._ids))
        contents = copy.deepcopy(self.servers[job["instance"]])
        self.history.setdefault(job["instance"], []).append((time.time(), copy.deepcopy(contents)))
        self.sets[bid] = {"instance": job["instance"], "status": "Success", "mode": job["mode"],
                          "started": job["started"], "contents": contents,
                          "size": 1024 * (1 + sum(len(rows) for db in contents.values() for rows in db.values()))}
        job.update(status="Finished", progress=100, backup_id=bid)

    def _job(self, jid: str) -> BackupJob:
        d = self.jobs[jid]
        return BackupJob(jid, d["status"], d["progress"], d["backup_id"], d["mode"])

    def _instance(self, rid: str) -> DBInstance:
        d = self.instances[rid]
        return DBInstance(rid, d["engine"], self.instance_status(rid), d["kind"], d["master"])


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
