"""Tenants: a caller sees and acts on its own service instances only; other tenants' records do not exist for it."""
import json

import pytest

from tests.support.product import ADMIN, Api, run_cli


@pytest.fixture
def two_tenants(product, api, control):
    import uuid
    a_si, b_si = "si-a-" + uuid.uuid4().hex[:8], "si-b-" + uuid.uuid4().hex[:8]
    for si in (a_si, b_si):
        control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    created = run_cli(product.endpoint, "tenant", "create", "alpha-" + a_si[-8:], "--instances", a_si)
    assert created.returncode == 0, created.stderr
    a_token = created.stdout.strip().splitlines()[-1]               # the token alone on the last line
    status, b = api.call("POST", "/tenants", {"Name": "beta-" + b_si[-8:], "Instances": [b_si]})
    assert status == 201 and b["Token"] != a_token
    return (Api(product.endpoint, a_token), a_si), (Api(product.endpoint, b["Token"]), b_si)


def test_every_endpoint_confines_a_tenant_to_its_instances(product, api, two_tenants):
    (alpha, a_si), (beta, b_si) = two_tenants
    status, a_backup = alpha.call("POST", "/backups", {"ServiceInstanceId": a_si})
    assert status == 202
    a_backup = alpha.wait(a_backup["BackupId"])
    hidden = [
        beta.call("GET", f"/backups/{a_backup['BackupId']}"),
        beta.call("DELETE", f"/backups/{a_backup['BackupId']}"),
        beta.call("GET", f"/backups?serviceInstanceId={a_si}"),
        beta.call("POST", "/backups", {"ServiceInstanceId": a_si}),
        beta.call("POST", "/restores", {"BackupId": a_backup["BackupId"]}),
        beta.call("GET", f"/restores?serviceInstanceId={a_si}"),
        beta.call("PUT", f"/service-instances/{a_si}/schedule", {"Cron": "0 3 * * *"}),
        beta.call("GET", f"/service-instances/{a_si}/schedule"),
        beta.call("GET", f"/service-instances/{a_si}/plan"),
        beta.call("POST", f"/backups/{a_backup['BackupId']}/cancel"),
    ]
    assert [(s, b["Code"]) for s, b in hidden] == [(404, "NotFound")] * len(hidden)
    # The answer is the one a backup that does not exist gets: nothing tells the two apart.
    ghost = "backup-" + "0" * 12 + "deadbeef"
    assert beta.call("GET", f"/backups/{ghost}")[1]["Message"] == \
        hidden[0][1]["Message"].replace(a_backup["BackupId"], ghost)
    assert alpha.call("GET", f"/backups?serviceInstanceId={a_si}")[1]["Backups"][0]["BackupId"] == \
        a_backup["BackupId"]
    # Tenants cannot manage tenants; the admin sees them all, never their tokens.
    assert beta.call("GET", "/tenants")[0] == 403
    assert beta.call("GET", "/leftovers")[0] == 403
    listed = api.call("GET", "/tenants")[1]
    assert {a_si, b_si} <= {i for t in listed["Tenants"] for i in t["Instances"]}
    assert "Token" not in json.dumps(listed)


def test_unauthenticated_and_deleted_tokens_get_401(product, api, two_tenants):
    (alpha, a_si), _ = two_tenants
    assert Api(product.endpoint, None).call("GET", f"/backups?serviceInstanceId={a_si}")[0] == 401
    name = next(t["Name"] for t in api.call("GET", "/tenants")[1]["Tenants"] if a_si in t["Instances"])
    assert api.call("DELETE", f"/tenants/{name}")[0] == 200
    assert alpha.call("GET", f"/backups?serviceInstanceId={a_si}")[0] == 401


def test_tenant_validation(api):
    assert api.call("POST", "/tenants", {"Name": "bad name!", "Instances": ["si-1"]})[0] == 400
    assert api.call("POST", "/tenants", {"Name": "ok", "Instances": []})[0] == 400
    assert api.call("POST", "/tenants", {"Name": "ok", "Instances": ["si 1; drop"]})[0] == 400
    assert api.call("POST", "/tenants", {"Name": "dup", "Instances": ["si-1"]})[0] == 201
    assert api.call("POST", "/tenants", {"Name": "dup", "Instances": ["si-2"]})[0] == 409
    assert ADMIN not in json.dumps(api.call("GET", "/tenants")[1])


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://169.254.169.254/latest/meta-data/", "http://100.100.100.200/latest/",
    "http://10.0.0.5/hook", "http://192.168.1.1/", "http://[::1]:8080/", "http://[::ffff:127.0.0.1]/",
    "http://[2002:a00:5::1]/", "http://[fec0::1]/", "http://[64:ff9b::a9fe:a9fe]/",
    "http://0.0.0.0/", "http://user:pw@example.com/hook", "file:///etc/passwd", "http://example.com/a b",
    "http://example.com:0/"])
def test_webhook_targets_inside_the_account_or_with_credentials_are_refused(api, si, url):
    status, body = api.call("POST", "/tenants", {"Name": "hook-" + si[-8:], "Instances": [si], "Webhook": url})
    assert status == 400 and body["Code"] == "InvalidParameter", body
    assert api.call("DELETE", f"/tenants/hook-{si[-8:]}")[0] == 404           # nothing was created


def test_a_name_that_resolves_to_loopback_is_refused_at_delivery_without_connecting(api, control, si):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.support import wait_until
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
        name = "byname-" + si[-8:]
        status, tenant = api.call("POST", "/tenants", {"Name": name, "Instances": [si],
                                                       "Webhook": f"http://localhost:{hook.server_address[1]}/h"})
        assert status == 201 and tenant["WebhookSecret"]
        record = api.call("POST", "/backups", {"ServiceInstanceId": si})[1]
        assert api.wait(record["BackupId"])["Status"] == "Created"
        [dead] = wait_until(lambda: api.call("GET", f"/tenants/{name}/deliveries?status=DeadLetter")[1]["Deliveries"])
        assert "loopback" in dead["LastError"] and dead["Attempts"] == 1
        assert received == []
    finally:
        hook.shutdown()
