"""The databases of an RDS instance (DescribeDatabases): those on its real server now, and the new ones a running
restore is creating. The emulator models no accounts (each database lists none)."""
from __future__ import annotations

from ..core.rpc import RpcRequest
from . import errors, render, rules
from .engines.base import EngineError
from .engines.postgres import PgEngine
from .state import RdsState

# What DescribeDatabases shows for a database a running RestoreTable has already created and is still filling.
# UNCONFIRMED: the pessimistic reading, Running (the engine has it), so a caller must wait for the task, not the row.
RESTORING_DB_LISTED_AS = "Running"


class Databases(RdsState):
    """The database action of `models.Rds`."""

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
