"""The flows port (CloudFlow) and the service catalog port (Compute Nest): the in-memory ports and the real adapters
against the local cloud."""
import uuid

from nestbackup.ports.flows import RestoreFlowInput, execution_name
from tests.support.memory.catalog import MemoryCatalog


def test_an_execution_starts_once_per_name_and_every_generation_is_stopped(flows):
    port, flow = flows.port, flows.flow
    record = "restore-" + uuid.uuid4().hex[:12]
    assert port.start_once(flow, execution_name(record), RestoreFlowInput(record)) is True
    assert port.start_once(flow, execution_name(record), RestoreFlowInput(record)) is True     # still running
    assert port.start_once(flow, execution_name(record, 2), RestoreFlowInput(record, 3)) is True
    assert port.describe(flow, execution_name(record)).running
    assert port.describe(flow, execution_name(record, 9)) is None
    assert port.stop_generations(flow, record, "contract") == [execution_name(record), execution_name(record, 2)]
    assert not port.describe(flow, execution_name(record)).running
    assert port.stop(flow, execution_name(record), "again") is False
    assert port.start_once(flow, execution_name(record), RestoreFlowInput(record)) is False     # it ran


def test_a_service_instance_is_known_with_its_status_and_resources(catalog):
    si, nest = catalog.si, catalog.port
    found = nest.service_instance(si)
    assert found and found.service_instance_id == si and found.status == "Deployed"
    assert {(r.service, r.kind) for r in nest.resources(si)} >= {("ecs", "instance")}
    assert nest.service_instance("si-nobody-" + uuid.uuid4().hex[:6]) is None


def test_an_unknown_service_instance_lists_no_resources_in_memory():
    assert MemoryCatalog().resources("si-nobody") == []
