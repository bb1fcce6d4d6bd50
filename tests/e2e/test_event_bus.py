"""Final records on an EventBridge bus: the product run with NESTBACKUP_EVENT_BUS puts each final record's CloudEvent
on the local cloud's bus through PutEvents (signed as the SDK signs it), once per record, the same event its
webhooks get; a bus that does not exist yet leaves the delivery for the timer, which puts it once the bus exists."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event

from nestbackup.handlers import wiring
from nestbackup.operations import notify
from tests.support import wait_until
from tests.support.product import start_product

BUS = "nestbackup-ops"


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    server = start_product(tmp_path_factory, NESTBACKUP_EVENT_BUS=BUS, NESTBACKUP_WEBHOOK_ALLOW_PRIVATE="1")
    yield server
    server.stop()


def on_bus(control) -> list[dict]:
    return control.call("GET", f"/_local/eventbridge/events/{BUS}")["Events"]


@pytest.fixture
def hook():
    bodies: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            bodies.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", bodies
    server.shutdown()
    server.server_close()


def test_a_final_record_waits_for_the_bus_then_is_put_once_as_the_webhook_gets_it(api, control, si, hook):
    url, posted = hook
    token = api.call("POST", "/tenants", {"Name": "bus-" + si[-8:], "Instances": [si], "Webhook": url})[1]["Token"]
    status, refused = api.call("GET", "/event-bus/deliveries", token=token)
    assert status == 403 and refused["Code"] and refused["RequestId"]
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    first = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    w = wiring()
    [waiting] = wait_until(lambda: [d for d in notify.deliveries(w) if d.get("Bus") and d.get("LastError")])
    assert waiting["Status"] == "Pending" and "EventBusNotExist" in waiting["LastError"]

    control.call("POST", "/_local/eventbridge/buses", {"EventBusName": BUS})      # the operator creates the bus
    assert notify.deliver_due(w, now=time.time() + 3600)["Delivered"] == 1
    second = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    events = wait_until(lambda: on_bus(control)[1:] and on_bus(control))
    assert [e["Subject"] for e in events] == [first["BackupId"], second["BackupId"]]
    notify.deliver_due(w, now=time.time() + 7200)                  # nothing is put twice
    assert len(on_bus(control)) == 2
    listed = api.documented("GET", "/event-bus/deliveries")["Deliveries"]     # what the admin sees of the bus
    assert [(d["RecordId"], d["Status"], d["Bus"]) for d in listed] == \
        [(second["BackupId"], "Delivered", BUS), (first["BackupId"], "Delivered", BUS)]
    assert listed[1]["Attempts"] == 2 and api.call("GET", "/event-bus/deliveries?status=DeadLetter")[1] == \
        {"Deliveries": []}

    put = events[1]
    request = wait_until(lambda: [r for r in posted if json.loads(r["body"])["subject"] == second["BackupId"]])[0]
    sent = from_http_event(HTTPMessage(request["headers"], request["body"]))
    assert put["Id"] == sent.get_id() and put["Type"] == sent.get_type() == "com.nestbackup.backup.final"
    assert put["Source"] == sent.get_source() and put["Time"] == second["EndTime"]
    assert put["Data"] == sent.get_data() and put["Data"]["Status"] == "Created"
    assert put["SpecVersion"] == "1.0" and put["DataContentType"] == "application/json"
