"""EventBridge through the unmodified official SDK (alibabacloud_eventbridge20200401): PutEvents to a bus the control
plane created, an unknown bus answered in the body (Success false, EventBusNotExist), an event lacking a required
attribute refused alone, and the request's own refusals."""
import pytest
from alibabacloud_eventbridge20200401 import models as eb_m
from Tea.exceptions import TeaException

from tests.support import openapi_config


@pytest.fixture
def eb(endpoint):
    from alibabacloud_eventbridge20200401.client import Client
    return Client(openapi_config(endpoint))


def event(n: int, **kw) -> eb_m.PutEventsRequestEventList:
    fields = {"id": f"evt-{n}", "source": "/nestbackup/service-instances/si-1", "type": "com.nestbackup.backup.final",
              "spec_version": "1.0", "subject": f"backup-{n}", "time": "2026-12-06T01:02:03Z",
              "data_content_type": "application/json", "data": {"BackupId": f"backup-{n}", "Status": "Created"}}
    return eb_m.PutEventsRequestEventList(**(fields | kw))


def test_events_put_on_a_bus_are_kept_in_order_with_their_data(eb, control):
    control.call("POST", "/_local/eventbridge/buses", {"EventBusName": "sdk-bus"})
    body = eb.put_events(eb_m.PutEventsRequest(event_bus_name="sdk-bus", event_list=[event(1), event(2)])).body
    assert body.success is True and body.code == "200" and body.request_id
    assert body.data.failed_entry_count == 0
    assert [e.event_id for e in body.data.entry_list] == ["evt-1", "evt-2"] and body.data.entry_list[0].trace_id
    put = control.call("GET", "/_local/eventbridge/events/sdk-bus")["Events"]
    assert [e["Id"] for e in put] == ["evt-1", "evt-2"]
    assert put[0]["Data"] == {"BackupId": "backup-1", "Status": "Created"} and put[0]["SpecVersion"] == "1.0"


def test_an_unknown_bus_is_answered_in_the_body(eb):
    body = eb.put_events(eb_m.PutEventsRequest(event_bus_name="no-bus", event_list=[event(1)])).body
    assert body.success is False and body.code == "EventBusNotExist"


def test_an_event_without_a_type_fails_alone(eb, control):
    control.call("POST", "/_local/eventbridge/buses", {"EventBusName": "sdk-bus2"})
    body = eb.put_events(eb_m.PutEventsRequest(event_bus_name="sdk-bus2",
                                               event_list=[event(1), event(2, type=None)])).body
    assert body.success is True and body.data.failed_entry_count == 1
    assert [(e.event_id, e.error_code) for e in body.data.entry_list] == [("evt-1", None), ("evt-2", "InvalidArgument")]
    assert [e["Id"] for e in control.call("GET", "/_local/eventbridge/events/sdk-bus2")["Events"]] == ["evt-1"]


@pytest.mark.parametrize("request_, code", [
    (eb_m.PutEventsRequest(event_list=[event(1)]), "MissingParameter"),
    (eb_m.PutEventsRequest(event_bus_name="b"), "MissingParameter"),
    (eb_m.PutEventsRequest(event_bus_name="b", event_list=[event(n) for n in range(101)]), "InvalidParameter"),
])
def test_a_request_without_its_bus_or_events_or_with_too_many_is_refused(eb, request_, code):
    with pytest.raises(TeaException) as err:
        eb.put_events(request_)
    assert err.value.code == code and err.value.statusCode == 400
