"""KMS (2016-01-20) secrets: GetSecretValue of the current version (ACSCurrent), cached per function instance.

A value is kept for `ttl_seconds` (a rotated secret reaches every instance within that time) and read afresh on
demand when it proved stale (a refused login), at most once per FRESH_READ_SECONDS. The secret's value is never
logged. Sources: docs/cloud-fidelity.md, "KMS".
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from ..errors import CloudError, NotFound
from ..ports.secrets import FRESH_READ_SECONDS
from .openapi import RpcClient

VERSION = "2016-01-20"
NOT_FOUND_CODE = "Forbidden.ResourceNotFound"


class Kms:
    def __init__(self, rpc: RpcClient, ttl_seconds: int = 300, clock: Callable[[], float] = time.monotonic) -> None:
        self.rpc = rpc
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, tuple[str, float]] = {}      # name -> (value, read at)
        self._fresh_at: dict[str, float] = {}                 # name -> when it was last read on demand

    def read(self, name: str, *, fresh: bool = False) -> str:
        now = self._clock()
        with self._lock:
            cached = self._values.get(name)
            if fresh and now - self._fresh_at.get(name, float("-inf")) >= FRESH_READ_SECONDS:
                self._fresh_at[name] = now
                cached = None
        if cached is not None and now - cached[1] < self.ttl_seconds:
            return cached[0]
        value = self._get(name)
        with self._lock:
            self._values[name] = (value, now)
        return value

    def _get(self, name: str) -> str:
        try:
            body = self.rpc.call("GetSecretValue", {"SecretName": name})
        except CloudError as err:
            if err.code == NOT_FOUND_CODE:
                raise NotFound(f"no KMS secret named {name!r} in {self.rpc.region}") from None
            raise
        return str(body.get("SecretData") or "")
