"""RDS restore tasks: the worker that runs one (new databases created first, then filled from the backup files),
the undo of a failed or interrupted one, DescribeHistoryTasks (the task centre), and what a restart does with the
tasks a killed server left running (fail and undo them)."""
from __future__ import annotations

import logging

from ..core.rpc import RpcRequest
from . import errors, render, rules
from .engines.base import EngineError
from .engines.binlog import replay
from .engines.mysql import MySqlEngine
from .engines.postgres import PgEngine
from .engines.sqlserver import MssqlEngine
from .engines.wal import dumps_at
from .state import INSTANCE, RESTORE, RdsState

log = logging.getLogger("localcloud.rds")


class RestoreTasks(RdsState):
    """The restore task worker of `models.Rds` and DescribeHistoryTasks."""

    def DescribeHistoryTasks(self, req: RpcRequest) -> dict:
        """The task centre (SDK DescribeHistoryTasksRequest/ResponseBody), for the restore tasks the local cloud runs
        (TaskType render.RESTORE_TASK_TYPE, or RecoveryDBInstance for SQL Server); backups are not listed here."""
        start = rules.parse_time("FromStartTime", req.require("FromStartTime"))
        end = rules.parse_time("ToStartTime", req.require("ToStartTime"))
        ids = rules.comma_set(req, "InstanceId")
        types = rules.comma_set(req, "TaskType")
        statuses = rules.comma_set(req, "Status")
        task_ids = rules.comma_set(req, "TaskId")
        if len(ids) > 30 or len(types) > 30 or len(task_ids) > 30:
            raise errors.invalid("InstanceId", "At most 30 instance ids, task ids and task types.")
        size = req.get_int("PageSize", 10, lo=10, hi=100)
        number = req.get_int("PageNumber", 1, lo=1, hi=10 ** 9)

        def view(t: dict) -> dict:
            inst = self.cloud.store.get(INSTANCE, t["DBInstanceId"]) or {}
            return render.history_task(t, inst.get("Engine", ""), self.cloud.region)

        def wanted(t: dict) -> bool:
            began = rules.stored_time(t["StartTime"])
            return (start <= began <= end and (not ids or t["DBInstanceId"] in ids)
                    and (not task_ids or t["TaskId"] in task_ids))

        items = [view(t) for t in self.cloud.store.find(RESTORE, wanted)]
        items = [i for i in items
                 if (not types or i["TaskType"] in types) and (not statuses or i["Status"] in statuses)]
        items.reverse()                         # newest first; within one second, the later task first
        items.sort(key=lambda i: i["StartTime"], reverse=True)
        return {"Items": items[(number - 1) * size: number * size], "TotalCount": len(items),
                "PageNumber": number, "PageSize": size}

    def _resume_restores(self) -> None:
        """Fail, and undo, the restores a killed server left running."""
        for task in self.cloud.store.find(RESTORE, lambda t: t["Status"] == "Running"):
            self.cloud.submit(self._abort_restore, task["TaskId"], "interrupted by a restart of the local cloud")

    def _run_restore(self, task_id: str, started: float) -> None:
        try:
            self._restore_work(task_id, started)
        except Exception as err:  # noqa: BLE001 - any failure ends the restore Failed, undone
            if self.cloud.stopping:
                return  # resume() undoes and fails it
            log.warning("RDS restore %s failed: %s", task_id, err)
            self._abort_restore(task_id, str(err) or type(err).__name__)

    def _restore_work(self, task_id: str, started: float) -> None:
        task = self.cloud.store.get(RESTORE, task_id)
        if task is None or task["Status"] != "Running":
            return
        instance_id = task["DBInstanceId"]
        if self.cloud.wait_while_stuck(instance_id, task_id, task["BackupId"]):
            return
        if self.cloud.faults.fails(instance_id, task_id, task["BackupId"]):
            self.cloud.pace(started)
            if not self.cloud.stopping:
                self._abort_restore(task_id, "injected fault: the restore failed")
            return
        inst = self.cloud.store.get(INSTANCE, instance_id)
        eng = self._engine(inst)
        directory = self.backup_root / task["BackupId"]
        self.work_root.mkdir(parents=True, exist_ok=True)
        stopping = lambda: self.cloud.stopping  # noqa: E731
        for t in task["Targets"]:
            if not (directory / t["File"]).exists():
                raise EngineError(f"the backup file of {t['Name']!r} is missing")
        # The new databases exist (and are listed, see databases.RESTORING_DB_LISTED_AS) before they are filled;
        # op_delay_ms holds the restore in that state.
        if not isinstance(eng, MssqlEngine):
            for t in task["Targets"]:
                if t["CreateDb"]:
                    eng.create_database(t["NewName"], t["Meta"])
                    self.cloud.store.update(RESTORE, task_id, lambda d, n=t["NewName"]: d["CreatedDbs"].append(n))
        self.cloud.pace(started)
        if self.cloud.stopping:
            return
        # PostgreSQL to a second: each database dumped from a temporary server recovered to it (engines/wal.py)
        recovered = dumps_at(eng, directory, [t["Name"] for t in task["Targets"]], task["RestoreEpoch"],
                             self.work_root, stopping) \
            if isinstance(eng, PgEngine) and task.get("RestoreEpoch") is not None else {}
        try:
            self._fill(task, eng, directory, recovered, stopping)
        finally:
            for path in recovered.values():
                path.unlink(missing_ok=True)
        if self.cloud.stopping:
            return
        with self._lock:
            created = [t["NewName"] for t in task["Targets"] if t["CreateDb"]]

            def add(doc: dict) -> None:
                doc["Restored"] = list(dict.fromkeys([*doc.get("Restored", []), *created]))
            self.cloud.store.update(INSTANCE, instance_id, add)
            self.cloud.store.update(RESTORE, task_id, lambda d: d.update(Status="Succeed", EndTime=self.cloud.iso()))

    def _fill(self, task: dict, eng, directory, recovered: dict, stopping) -> None:
        """Load each target from its backup file (or, to a second, its recovered dump or the replayed log)."""
        task_id = task["TaskId"]
        for t in task["Targets"]:
            file = recovered.get(t["Name"]) or directory / t["File"]
            if isinstance(eng, MssqlEngine):        # the import creates the database
                self.cloud.store.update(RESTORE, task_id, lambda d, n=t["NewName"]: d["CreatedDbs"].append(n))
                eng.restore_database(file, t["NewName"], stopping)
                continue
            if isinstance(eng, PgEngine):
                eng.restore_database(file, t["NewName"], stopping)
            elif t["Tables"] is None:
                eng.restore_database(file, t["Name"], t["NewName"], self.work_root, stopping)
                if task.get("RestoreEpoch") is not None:      # to the second: the logs since the dump, replayed
                    replay(eng, t["Name"], t["NewName"], t["Binlog"][0], int(t["Binlog"][1]), task["RestoreEpoch"],
                           self.work_root, stopping)
            else:
                if not t["CreateDb"]:
                    self.cloud.store.update(RESTORE, task_id, lambda d, t=t: d["CreatedTables"].extend(
                        [[t["NewName"], new] for _, new in t["Tables"]]))
                eng.restore_tables(file, t["Name"], t["Meta"], t["NewName"], [tuple(p) for p in t["Tables"]],
                                   self.work_root, stopping)

    def _abort_restore(self, task_id: str, reason: str) -> None:
        """Undo what a restore created, then mark it Failed: its new databases never reach Running."""
        task = self.cloud.store.get(RESTORE, task_id)
        if task is None:
            return
        inst = self.cloud.store.get(INSTANCE, task["DBInstanceId"])
        eng = self._engine(inst) if inst else None
        if eng is not None:
            try:
                if isinstance(eng, MySqlEngine):
                    by_db: dict[str, list[str]] = {}
                    for db, table in task["CreatedTables"]:
                        by_db.setdefault(db, []).append(table)
                    for db, tables in by_db.items():
                        eng.drop_tables(db, tables)
                for db in task["CreatedDbs"]:
                    eng.drop_database(db)
            except EngineError as err:
                reason += f" (cleanup failed: {err})"
        self.cloud.store.update(RESTORE, task_id, lambda d: d.update(Status="Failed", Reason=reason,
                                                                     EndTime=self.cloud.iso()))
