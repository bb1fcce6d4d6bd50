"""The composition root: builds the real adapters behind the ports (`ports.Ports`) from the settings. Handlers, the
API and the CLI get theirs here; tests build the same shape from in-memory ports."""
from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING

from .errors import ValidationError
from .settings import Settings, default_endpoint, no_proxy_to

if TYPE_CHECKING:       # types only: each adapter imports its port's values when first built
    from .adapters.tablestore import Tablestore
    from .ports.catalog import ServiceCatalog
    from .ports.claims import Claims
    from .ports.compute import Compute
    from .ports.databases import Databases
    from .ports.documents import Documents
    from .ports.eventbus import EventBus
    from .ports.flows import Flows
    from .ports.gateway import DatabaseGateway
    from .ports.records import Records
    from .ports.secrets import Secrets
    from .ports.webhooks import Webhooks


class Wiring:
    """Adapters built on first use, so a handler imports only the SDK pieces it touches."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _rpc(self, endpoint: str, version: str, legacy_signature: bool = False, region: str | None = None):
        from .adapters.openapi import Credentials, RpcClient
        s = self.settings
        return RpcClient(endpoint, version, Credentials(s.access_key_id, s.access_key_secret, s.security_token),
                         region or s.region, legacy_signature=legacy_signature)

    @cached_property
    def ecs(self) -> Compute:
        from .adapters.ecs import VERSION, Ecs
        return Ecs(self._rpc(self.settings.ecs_endpoint, VERSION))

    @cached_property
    def rds(self) -> Databases:
        from .adapters.rds import VERSION, Rds
        return Rds(self._rpc(self.settings.rds_endpoint, VERSION))

    @cached_property
    def computenest(self) -> ServiceCatalog:
        from .adapters.computenest import VERSION, ComputeNest
        s = self.settings
        return ComputeNest(self._rpc(s.computenest_endpoint or default_endpoint("computenest", s.computenest_region),
                                     VERSION, region=s.computenest_region))

    @cached_property
    def flows(self) -> Flows:
        from .adapters.cloudflow import VERSION, CloudFlow
        return CloudFlow(self._rpc(self.settings.fnf_endpoint, VERSION, legacy_signature=True))

    @cached_property
    def webhooks(self) -> Webhooks:
        from .adapters.webhook import HttpWebhooks
        return HttpWebhooks()

    @cached_property
    def event_bus(self) -> EventBus:
        """One attempt, answered within the webhooks' deadline: a failed put is retried by the timer."""
        from .adapters.eventbridge import VERSION, EventBridge
        from .adapters.openapi import Credentials, RetryPolicy, RpcClient
        s = self.settings
        return EventBridge(RpcClient(s.eventbridge_endpoint or default_endpoint("eventbridge", s.region), VERSION,
                                     Credentials(s.access_key_id, s.access_key_secret, s.security_token), s.region,
                                     retry=RetryPolicy(attempts=1), read_timeout_ms=1000 * s.webhook_deadline_seconds,
                                     form_body=True))

    def take_calls(self) -> dict[str, int]:
        from .adapters.usage import take_calls
        return take_calls()

    def take_retries(self) -> list[str]:
        from .adapters.openapi import take_retries
        return take_retries()

    @cached_property
    def secrets(self) -> Secrets:
        from .adapters.kms import VERSION, Kms
        s = self.settings
        return Kms(self._rpc(s.kms_endpoint or default_endpoint("kms", s.region), VERSION), s.secret_ttl_seconds)

    def admin_token(self, fresh: bool = False) -> str | None:
        from .errors import CloudError, NotFound
        name = self.settings.admin_token_secret
        try:
            return self.secrets.read(name, fresh=fresh) if name else None
        except NotFound as err:     # the deployment's fault, not the caller's: never answered as a 404
            raise CloudError("SecretNotFound", str(err), action="GetSecretValue") from None

    def _db_account(self, db_instance_id: str, engine: str, fresh: bool = False) -> dict:
        name = self.settings.db_accounts_secret
        if not name:
            raise ValidationError(f"no database account for {db_instance_id} ({engine}): set "
                                  f"NESTBACKUP_DB_ACCOUNTS_SECRET to the KMS secret that holds the accounts")
        try:
            accounts = json.loads(self.secrets.read(name, fresh=fresh) or "{}")
        except ValueError:
            raise ValidationError(f"the KMS secret {name} is not JSON") from None
        account = accounts.get(db_instance_id) or accounts.get(engine) if isinstance(accounts, dict) else None
        if not isinstance(account, dict) or not account.get("User"):
            raise ValidationError(f"no database account for {db_instance_id} ({engine}) in the KMS secret {name}")
        return account

    def database(self, db_instance_id: str, engine: str) -> DatabaseGateway:
        """SQL on an RDS instance's databases (rename and verification), as the account the KMS secret holds for
        it (by instance id, else by engine); a refused login reads the secret again once (a rotation)."""
        from .adapters.databases.gateway import SqlDatabases
        from .model.engines import engine_of
        account = self._db_account(db_instance_id, engine)

        def reread() -> tuple[str, str]:
            again = self._db_account(db_instance_id, engine, fresh=True)
            return again["User"], again.get("Password") or ""

        attribute = self.rds.attribute(db_instance_id)
        return SqlDatabases.connect_to(
            engine=engine, host=attribute.get("ConnectionString") or "", port=int(attribute.get("Port") or 0),
            user=account["User"], password=account.get("Password") or "",
            maintenance_db=account.get("MaintenanceDb") or engine_of(engine).maintenance_db, reread=reread)

    @cached_property
    def _tablestore(self) -> Tablestore:
        from .adapters.tablestore import Tablestore
        s = self.settings
        no_proxy_to(s.ots_endpoint)
        return Tablestore.connect(s.ots_endpoint, s.access_key_id, s.access_key_secret, s.ots_instance,
                                  s.security_token, s.ots_table)

    # One table backs the three ports; only the records' writes derive a timeline.
    @cached_property
    def records(self) -> Records:
        from .operations.timeline import TimelineRecords
        return TimelineRecords(self._tablestore)

    @cached_property
    def claims(self) -> Claims:
        return self._tablestore

    @cached_property
    def documents(self) -> Documents:
        return self._tablestore
