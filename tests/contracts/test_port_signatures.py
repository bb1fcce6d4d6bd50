"""Every port's Protocol, its real adapter and its in-memory stand-in offer the same methods with the same parameters
(names, kinds, which have defaults), so the operations call all three alike. The behaviour is the other contract
suites' business; this is the shape, checked without any cloud."""
from __future__ import annotations

import inspect

import pytest

from nestbackup.adapters.cloudflow import CloudFlow
from nestbackup.adapters.computenest import ComputeNest
from nestbackup.adapters.databases.gateway import SqlDatabases
from nestbackup.adapters.ecs import Ecs
from nestbackup.adapters.eventbridge import EventBridge
from nestbackup.adapters.kms import Kms
from nestbackup.adapters.rds import Rds
from nestbackup.adapters.tablestore import Tablestore
from nestbackup.adapters.webhook import HttpWebhooks
from nestbackup.ports import Ports
from nestbackup.ports.catalog import ServiceCatalog
from nestbackup.ports.claims import Claims
from nestbackup.ports.compute import Compute
from nestbackup.ports.databases import Databases
from nestbackup.ports.documents import Documents
from nestbackup.ports.eventbus import EventBus
from nestbackup.ports.flows import Flows
from nestbackup.ports.gateway import DatabaseGateway
from nestbackup.ports.records import Records
from nestbackup.ports.secrets import Secrets
from nestbackup.ports.webhooks import Webhooks
from tests.support.memory.catalog import MemoryCatalog
from tests.support.memory.compute import MemoryCompute
from tests.support.memory.databases import MemoryDatabases
from tests.support.memory.eventbus import MemoryEventBus
from tests.support.memory.flows import MemoryFlows
from tests.support.memory.gateway import MemoryDatabaseGateway
from tests.support.memory.records import MemoryStore
from tests.support.memory.secrets import MemorySecrets
from tests.support.memory.webhooks import MemoryWebhooks
from tests.support.memory.wiring import MemoryWiring

PORTS = [
    (Compute, Ecs, MemoryCompute),
    (Databases, Rds, MemoryDatabases),
    (Flows, CloudFlow, MemoryFlows),
    (ServiceCatalog, ComputeNest, MemoryCatalog),
    (Records, Tablestore, MemoryStore),
    (Claims, Tablestore, MemoryStore),
    (Documents, Tablestore, MemoryStore),
    (DatabaseGateway, SqlDatabases, MemoryDatabaseGateway),
    (Webhooks, HttpWebhooks, MemoryWebhooks),
    (EventBus, EventBridge, MemoryEventBus),
    (Secrets, Kms, MemorySecrets),
]


def methods(protocol: type) -> list[str]:
    return sorted(name for name, value in vars(protocol).items()
                  if not name.startswith("_") and (callable(value) or isinstance(value, (staticmethod, property))))


def shape(cls: type, name: str) -> list[tuple[str, str, bool]]:
    """The parameters of `cls.name` after self: (name, kind, has a default)."""
    params = list(inspect.signature(getattr(cls, name)).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    return [(p.name, p.kind.name, p.default is not inspect.Parameter.empty) for p in params]


@pytest.mark.parametrize("protocol, real, memory", PORTS, ids=[p[0].__name__ for p in PORTS])
def test_the_real_adapter_and_the_in_memory_port_have_every_method_of_the_protocol(protocol, real, memory):
    for name in methods(protocol):
        if isinstance(vars(protocol)[name], property):
            continue
        expected = shape(protocol, name)
        assert shape(real, name) == expected, f"{real.__name__}.{name}"
        assert shape(memory, name) == expected, f"{memory.__name__}.{name}"


def test_the_memory_wiring_offers_every_port_and_helper_of_ports():
    w = MemoryWiring()
    for name in methods(Ports):
        assert hasattr(w, name), name
        if not isinstance(vars(Ports)[name], property):
            assert shape(MemoryWiring, name) == shape(Ports, name), name
