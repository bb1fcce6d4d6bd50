"""The local cloud: the products assembled on their shared context (localcloud.core.context), which is all a product
sees of it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

from . import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_REGION
from .core.context import CloudContext
from .core.product import Product

_REPO = Path(__file__).resolve().parents[1]


class LocalCloud(CloudContext):
    def __init__(self, state_dir: str | Path | None = None, credentials: dict[str, str] | None = None,
                 region: str = DEFAULT_REGION,
                 flows_dir: str | Path | None = None, s_yaml: str | Path | None = None,
                 flow_wait_scale: float = 1.0, function_env: dict[str, str] | None = None,
                 http_triggers: dict[str, str] | None = None, role_policies: dict[str, dict] | None = None,
                 fire_timers: bool = False, ecs_calls_per_minute: int | None = None) -> None:
        """`s_yaml`: the Serverless Devs file whose fc3 functions and triggers are deployed (default: the
        repository's s.yaml); `function_env`: values that override the deployed functions' environment ("{endpoint}"
        is replaced by the server's URL); `http_triggers`: path prefix -> function name, where the function's
        s.yaml HTTP trigger is served (e.g. {"/api": "nestbackup-api"}); `role_policies`: RAM role name -> policy
        document: every call a function makes with its role's credentials is checked against it
        (localcloud/core/ram.py); without it, functions get the account's own key and nothing is checked;
        `fire_timers`: fire the s.yaml timer triggers on their cron once the server listens
        (localcloud/fc/timers.py); `ecs_calls_per_minute`: refuse each ECS API's calls past this many a minute, as
        ECS throttles (localcloud/ecs/throttling.py; its PER_MINUTE is the assumed figure)."""
        if state_dir is None:
            state_dir = tempfile.mkdtemp(prefix="localcloud-")
        super().__init__(Path(state_dir), credentials or {DEFAULT_ACCESS_KEY_ID: DEFAULT_ACCESS_KEY_SECRET}, region)
        self.fire_timers = fire_timers
        # Imported here so that a product's heavy imports stay out of `import localcloud.cloud`.
        from .computenest.models import ComputeNest
        from .ecs.models import Ecs
        from .eventbridge.models import EventBridge
        from .fnf.models import Fnf
        from .rds.models import Rds
        from .tablestore.models import Tablestore
        from .tablestore.network import TablestoreInstances
        self.ecs = Ecs(self, ecs_calls_per_minute)
        self.rds = Rds(self)
        self.ots = Tablestore(self)
        self.ots_instances = TablestoreInstances(self)
        # CloudFlow: flows_dir defaults to the repository's flows/ when it exists.
        self.fnf = Fnf(self, flows_dir=flows_dir, wait_scale=flow_wait_scale)
        self.computenest = ComputeNest(self)
        self.eventbridge = EventBridge(self)
        from .kms.models import Kms
        self.kms = Kms(self)
        self.rpc_products: dict[str, Product] = {p.version: p for p in (self.ecs, self.rds, self.fnf,
                                                                          self.computenest, self.eventbridge,
                                                                          self.ots_instances, self.kms)}
        for role, policy in (role_policies or {}).items():
            self.ram.attach_role(role, policy)
        # Function Compute: what s.yaml deploys, served to CloudFlow tasks, HTTP triggers and the FC API.
        from .fc.models import Fc
        from .fc.syaml import DeploymentError
        from .fc_http import http_trigger
        self.fc = Fc(self)
        if s_yaml is None and (_REPO / "s.yaml").is_file():
            s_yaml = _REPO / "s.yaml"
        if s_yaml is not None:
            self.fc.deploy(s_yaml, function_env)
        # Extra HTTP mounts (path prefix -> handler): the FC HTTP triggers.
        self.mounts: dict[str, Callable] = {}
        self.http_mounts = dict(http_triggers or {})
        for prefix, function_name in self.http_mounts.items():
            spec = self.fc.functions.get(function_name)
            trigger = spec.trigger("http") if spec else None
            if trigger is None:
                raise DeploymentError(f"{function_name} has no HTTP trigger in {s_yaml} to serve at {prefix}")
            self.mounts[prefix] = http_trigger(self, function_name, trigger.methods)
        for product in (self.ecs, self.rds, self.ots, self.fnf):
            product.resume()

    def bind(self, endpoint: str) -> None:
        """Called once the server listens: give the in-process functions their environment, as FC would."""
        self.endpoint = endpoint
        key_id, secret = next(iter(self.credentials.items()))
        env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": key_id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": secret,
               "FC_REGION": self.region, "FC_ACCOUNT_ID": self.fnf.functions.account_id}
        env.update(self.fc.environment(endpoint))
        self._env_before = {k: os.environ.get(k) for k in env}
        from .fc.syaml import note_bound
        note_bound(self._env_before, env)
        os.environ.update(env)
        if self.fire_timers:
            self.fc.start_timers()

    def close(self) -> None:
        self.fc.stop_timers()
        for key, value in getattr(self, "_env_before", {}).items():   # give the process its environment back
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self.stop_jobs()
        for product in (self.ecs, self.rds, self.ots, self.fnf):
            product.close()
        self.store.close()
