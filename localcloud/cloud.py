"""The local cloud's shared context: state dir, durable store, faults, call counts, background work, products."""
from __future__ import annotations

import os
import secrets
import string
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from . import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_REGION
from .core.errors import ServiceError
from .core.faults import Faults
from .core.rpc import RpcRequest
from .core.store import Store

_ID_ALPHABET = string.ascii_lowercase + string.digits
_REPO = Path(__file__).resolve().parents[1]


class Stats:
    """How many calls each product:action served, for /_local/stats."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._calls[key] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._calls.items()))

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()


class Product:
    """One emulated product: RPC actions are methods named as on the wire, listed in ACTIONS."""

    name = ""
    version = ""
    ACTIONS: frozenset[str] = frozenset()

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud

    def dispatch(self, req: RpcRequest) -> dict[str, Any]:
        if req.action not in self.ACTIONS:
            raise ServiceError("InvalidAction.NotFound",
                               f"Specified api is not found, please check your url and method: {req.action}.", 404)
        return getattr(self, req.action)(req)

    def resume(self) -> None:
        """Pick up asynchronous work that a killed server left in progress."""

    def close(self) -> None:
        """Release what the product holds open (listeners, files); the cloud is stopping."""


class LocalCloud:
    def __init__(self, state_dir: str | Path | None = None, credentials: dict[str, str] | None = None,
                 admin_token: str | None = None, region: str = DEFAULT_REGION,
                 flows_dir: str | Path | None = None, s_yaml: str | Path | None = None,
                 flow_wait_scale: float = 1.0, function_env: dict[str, str] | None = None,
                 http_triggers: dict[str, str] | None = None) -> None:
        """`s_yaml`: the Serverless Devs file whose fc3 functions and triggers are deployed (default: the
        repository's s.yaml); `function_env`: values that override the deployed functions' environment ("{endpoint}"
        is replaced by the server's URL); `http_triggers`: path prefix -> function name, where the function's
        s.yaml HTTP trigger is served (e.g. {"/api": "nestbackup-api"})."""
        if state_dir is None:
            state_dir = tempfile.mkdtemp(prefix="localcloud-")
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.credentials = credentials or {DEFAULT_ACCESS_KEY_ID: DEFAULT_ACCESS_KEY_SECRET}
        self.admin_token = admin_token
        self.region = region
        self.store = Store(self.state_dir / "state.db")
        self.faults = Faults()
        self.stats = Stats()
        self.jobs = ThreadPoolExecutor(max_workers=16, thread_name_prefix="localcloud-job")
        self._stopping = threading.Event()
        # Imported here so that a product's heavy imports stay out of `import localcloud`.
        from .computenest.models import ComputeNest
        from .ecs.models import Ecs
        from .fnf.models import Fnf
        from .rds.models import Rds
        from .tablestore.models import Tablestore
        self.ecs = Ecs(self)
        self.rds = Rds(self)
        self.ots = Tablestore(self)
        # CloudFlow: flows_dir defaults to the repository's flows/ when it exists.
        self.fnf = Fnf(self, flows_dir=flows_dir, wait_scale=flow_wait_scale)
        self.computenest = ComputeNest(self)
        self.rpc_products: dict[str, Product] = {p.version: p for p in (self.ecs, self.rds, self.fnf,
                                                                          self.computenest)}
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
        os.environ.update(env)

    # -- helpers for the models
    def new_id(self, prefix: str, length: int = 20) -> str:
        return f"{prefix}-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc)

    @staticmethod
    def iso(ts: datetime | None = None, minutes: bool = False) -> str:
        ts = ts or datetime.now(timezone.utc)
        return ts.strftime("%Y-%m-%dT%H:%MZ" if minutes else "%Y-%m-%dT%H:%M:%SZ")

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def submit(self, fn: Callable, *args: Any) -> None:
        """Run asynchronous cloud work in the background."""
        self.jobs.submit(fn, *args)

    def pace(self, started: float, *ids: str) -> None:
        """Hold an asynchronous operation on `ids` until its minimum duration (faults: pace_ms, op_delay_ms) has
        passed."""
        remaining = self.faults.min_duration(*ids) - (time.monotonic() - started)
        if remaining > 0:
            self._stopping.wait(remaining)

    def wait_while_stuck(self, *ids: str) -> bool:
        """Block while a resource is configured stuck; True if the server is stopping instead."""
        while self.faults.is_stuck(*ids):
            if self._stopping.wait(0.05):
                return True
        return False

    def close(self) -> None:
        for key, value in getattr(self, "_env_before", {}).items():   # give the process its environment back
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._stopping.set()
        self.jobs.shutdown(wait=True, cancel_futures=True)
        for product in (self.ecs, self.rds, self.ots, self.fnf):
            product.close()
        self.store.close()
