"""Webhooks: one signed delivery per final record and tenant, in parallel under a total deadline, never redirected,
retried by the timer and kept as a dead letter when it keeps failing. The receivers here are on 127.0.0.1, so this
module's product runs with the admin option that allows private targets (the refusals are in test_tenants.py).
Deliveries are read as a receiver reads them: the Standard Webhooks library verifies, the CloudEvents SDK parses."""
import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from nestbackup.decisions import webhooks as rules
from nestbackup.handlers import wiring
from nestbackup.operations import notify, tenants
from tests.support import wait_until
from tests.support.product import run_cli, start_product

DEADLINE = 4


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    server = start_product(tmp_path_factory, NESTBACKUP_WEBHOOK_ALLOW_PRIVATE="1",
                           NESTBACKUP_WEBHOOK_DEADLINE_SECONDS=str(DEADLINE))
    yield server
    server.stop()


class Receiver:
    """A webhook receiver on 127.0.0.1. `behave(handler)` may answer differently; by default 204."""

    def __init__(self, behave=None) -> None:
        self.requests: list[dict] = []
        self.behave = behave
        outer = self

        class Hook(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                if outer.behave:
                    outer.behave(self)
                    return
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?secret=s3"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(behave=None) -> Receiver:
        made.append(Receiver(behave))
        return made[-1]
    yield make
    for r in made:
        r.close()


def tenant_with_hook(api, si: str, url: str, prefix: str = "hooked") -> dict:
    return api.documented("POST", "/tenants", body={"Name": f"{prefix}-{si[-8:]}", "Instances": [si], "Webhook": url})


def final_backup(api, control, si: str) -> dict:
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    return api.wait(record["BackupId"])


def deliveries(api, tenant: str, status: str | None = None) -> list[dict]:
    code, body = api.call("GET", f"/tenants/{tenant}/deliveries" + (f"?status={status}" if status else ""))
    assert code == 200, body
    return body["Deliveries"]


def test_each_final_record_is_delivered_once_signed_with_a_delivery_id(api, control, si, receivers):
    hook = receivers()
    tenant = tenant_with_hook(api, si, hook.url)
    assert tenant["WebhookSecret"].startswith("whsec_")
    final = final_backup(api, control, si)
    wait_until(lambda: hook.requests)
    request = hook.requests[0]
    payload = Webhook(tenant["WebhookSecret"]).verify(request["body"], request["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43).verify(request["body"], request["headers"])
    event = from_http_event(HTTPMessage(request["headers"], request["body"]))
    assert event.get_type() == "com.nestbackup.backup.final" and event.get_subject() == final["BackupId"]
    assert event.get_data() == payload["data"] and event.get_data()["BackupId"] == final["BackupId"]
    assert event.get_data()["Status"] == "Created" == event.get_extension("status")
    assert request["headers"]["content-type"].startswith("application/cloudevents+json")
    assert request["headers"]["webhook-id"] == rules.delivery_id(final["BackupId"], "Created", tenant["Name"])
    assert not any(h.startswith(("x-nestbackup", "ce-")) for h in request["headers"])

    # The same final record notified again, twice at once (concurrent cancels, a re-run finalize): no new delivery.
    w = wiring()
    threads = [threading.Thread(target=notify.notify, args=(w, si, final)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.3)
    assert len(hook.requests) == 1
    assert [d["Status"] for d in deliveries(api, tenant["Name"])] == ["Delivered"]
    listed = json.dumps(api.call("GET", "/tenants")[1])
    assert "s3" not in listed and tenant["WebhookSecret"] not in listed


def test_redirects_are_not_followed(api, control, si, receivers):
    target = receivers()

    def redirect(handler):
        handler.send_response(302)
        handler.send_header("location", target.url)
        handler.send_header("content-length", "0")
        handler.end_headers()

    hook = receivers(redirect)
    tenant = tenant_with_hook(api, si, hook.url)
    final_backup(api, control, si)
    wait_until(lambda: hook.requests)
    [pending] = wait_until(lambda: [d for d in deliveries(api, tenant["Name"]) if d.get("LastError")])
    assert pending["Status"] == "Pending" and "redirects are not followed" in pending["LastError"]
    assert target.requests == []


def test_a_slow_receiver_is_cut_off_at_the_deadline_then_retried_with_the_same_delivery_id(api, control, si,
                                                                                          receivers):
    slow = {"on": True}

    def drip(handler):          # answers at once, then one byte every 0.3 s: no single read ever times out
        if not slow["on"]:
            handler.send_response(200)
            handler.send_header("content-length", "2")
            handler.end_headers()
            handler.wfile.write(b"ok")
            return
        handler.send_response(200)
        handler.send_header("content-length", "100")
        handler.end_headers()
        try:
            for _ in range(100):
                handler.wfile.write(b".")
                handler.wfile.flush()
                time.sleep(0.3)
        except OSError:
            pass

    hook = receivers(drip)
    tenant = tenant_with_hook(api, si, hook.url)
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    record = api.call("POST", "/backups", {"ServiceInstanceId": si})[1]
    final = api.wait(record["BackupId"])
    wait_until(lambda: hook.requests)
    [first] = wait_until(lambda: [d for d in deliveries(api, tenant["Name"]) if d.get("LastError")])
    assert first["Status"] == "Pending" and first["Attempts"] == 1

    w = wiring()
    other = "si-slow2" + si[-8:]                          # time one notify directly: the deadline bounds it
    tenant_with_hook(api, other, hook.url, prefix="slow2")
    started = time.monotonic()
    notify.notify(w, other, {**final, "ServiceInstanceId": other, "BackupId": final["BackupId"] + "x"})
    assert time.monotonic() - started < DEADLINE + 2

    slow["on"] = False                                   # the receiver recovers; the timer retries
    out = notify.deliver_due(w, now=time.time() + 3600)
    assert out["Delivered"] >= 1
    [done] = deliveries(api, tenant["Name"])
    assert done["Status"] == "Delivered" and done["Attempts"] == 2
    ids = {r["headers"]["webhook-id"] for r in hook.requests if json.loads(r["body"])["subject"] == final["BackupId"]}
    assert ids == {done["DeliveryId"]}


def test_deliveries_run_in_parallel(api, si, receivers):
    def slow_ok(handler):
        time.sleep(1.5)
        handler.send_response(204)
        handler.send_header("content-length", "0")
        handler.end_headers()

    hooks = [receivers(slow_ok) for _ in range(3)]
    for n, hook in enumerate(hooks):
        tenant_with_hook(api, si, hook.url, prefix=f"par{n}")
    record = {"BackupId": f"backup-par{si[-8:]}", "ServiceInstanceId": si, "Status": "Created"}
    started = time.monotonic()
    assert notify.notify(wiring(), si, record) == 3
    assert time.monotonic() - started < 3.5             # one after another would take 4.5 s


def test_a_failing_receiver_becomes_a_dead_letter_and_a_rotated_secret_signs_beside_the_old(api, control, si,
                                                                                          receivers):
    def fail(handler):
        handler.send_response(500)
        handler.send_header("content-length", "0")
        handler.end_headers()

    hook = receivers(fail)
    tenant = tenant_with_hook(api, si, hook.url)
    final_backup(api, control, si)
    wait_until(lambda: [d for d in deliveries(api, tenant["Name"]) if d.get("LastError")])
    rotated = run_cli(api.base.removesuffix("/api"), "tenant", "rotate-webhook-secret", tenant["Name"], "--json")
    assert rotated.returncode == 0, rotated.stderr
    new_secret = json.loads(rotated.stdout)["WebhookSecret"]
    assert new_secret != tenant["WebhookSecret"]
    listed = api.documented("GET", "/tenants")      # the admin routes answer what the OpenAPI document says
    assert {"Name": tenant["Name"], "Instances": [si], "Webhook": True, "WebhookFormat": "cloudevents"} in listed["Tenants"]
    w, now = wiring(), time.time()
    for _ in range(rules.MAX_ATTEMPTS):
        now += rules.MAX_RETRY_SECONDS + 1
        notify.deliver_due(w, now=now)
    [dead] = api.documented("GET", "/tenants/{id}/deliveries",
                            f"/tenants/{tenant['Name']}/deliveries?status=DeadLetter")["Deliveries"]
    assert dead["Attempts"] == rules.MAX_ATTEMPTS and "HTTP 500" in dead["LastError"]
    assert len(hook.requests) == rules.MAX_ATTEMPTS
    last = hook.requests[-1]       # sent hours ahead (the timer was called with a later now): the library's own
    sent = datetime.fromtimestamp(int(last["headers"]["webhook-timestamp"]), timezone.utc)   # signer, not verify()
    signatures = last["headers"]["webhook-signature"].split(" ")
    for secret in (new_secret, tenant["WebhookSecret"]):
        assert Webhook(secret).sign(last["headers"]["webhook-id"], sent, last["body"]) in signatures
    listed = run_cli(api.base.removesuffix("/api"), "tenant", "deliveries", tenant["Name"], "--status", "DeadLetter")
    assert listed.returncode == 0 and dead["DeliveryId"] in listed.stdout
    again = api.documented("POST", "/tenants/{id}/webhook-secret", f"/tenants/{tenant['Name']}/webhook-secret")
    assert again["WebhookSecret"] != new_secret and again["PreviousSecretValidSeconds"] > 0
    assert api.documented("DELETE", "/tenants/{id}", f"/tenants/{tenant['Name']}")["Deleted"] is True


def test_a_tenant_from_before_keeps_what_it_got_until_the_admin_moves_it_to_cloudevents(api, control, si, receivers):
    hook = receivers()
    tenant = tenant_with_hook(api, si, hook.url, prefix="legacy")
    w = wiring()                        # stored as before the formats existed: no WebhookFormat, a URL-safe secret
    old_secret = "whsec_" + "q-_Z" * 10 + "abc"
    key = w.documents.get_doc(tenants.NAMES, tenant["Name"])[0]["Hash"]
    doc, version = w.documents.get_doc(tenants.TENANTS, key)
    w.documents.update_doc(tenants.TENANTS, key, {k: v for k, v in doc.items() if k != "WebhookFormat"}
                           | {"WebhookSecret": old_secret}, version)
    final = final_backup(api, control, si)
    [request] = wait_until(lambda: hook.requests)
    headers = request["headers"]
    assert json.loads(request["body"])["BackupId"] == final["BackupId"]          # the body its receiver reads
    stamp, legacy = (f.split("=", 1)[1] for f in headers["x-nestbackup-signature"].split(","))
    assert legacy == hmac.new(old_secret.encode(), f"{stamp}.".encode() + request["body"], hashlib.sha256).hexdigest()
    assert headers["x-nestbackup-delivery"] == headers["webhook-id"]
    spelled = run_cli(api.base.removesuffix("/api"), "tenant", "standard-secret", stdin=old_secret + "\n")
    assert spelled.returncode == 0, spelled.stderr
    assert Webhook(spelled.stdout.strip()).verify(request["body"], headers)["BackupId"] == final["BackupId"]
    event = from_http_event(HTTPMessage(headers, request["body"]))                 # binary content mode
    assert event.get_type() == "com.nestbackup.backup.final" and event.get_data()["BackupId"] == final["BackupId"]
    assert {"Name": tenant["Name"], "Instances": [si], "Webhook": True, "WebhookFormat": "legacy"} in \
        api.documented("GET", "/tenants")["Tenants"]

    moved = run_cli(api.base.removesuffix("/api"), "tenant", "webhook-format", tenant["Name"], "cloudevents")
    assert moved.returncode == 0 and "cloudevents" in moved.stdout, moved.stderr
    wrong = run_cli(api.base.removesuffix("/api"), "tenant", "webhook-format", tenant["Name"], "xml")
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
    status, body = api.call("PUT", f"/tenants/{tenant['Name']}/webhook-format", {"WebhookFormat": "xml"})
    assert status == 400 and body["Code"] and body["RequestId"]
    again = final_backup(api, control, si)
    request = wait_until(lambda: hook.requests[1:])[0]
    assert not any(h.startswith(("x-nestbackup", "ce-")) for h in request["headers"])
    event = from_http_event(HTTPMessage(request["headers"], request["body"]))     # structured content mode
    assert event.get_subject() == again["BackupId"]
    assert Webhook(spelled.stdout.strip()).verify(request["body"], request["headers"])["subject"] == again["BackupId"]


def test_the_payload_carries_the_status_of_docs_statuses_and_the_cause_root_first(api, control, si, receivers):
    """A cancelled backup is delivered as Cancelled with its one sentence; a partly failed one as PartiallyCreated
    with its Cause object (the payload's shape is otherwise the record's, as before)."""
    hook = receivers()
    tenant_with_hook(api, si, hook.url)
    disks = [control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0] for _ in range(2)]
    control.faults(stuck=[d["DiskId"] for d in disks])
    record = api.call("POST", "/backups", {"ServiceInstanceId": si})[1]
    wait_until(lambda: all(r["Status"] == "Running"
                           for r in api.call("GET", f"/backups/{record['BackupId']}")[1]["Resources"]))
    assert api.call("POST", f"/backups/{record['BackupId']}/cancel")[0] == 200
    control.clear_faults()
    wait_until(lambda: hook.requests)
    cancelled = json.loads(hook.requests[0]["body"])["data"]          # a CloudEvent: the record is its data
    assert cancelled["BackupId"] == record["BackupId"] and cancelled["Status"] == "Cancelled"
    assert cancelled["StatusDetail"].startswith("Cancelled by the caller: ") and cancelled["Cause"] is None

    control.faults(fail=[disks[1]["DiskId"]])
    partial = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    control.clear_faults()
    wait_until(lambda: len(hook.requests) == 2)
    body = json.loads(hook.requests[1]["body"])["data"]
    assert body["Status"] == "PartiallyCreated" == partial["Status"]
    assert body["Cause"]["ResourceId"] == disks[1]["DiskId"] and body["Cause"]["Code"] == "SnapshotFailed"
    assert body["StatusDetail"].startswith(f"{disks[1]['DiskId']} SnapshotFailed: ")
