"""The event bus port on both sides: MemoryEventBus, and adapters/eventbridge.py through the generic OpenAPI client to
the local cloud's EventBridge (PutEvents, signed as the SDK signs it). What was put is what a rule's target gets."""
from __future__ import annotations

import uuid

import pytest

from nestbackup.decisions import cloudevents as events
from nestbackup.errors import CloudError
from tests.support.contracts import IMPLEMENTATIONS, rpc
from tests.support.localcloud import Control


class BusSide:
    def __init__(self, kind: str, endpoint: str | None) -> None:
        self.bus = "nb-" + uuid.uuid4().hex[:8]
        if kind == "memory":
            from tests.support.memory.eventbus import MemoryEventBus
            self.port = MemoryEventBus()
            self.port.buses[self.bus] = []
            self.put = lambda: self.port.buses[self.bus]
        else:
            from nestbackup.adapters.eventbridge import VERSION, EventBridge
            assert endpoint
            self.port = EventBridge(rpc(endpoint, VERSION, form_body=True))
            control = Control(endpoint)
            control.call("POST", "/_local/eventbridge/buses", {"EventBusName": self.bus})
            self.put = lambda: control.call("GET", f"/_local/eventbridge/events/{self.bus}")["Events"]


@pytest.fixture(params=IMPLEMENTATIONS)
def bus(request) -> BusSide:
    return BusSide(request.param, request.getfixturevalue("endpoint") if request.param == "real" else None)


def final(record_id: str) -> dict:
    return events.final_record_event({"BackupId": record_id, "ServiceInstanceId": "si-1", "Status": "Created",
                                      "EndTime": "2026-12-06T01:02:03Z"}, "si-1", "2026-12-06T01:02:03Z")


def test_the_events_put_are_on_the_bus_with_their_attributes_and_the_record(bus):
    batch = [final(f"backup-{n}") for n in range(12)]            # more than one call's worth
    assert bus.port.put_events(bus.bus, batch) == {}
    put = bus.put()
    assert len(put) == 12
    first = put[0]
    ids = [e.get("Id", e.get("id")) for e in put]
    assert ids == [e["id"] for e in batch]
    data = first.get("Data", first.get("data"))
    assert data["BackupId"] == "backup-0" and data["Status"] == "Created"
    assert first.get("Type", first.get("type")) == "com.nestbackup.backup.final"
    assert first.get("Source", first.get("source")) == "/nestbackup/service-instances/si-1"


def test_an_event_without_a_type_is_refused_alone(bus):
    good, bad = final("backup-good"), {**final("backup-bad"), "type": ""}
    refused = bus.port.put_events(bus.bus, [good, bad])
    assert list(refused) == [bad["id"]]
    assert [e.get("Id", e.get("id")) for e in bus.put()] == [good["id"]]


def test_an_unknown_bus_refuses_the_call(bus):
    with pytest.raises(CloudError) as err:
        bus.port.put_events("no-such-bus", [final("backup-x")])
    assert err.value.code == "EventBusNotExist"
