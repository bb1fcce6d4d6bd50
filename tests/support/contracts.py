"""One port of the product, in memory or as the real adapter on the local cloud: the contract suites
(tests/contracts) run every test on both, so the fast operation tests stay honest."""
from __future__ import annotations

import time
import uuid

import pytest

from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from nestbackup.adapters.openapi import Credentials, RpcClient
from nestbackup.settings import DEFAULT_TAG_KEY
from tests.support.localcloud import Control
from tests.support.memory.wiring import MemoryWiring

IMPLEMENTATIONS = [pytest.param("memory"), pytest.param("real", marks=pytest.mark.slow)]


def rpc(endpoint: str, version: str) -> RpcClient:
    return RpcClient(endpoint, version, Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET), "cn-hangzhou")


def eventually(check, timeout: float = 30, every: float = 0.1):
    """Ask again until `check()` gives something true (in memory, asking is what moves the work on)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(every)


class World:
    """A port and the means to seed what it answers about, for one implementation."""

    def __init__(self, kind: str, request) -> None:
        self.kind = kind
        self.si = f"si-{uuid.uuid4().hex[:12]}"
        if kind == "memory":
            self.memory = MemoryWiring()
        else:
            self.endpoint = request.getfixturevalue("endpoint")
            self.control = Control(self.endpoint)
            self.control.clear_faults()

    def seed(self, disks: int = 2) -> dict:
        if self.kind == "memory":
            out = self.memory.seed(self.si, disks_per_instance=disks)
            return {"InstanceIds": out["InstanceIds"], "Disks": out["Disks"]}
        out = self.control.seed(ServiceInstanceId=self.si, Disks=disks, DiskSize="1MiB", Fill=False)
        return {"InstanceIds": out["InstanceIds"], "Disks": [d["DiskId"] for d in out["Disks"]]}

    tag_key = DEFAULT_TAG_KEY
