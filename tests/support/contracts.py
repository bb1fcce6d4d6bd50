"""One port of the product, in memory or as the real adapter on the local cloud: the contract suites
(tests/contracts) get each port from one fixture parametrized over both (tests/contracts/conftest.py), so every
contract test runs on both and the fast operation tests stay honest.

A side is `port` (what the contract tests call) and the means to seed and steer what the port answers about; the
in-memory side reaches into its MemoryWiring, the real one into the local cloud's control plane."""
from __future__ import annotations

import time
import uuid

import pytest

from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from nestbackup.adapters.openapi import Credentials, RpcClient
from nestbackup.decisions.dbnames import aside_name, quote_mysql, quote_pg, restored_name
from nestbackup.errors import CloudError
from nestbackup.settings import DEFAULT_TAG_KEY
from tests.support.databases import PG_DSN
from tests.support.localcloud import Control
from tests.support.memory.wiring import MemoryWiring

IMPLEMENTATIONS = [pytest.param("memory"), pytest.param("real", marks=pytest.mark.slow)]
ENGINES = [pytest.param("memory"), pytest.param("PostgreSQL", marks=pytest.mark.slow),
           pytest.param("MySQL", marks=pytest.mark.slow)]


def rpc(endpoint: str, version: str, **options) -> RpcClient:
    return RpcClient(endpoint, version, Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET), "cn-hangzhou",
                     **options)


