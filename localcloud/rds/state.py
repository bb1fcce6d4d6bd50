"""The state every RDS resource shares: the kinds of stored documents, where backup files live, the SQL Server
stand-ins this process serves, and the lookups the actions share (an instance, its engine, its databases on the
real server, its running restores, its DBInstanceStatus)."""
from __future__ import annotations

import secrets
import threading
from typing import Any

from ..core.product import Product
from ..core.rpc import RpcRequest
from . import errors
from .engines import engine_for
from .engines.base import Engine, EngineError
from .engines.dsn import parse_dsn
from .engines.sqlserver import MssqlEngine

INSTANCE, JOB, BACKUP, RESTORE, TOKEN = "rds.instance", "rds.backup_job", "rds.backup", "rds.restore", "rds.token"
ENGINES = {"mysql": "MySQL", "postgresql": "PostgreSQL", "sqlserver": "SQLServer", "mariadb": "MariaDB"}
ACTIVE_JOB = ("NoStart", "Preparing", "Uploading")
MSSQL_LOGIN = ("sa", "")
# While a database/table restore runs, the instance shows "Creating Temporary Instance" (DBInstanceStatus
# TempDBInstanceCreating) and goes back to Running when the task ends ("Description of the Creating Temporary
# Instance state", RDS MySQL docs; the value is in the SDK/Terraform DBInstanceStatus lists). Backups run normally in
# that state; another restore is refused. UNCONFIRMED for PostgreSQL (the page is MySQL's); modelled the same.
RESTORE_INSTANCE_STATUS = "TempDBInstanceCreating"


class RdsState(Product):
    """What the resource mixins of `models.Rds` build on."""

    def __init__(self, cloud) -> None:
        super().__init__(cloud)
        self._lock = threading.RLock()
        self.root = cloud.state_dir / "rds"
        self.backup_root = self.root / "backups"
        self.work_root = self.root / "work"
        self._mssql: dict[str, tuple[Any, Any]] = {}       # instance id -> (Catalog, MssqlServer)

    def dispatch(self, req: RpcRequest) -> dict[str, Any]:
        try:
            return super().dispatch(req)
        except EngineError as err:
            raise errors.server_unreachable(err) from None

    def close(self) -> None:
        with self._lock:
            servers, self._mssql = [srv for _, srv in self._mssql.values()], {}
        for server in servers:
            server.close()

    def _instance(self, instance_id: str) -> dict:
        doc = self.cloud.store.get(INSTANCE, instance_id)
        if doc is None:
            raise errors.instance_not_found(instance_id)
        return doc

    def _engine(self, inst: dict) -> Engine | None:
        if inst["Engine"] == "SQLServer":
            return MssqlEngine(self._mssql[inst["DBInstanceId"]][0])
        if not inst.get("Dsn"):
            return None
        return engine_for(inst["Engine"], parse_dsn(inst["Dsn"]))

    def _serve_mssql(self, inst: dict) -> int:
        """Serve a SQL Server instance's catalog over TDS, on its port of before when free; returns the port."""
        from ..mssql import Catalog, MssqlServer
        instance_id = inst["DBInstanceId"]
        with self._lock:
            if instance_id in self._mssql:
                return self._mssql[instance_id][1].port
            catalog = Catalog(self.root / "mssql" / f"{instance_id}.json")
            server = MssqlServer(catalog, port=int(inst.get("Port") or 0), user=MSSQL_LOGIN[0],
                                 password=MSSQL_LOGIN[1])
            try:
                port = server.start()
            except OSError:                    # the old port is taken: any free one
                server = MssqlServer(catalog, user=MSSQL_LOGIN[0], password=MSSQL_LOGIN[1])
                port = server.start()
            self._mssql[instance_id] = (catalog, server)
        self.cloud.store.update(INSTANCE, instance_id, lambda d: d.update(Port=port))
        return port

    def _databases(self, inst: dict, eng: Engine | None = None) -> list[str]:
        """The databases of an instance, looked up on the real server now."""
        eng = eng or self._engine(inst)
        if eng is None:
            return []
        if inst.get("Databases") is None:
            return eng.user_databases()
        existing = set(eng.all_databases())
        out: list[str] = []
        for name in [*inst["Databases"], *inst.get("Restored", [])]:
            if name in existing and name not in out:
                out.append(name)
        return out

    def _new_numeric_id(self, kind: str) -> str:
        while True:
            candidate = str(100_000_000 + secrets.randbelow(900_000_000))
            if self.cloud.store.get(kind, candidate) is None:
                return candidate

    def _running_restores(self, instance_id: str) -> list[dict]:
        return self.cloud.store.find(RESTORE, lambda d: d["DBInstanceId"] == instance_id and d["Status"] == "Running")

    def _restoring(self, instance_id: str) -> bool:
        return any(t.get("Action", "RestoreTable") == "RestoreTable" for t in self._running_restores(instance_id))

    def _status(self, inst: dict) -> str:
        """DBInstanceStatus: the stored one, or RESTORE_INSTANCE_STATUS while a RestoreTable task runs on it."""
        if inst["Status"] == "Running" and self._restoring(inst["DBInstanceId"]):
            return RESTORE_INSTANCE_STATUS
        return inst["Status"]
