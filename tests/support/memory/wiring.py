"""A `Ports` made of the in-memory ports, and a service instance seeded into them."""
from __future__ import annotations

from collections import Counter
from dataclasses import replace

from nestbackup.errors import ValidationError
from nestbackup.operations.timeline import TimelineRecords
from nestbackup.settings import DEFAULT_TAG_KEY, Settings

from .catalog import MemoryCatalog
from .compute import MemoryCompute
from .databases import MemoryDatabases
from .eventbus import MemoryEventBus
from .flows import MemoryFlows
from .gateway import MemoryDatabaseGateway
from .records import MemoryStore
from .secrets import MemorySecrets
from .webhooks import MemoryWebhooks

SETTINGS = Settings(region="cn-hangzhou", access_key_id="ak", access_key_secret="sk", security_token=None,
                    ecs_endpoint="memory", rds_endpoint="memory", fnf_endpoint="memory", ots_endpoint="memory",
                    ots_instance="memory", db_accounts_secret="nestbackup-db-accounts")


class MemoryWiring:
    def __init__(self, steps: int = 1, **settings: object) -> None:
        self.settings = replace(SETTINGS, **settings)           # type: ignore[arg-type]
        self.store = MemoryStore()                  # records, claims and documents, as one table holds them
        self.records = TimelineRecords(self.store)
        self.claims = self.store
        self.documents = self.store
        self.ecs = MemoryCompute(steps)
        self.rds = MemoryDatabases(steps)
        self.flows = MemoryFlows()
        self.computenest = MemoryCatalog()
        self.webhooks = MemoryWebhooks()
        self.event_bus = MemoryEventBus()
        self.secrets = MemorySecrets({"nestbackup-db-accounts": '{"PostgreSQL": {"User": "u"}, "MySQL": {"User": "u"}}'})
        self.calls: Counter[str] = Counter()
        self.db_grants: dict[str, dict[str, set[str]]] = {}     # RDS instance -> its account's grants

    def database(self, db_instance_id: str, engine: str) -> MemoryDatabaseGateway:
        if db_instance_id not in self.rds.servers:
            raise ValidationError(f"no database account for {db_instance_id} ({engine})")
        gateway = MemoryDatabaseGateway(self.rds.servers[db_instance_id])
        gateway.grants = self.db_grants.setdefault(db_instance_id, gateway.grants)
        return gateway

    def admin_token(self, fresh: bool = False) -> str | None:
        name = self.settings.admin_token_secret
        return self.secrets.read(name, fresh=fresh) if name else None

    def take_calls(self) -> dict[str, int]:
        calls = dict(self.ecs.refusals.calls + self.rds.refusals.calls + self.flows.refusals.calls)
        taken = {k: v - self.calls.get(k, 0) for k, v in calls.items() if v - self.calls.get(k, 0)}
        self.calls = Counter(calls)
        return taken

    def take_retries(self) -> list[str]:
        return []

    # -- seeding
    def seed(self, si: str, disks_per_instance: int = 2, instances: int = 1,
             databases: dict[str, dict[str, dict[str, list]]] | None = None, status: str = "Deployed") -> dict:
        """A deployed service instance: ECS instances with their disks, and an RDS instance per engine given
        (`{"PostgreSQL": {"app": {"t": [rows]}}}`), all listed by Compute Nest and tagged."""
        tags = {DEFAULT_TAG_KEY: si}
        self.computenest.add(si, status)
        out: dict = {"InstanceIds": [], "Disks": [], "DBInstances": []}
        for _ in range(instances):
            iid = self.ecs.add_instance(tags)
            self.computenest.list_resource(si, "ecs", "instance", iid)
            out["InstanceIds"].append(iid)
            out["Disks"] += [self.ecs.add_disk(iid, tags) for _ in range(disks_per_instance)]
        for engine, dbs in (databases or {}).items():
            rid = self.rds.add_instance(engine, tags, dbs)
            self.computenest.list_resource(si, "rds", "dbinstance", rid)
            out["DBInstances"].append(rid)
        return out
