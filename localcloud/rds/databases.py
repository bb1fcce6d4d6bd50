"""The databases of an RDS instance (DescribeDatabases): those on its real server now, and the new ones a running
restore is creating; DeleteDatabase drops one of them from the real server; DescribeResourceUsage tells what they take
(DiskUsed: the engine's own figure for the instance's databases, no logs; -1 where the engine cannot tell, as the
reference documents -1 for no data). The emulator models no accounts (each database lists none)."""
from __future__ import annotations

from ..core.rpc import RpcRequest
from . import errors, render, rules
from .engines.base import EngineError
from .engines.postgres import PgEngine
from .state import RdsState

# What DescribeDatabases shows for a database a running RestoreTable has already created and is still filling.
# UNCONFIRMED: the pessimistic reading, Running (the engine has it), so a caller must wait for the task, not the row.
RESTORING_DB_LISTED_AS = "Running"


# UNCONFIRMED: DeleteDatabase's error table names no code for a database the instance does not have.
NO_SUCH_DATABASE = "InvalidDBName.NotFound"


class Databases(RdsState):
    """The database actions of `models.Rds`."""

    def DeleteDatabase(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        name = req.require("DBName")
        inst = self._instance(instance_id)
        eng = self._engine(inst)
        try:
            names = self._databases(inst, eng)
            if name not in names or eng is None:
                raise errors.error(NO_SUCH_DATABASE, f"The database {name!r} does not exist.", 404)
            if any(t["NewName"] == name for task in self._running_restores(instance_id) for t in task["Targets"]):
                raise errors.error("Database.DelError", "Failed to delete the database. Check the specified "
                                                        "parameters and the instance state.", 400)
            eng.drop_database(name)
        except EngineError as err:
            raise errors.server_unreachable(err) from None
        return {}

    def DescribeResourceUsage(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        inst = self._instance(instance_id)
        eng = self._engine(inst)
        try:
            used = eng.used_bytes(list(self._databases(inst, eng))) if eng is not None else -1
        except EngineError as err:
            raise errors.server_unreachable(err) from None
        used = int(inst.get("DiskUsedBytes", used))         # a seeded figure (tests of a full instance) wins
        return {"DBInstanceId": instance_id, "Engine": inst["Engine"], "DiskUsed": used,
                "DataSize": used, "LogSize": 0 if used >= 0 else -1, "BackupSize": -1}

    def DescribeDatabases(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        inst = self._instance(instance_id)
        wanted = req.get("DBName")
        status_filter = req.get("DBStatus")
        eng = self._engine(inst)
        try:
            names = self._databases(inst, eng)
        except EngineError as err:
            raise errors.server_unreachable(err) from None
        creating: dict[str, dict] = {}
        for task in self._running_restores(instance_id):
            for t in task["Targets"]:
                if t["CreateDb"]:
                    creating[t["NewName"]] = t.get("Meta", {})
        rows = list(names) + [n for n in creating if n not in names]
        if wanted is not None:
            rows = [n for n in rows if n == wanted]
        try:
            meta = eng.describe(rows) if eng and rows else {}
            on_server = set(eng.all_databases()) if eng and creating else set()
        except EngineError as err:
            raise errors.server_unreachable(err) from None
        out = []
        for name in rows:
            status = "Running"
            if name in creating:       # a restore target: Creating until the restore has created it on the server
                status = RESTORING_DB_LISTED_AS if name in on_server else "Creating"
            if status_filter and status != status_filter:
                continue
            info = meta.get(name) or creating.get(name, {})
            out.append(render.database(name, status, inst, info, postgres=isinstance(eng, PgEngine)))
        size, number = rules.listed_page(req)
        total = len(out)
        out = out[(number - 1) * size: number * size]
        for item in out:           # the SDK model carries the paging fields on each database entry
            item.update(PageNumber=number, PageSize=size, TotalCount=total)
        return {"Databases": {"Database": out}}
