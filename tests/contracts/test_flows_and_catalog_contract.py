"""The flows port (CloudFlow) and the service catalog port (Compute Nest): the in-memory ports and the real adapters
against the local cloud."""
import uuid

import pytest

from nestbackup.adapters.cloudflow import VERSION as FNF_VERSION
from nestbackup.adapters.cloudflow import CloudFlow
from nestbackup.adapters.computenest import VERSION as CN_VERSION
from nestbackup.adapters.computenest import ComputeNest
from nestbackup.adapters.openapi import Credentials, RpcClient
from nestbackup.ports.flows import RestoreFlowInput, execution_name
from tests.support.contracts import IMPLEMENTATIONS, World, rpc
from tests.support.memory.catalog import MemoryCatalog
from tests.support.memory.flows import MemoryFlows

FLOW = "contract-flow"
WAITING = """Type: StateMachine
Name: contract-flow
SpecVersion: v1
StartAt: Hold
States:
  - Type: Wait
    Name: Hold
    Seconds: 300
    End: true
"""


@pytest.fixture(scope="module")
def waiting_flow_cloud(tmp_path_factory):
    """A local cloud whose one flow waits five minutes, so its executions run while the test looks at them."""
    from localcloud.cloud import LocalCloud
    from localcloud.server import LocalCloudServer
    flows_dir = tmp_path_factory.mktemp("flows")
    (flows_dir / "contract.yaml").write_text(WAITING)
    server = LocalCloudServer(LocalCloud(tmp_path_factory.mktemp("state"), flows_dir=flows_dir), port=0)
    server.start_in_thread()
    yield server
    server.stop()


@pytest.fixture(params=IMPLEMENTATIONS)
def flows(request):
    if request.param == "memory":
        return MemoryFlows()
    from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
    endpoint = request.getfixturevalue("waiting_flow_cloud").endpoint
    return CloudFlow(RpcClient(endpoint, FNF_VERSION, Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
                               "cn-hangzhou", legacy_signature=True))


def test_an_execution_starts_once_per_name_and_every_generation_is_stopped(flows):
    record = "restore-" + uuid.uuid4().hex[:12]
    assert flows.start_once(FLOW, execution_name(record), RestoreFlowInput(record)) is True
    assert flows.start_once(FLOW, execution_name(record), RestoreFlowInput(record)) is True     # still running
    assert flows.start_once(FLOW, execution_name(record, 2), RestoreFlowInput(record, 3)) is True
    assert flows.describe(FLOW, execution_name(record)).running
    assert flows.describe(FLOW, execution_name(record, 9)) is None
    assert flows.stop_generations(FLOW, record, "contract") == [execution_name(record), execution_name(record, 2)]
    assert not flows.describe(FLOW, execution_name(record)).running
    assert flows.stop(FLOW, execution_name(record), "again") is False
    assert flows.start_once(FLOW, execution_name(record), RestoreFlowInput(record)) is False     # it ran


@pytest.fixture(params=IMPLEMENTATIONS)
def catalog(request):
    world = World(request.param, request)
    if world.kind == "memory":
        world.memory.seed(world.si, disks_per_instance=1)
        return world.si, world.memory.computenest
    world.seed(disks=1)
    return world.si, ComputeNest(rpc(world.endpoint, CN_VERSION))


def test_a_service_instance_is_known_with_its_status_and_resources(catalog):
    si, nest = catalog
    found = nest.service_instance(si)
    assert found and found.service_instance_id == si and found.status == "Deployed"
    assert {(r.service, r.kind) for r in nest.resources(si)} >= {("ecs", "instance")}
    assert nest.service_instance("si-nobody-" + uuid.uuid4().hex[:6]) is None


def test_an_unknown_service_instance_lists_no_resources_in_memory():
    assert MemoryCatalog().resources("si-nobody") == []