def eventually(check, timeout: float = 30, every: float = 0.1):
    """Ask again until `check()` gives something true (in memory, asking is what moves the work on)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(every)


class Side:
    """A service instance of its own on one implementation: `kind` is "memory" or "real" (then `endpoint` is the
    local cloud's)."""

    tag_key = DEFAULT_TAG_KEY

    def __init__(self, kind: str, endpoint: str | None = None) -> None:
        self.kind = kind
        self.si = f"si-{uuid.uuid4().hex[:12]}"
        if kind == "memory":
            self.memory = MemoryWiring()
        else:
            assert endpoint
            self.endpoint = endpoint
            self.control = Control(endpoint)
            self.control.clear_faults()

    def seed(self, disks: int = 2, kms_key_id: str | None = None) -> dict:
        """One ECS instance with `disks` disks (encrypted with `kms_key_id` if given), tagged and listed as the
        service instance's: their ids."""
        if self.kind == "memory":
            out = self.memory.seed(self.si, disks_per_instance=disks)
            for did in out["Disks"]:
                self.memory.ecs.disks[did]["kms_key_id"] = kms_key_id
            return {"InstanceIds": out["InstanceIds"], "Disks": out["Disks"]}
        out = self.control.seed(ServiceInstanceId=self.si, Disks=disks, DiskSize="1MiB", Fill=False,
                                **({"DiskKMSKeyId": kms_key_id} if kms_key_id else {}))
        return {"InstanceIds": out["InstanceIds"], "Disks": [d["DiskId"] for d in out["Disks"]]}


class ComputeSide(Side):
    """The compute port (ECS): MemoryCompute or adapters/ecs.py."""

    def __init__(self, kind: str, endpoint: str | None = None) -> None:
        super().__init__(kind, endpoint)
        if kind == "memory":
            self.port = self.memory.ecs
        else:
            from nestbackup.adapters.ecs import VERSION, Ecs
            self.port = Ecs(rpc(self.endpoint, VERSION))


class DatabasesSide(Side):
    """The databases port (RDS): MemoryDatabases or adapters/rds.py, with one PostgreSQL instance `rid` holding
    `database` (a real one on the real side), and `hold()`/`release()` to keep its tasks running or let them end."""

    def __init__(self, kind: str, database: str, endpoint: str | None = None) -> None:
        super().__init__(kind, endpoint)
        self.database = database
        if kind == "memory":
            self.port = self.memory.rds
            self.rid = self.memory.seed(self.si, instances=0,
                                        databases={"PostgreSQL": {database: {"t": [1, 2]}}})["DBInstances"][0]
        else:
            from nestbackup.adapters.rds import VERSION, Rds
            self.port = Rds(rpc(self.endpoint, VERSION))
            dsn = PG_DSN.rsplit("/", 1)[0] + f"/postgres?databases={database}"
            self.rid = self.control.seed(ServiceInstanceId=self.si, Disks=0, Postgres=dsn)["DBInstances"][0][
                "DBInstanceId"]

    def encrypt(self, tde_key: str | None, disk_key: str | None) -> None:
        """The instance's TDE key and cloud disk encryption key, as RDS would report them."""
        if self.kind == "memory":
            self.port.instances[self.rid].update(tde_key=tde_key, disk_key=disk_key)
        else:
            self.control.call("POST", f"/_local/rds/instances/{self.rid}",
                              {k: v for k, v in (("TDEKey", tde_key), ("DiskEncryptionKey", disk_key)) if v})

    def log_backup_on(self) -> None:
        """Log backup on in the instance's backup policy (real: each backup then also takes a base backup)."""
        if self.kind == "memory":
            self.port.instances[self.rid]["log_backup"] = True
        else:
            self.control.call("POST", f"/_local/rds/instances/{self.rid}", {"LogBackup": True})

    def written_around_a_second(self, before: int, after: int) -> str:
        """Row `before` written (and logged) in a second before the one answered, row `after` in one after it. In
        memory the log's times are set (no waiting); on the real server the writes wait for the seconds to pass."""
        if self.kind == "memory":
            start = time.time() - 10
            history = self.port.history[self.rid]
            history[:] = [(start - 10, contents) for _, contents in history]
            for value, at in ((before, start + 1), (after, start + 3)):
                self.port.servers[self.rid][self.database]["t"].append(value)
                self.port.log(self.rid, at)
            return _second(start + 2)
        _next_second()
        self._insert(before)
        _next_second()
        chosen = _second(time.time())
        _next_second()
        self._insert(after)
        return chosen

    def rows(self, database: str) -> list[int]:
        if self.kind == "memory":
            return list(self.port.servers[self.rid][database]["t"])
        import psycopg2
        with psycopg2.connect(PG_DSN.rsplit("/", 1)[0] + "/" + database) as conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM t ORDER BY id")
            return [r[0] for r in cur.fetchall()]

    def _insert(self, value: int) -> None:
        import psycopg2
        with psycopg2.connect(PG_DSN.rsplit("/", 1)[0] + "/" + self.database) as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO t VALUES (%s)", (value,))

    def hold(self) -> None:
        if self.kind == "memory":
            self.port.steps = 0
        else:
            self.control.faults(stuck=[self.rid])

    def release(self) -> None:
        if self.kind == "memory":
            self.port.steps = 1
            self.port.finish()
        else:
            self.control.clear_faults()


def _second(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def _next_second() -> None:
    time.sleep(1.05 - time.time() % 1)


class CatalogSide(Side):
    """The service catalog port (Compute Nest): MemoryCatalog or adapters/computenest.py, the service instance
    seeded with one instance of one disk."""

    def __init__(self, kind: str, endpoint: str | None = None) -> None:
        super().__init__(kind, endpoint)
        self.seed(disks=1)
        if kind == "memory":
            self.port = self.memory.computenest
        else:
            from nestbackup.adapters.computenest import VERSION, ComputeNest
            self.port = ComputeNest(rpc(self.endpoint, VERSION))


class FlowsSide:
    """The flows port (CloudFlow): MemoryFlows or adapters/cloudflow.py on a local cloud whose one flow, `flow`,
    waits five minutes (so its executions run while the test looks at them)."""

    flow = "contract-flow"
    definition = """Type: StateMachine
Name: contract-flow
SpecVersion: v1
StartAt: Hold
States:
  - Type: Wait
    Name: Hold
    Seconds: 300
    End: true
"""

    def __init__(self, kind: str, endpoint: str | None = None) -> None:
        self.kind = kind
        if kind == "memory":
            from tests.support.memory.flows import MemoryFlows
            self.port = MemoryFlows()
        else:
            from nestbackup.adapters.cloudflow import VERSION, CloudFlow
            assert endpoint
            self.port = CloudFlow(rpc(endpoint, VERSION, legacy_signature=True))


class RecordsSide:
    """The records, claims and documents ports (one Tablestore table): MemoryStore or adapters/tablestore.py on a table
    of its own."""

    def __init__(self, kind: str, endpoint: str | None = None) -> None:
        self.kind = kind
        if kind == "memory":
            from tests.support.memory.records import MemoryStore
            self.port = MemoryStore()
        else:
            from nestbackup.adapters.tablestore import Tablestore
            from tests.support.clients import make_ots
            assert endpoint
            self.port = Tablestore(make_ots(endpoint), table="t" + uuid.uuid4().hex[:12])
            assert self.port.ensure_table() is True
            assert self.port.ensure_table() is False


class GatewaySide:
    """The database gateway port (SQL): MemoryDatabaseGateway or adapters/databases/gateway.py on one of this
    machine's servers (`kind`: "memory", "PostgreSQL" or "MySQL"); databases of one table `t` with a number of rows,
    each dropped by `clean()`."""

    def __init__(self, kind: str) -> None:
        self.kind, self.made = kind, []
        if kind == "memory":
            from tests.support.memory.gateway import MemoryDatabaseGateway
            self.databases: dict[str, dict[str, list]] = {}
            self.port = MemoryDatabaseGateway(self.databases)
            return
        from nestbackup.adapters.databases.gateway import SqlDatabases
        from tests.support.dbservers import MY, PG
        server = PG if kind == "PostgreSQL" else MY
        self.port = SqlDatabases(server)

    def names(self) -> tuple[str, str, str]:
        original, rid = f"nbc{uuid.uuid4().hex[:10]}", f"restore-{uuid.uuid4().hex[:20]}"
        engine = "MySQL" if self.kind == "memory" else self.kind
        names = original, restored_name(original, rid, engine), aside_name(original, rid, engine)
        self.made += names
        return names

    def make(self, name: str, rows: int) -> None:
        if self.kind == "memory":
            self.databases[name] = {"t": list(range(rows))}
            return
        values = ", ".join(f"({i})" for i in range(rows))
        if self.kind == "PostgreSQL":
            from tests.support.dbservers import pg_exec
            pg_exec(f"CREATE DATABASE {quote_pg(name)}")
            pg_exec("CREATE TABLE t (id int)", db=name)
            if rows:
                pg_exec(f"INSERT INTO t VALUES {values}", db=name)
        else:
            from tests.support.dbservers import my_exec
            my_exec(f"CREATE DATABASE {quote_mysql(name)}", f"CREATE TABLE {quote_mysql(name)}.t (id INT)",
                    *([f"INSERT INTO {quote_mysql(name)}.t VALUES {values}"] if rows else []))

    def rows(self, name: str) -> int | None:
        """The rows of table `t` in database `name`; None when the database does not exist."""
        try:
            counts = self.port.row_counts(name)
        except CloudError as err:
            assert err.code == "DatabaseUnreachable"
            return None
        return {table.split(".")[-1]: n for table, n in counts.items()}.get("t")

    def limited(self, *databases: str):
        """The port as a throwaway account that may only read `databases` (PostgreSQL: owned by another role)."""
        user, owner = f"nbu_{uuid.uuid4().hex[:10]}", f"nbo_{uuid.uuid4().hex[:10]}"
        if self.kind == "memory":
            from tests.support.memory.gateway import MemoryDatabaseGateway
            port = MemoryDatabaseGateway(self.databases)
            port.account, port.grants = f"{user}@%", {database: {"SELECT"} for database in databases}
            self.limited_port = port
            return port
        from dataclasses import replace

        from nestbackup.adapters.databases.gateway import SqlDatabases
        if self.kind == "PostgreSQL":
            from tests.support.dbservers import pg_exec
            self.roles = [user, owner]
            pg_exec(f"CREATE ROLE {quote_pg(user)} LOGIN PASSWORD 'limited'")
            pg_exec(f"CREATE ROLE {quote_pg(owner)} NOLOGIN")
            for database in databases:
                pg_exec(f"ALTER DATABASE {quote_pg(database)} OWNER TO {quote_pg(owner)}")
        else:
            from tests.support.dbservers import my_exec
            self.roles = [user]
            my_exec(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'limited'",
                    *(f"GRANT SELECT ON {quote_mysql(database)}.* TO '{user}'@'%'" for database in databases))
        return SqlDatabases(replace(self.port.server, user=user, password="limited"))

    def grant(self, statements: str) -> None:
        """Run a gap's fix as the administrator (in memory: GRANT <privileges> ON <db>.*|*.* TO <account>)."""
        if self.kind == "memory":
            import re
            m = re.fullmatch(r"GRANT (.+) ON (\*\.\*|`(.+)`\.\*) TO '.+'@'.+'", statements)
            assert m, statements
            where = "" if m.group(2) == "*.*" else m.group(3).replace("\\_", "_").replace("\\%", "%")
            self.limited_port.grants.setdefault(where, set()).update(p.strip() for p in m.group(1).split(","))
        elif self.kind == "PostgreSQL":
            from tests.support.dbservers import pg_exec
            for statement in statements.split("; "):
                pg_exec(statement)
        else:
            from tests.support.dbservers import my_exec
            my_exec(statements)

    def clean(self) -> None:
        if self.kind == "PostgreSQL":
            from nestbackup.adapters.databases.postgres import _Postgres
            from tests.support.dbservers import pg_drop, pg_exec
            pg_drop(*self.made, *(_Postgres.helper_name(n) for n in self.made))
            for role in getattr(self, "roles", []):
                pg_exec(f"DROP ROLE IF EXISTS {quote_pg(role)}")
        elif self.kind == "MySQL":
            from tests.support.dbservers import my_drop, my_exec
            my_drop(*self.made)
            for user in getattr(self, "roles", []):
                my_exec(f"DROP USER IF EXISTS '{user}'@'%'")
