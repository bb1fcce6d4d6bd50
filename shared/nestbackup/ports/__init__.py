"""The ports: every external thing the operations use, as typed Protocols with the plain values they answer with.

Operations take one `Ports` object (`w`); `wiring.Wiring` builds it from the real adapters (`adapters/`), and the
tests build one from in-memory implementations (`tests/support/memory/`), kept honest by one contract suite per port
that runs against both (`tests/contracts/`).

| port | protocol | real adapter |
|---|---|---|
| compute | `compute.Compute` | `adapters/ecs.py` (ECS) |
| databases | `databases.Databases` | `adapters/rds.py` (RDS) |
| flows | `flows.Flows` | `adapters/cloudflow.py` (CloudFlow) |
| service catalog | `catalog.ServiceCatalog` | `adapters/computenest.py` (Compute Nest) |
| records | `records.Records` | `adapters/tablestore.py` (Tablestore), with `operations/timeline.py` on top |
| claims | `claims.Claims` | `adapters/tablestore.py` (the same table) |
| documents | `documents.Documents` | `adapters/tablestore.py` (the same table) |
| database gateway | `gateway.DatabaseGateway` | `adapters/databases/gateway.py` (MySQL, PostgreSQL, SQL Server) |
| webhooks | `webhooks.Webhooks` | `adapters/webhook.py` (HTTP) |
| event bus | `eventbus.EventBus` | `adapters/eventbridge.py` (EventBridge) |
| secrets | `secrets.Secrets` | `adapters/kms.py` (KMS secrets) |
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:       # types only: a handler loads the port modules (their value classes) its own step uses
    from ..settings import Settings
    from .catalog import ServiceCatalog
    from .claims import Claims
    from .compute import Compute
    from .databases import Databases
    from .documents import Documents
    from .eventbus import EventBus
    from .flows import Flows
    from .gateway import DatabaseGateway
    from .records import Records
    from .secrets import Secrets
    from .webhooks import Webhooks


class Ports(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def ecs(self) -> Compute: ...

    @property
    def rds(self) -> Databases: ...

    @property
    def flows(self) -> Flows: ...

    @property
    def computenest(self) -> ServiceCatalog: ...

    @property
    def records(self) -> Records: ...

    @property
    def claims(self) -> Claims: ...

    @property
    def documents(self) -> Documents: ...

    @property
    def webhooks(self) -> Webhooks: ...

    @property
    def event_bus(self) -> EventBus: ...

    @property
    def secrets(self) -> Secrets: ...

    def admin_token(self, fresh: bool = False) -> str | None:
        """The admin's bearer token, from its secret (None when the deployment names none); `fresh` as
        Secrets.read."""
        ...

    def database(self, db_instance_id: str, engine: str) -> DatabaseGateway:
        """SQL access to an RDS instance's databases; ValidationError when no account is configured for it."""
        ...

    def take_calls(self) -> dict[str, int]:
        """The cloud calls this thread made since the last take, by "product:Action" (every attempt)."""
        ...

    def take_retries(self) -> list[str]:
        """The refusals this thread's cloud calls retried since the last take (e.g. "CreateSnapshot: Throttling"),
        so an operation can put them on its record's timeline."""
        ...
