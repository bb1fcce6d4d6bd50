"""Webhook notifications of final records on the in-memory ports: one per final record and tenant, signed,
retried by the timer when the receiver fails, never twice for a step delivered again. What a receiver gets is read
as a receiver would: the CloudEvents SDK parses it, the Standard Webhooks library verifies it."""
import base64
import hashlib
import hmac
import json
import time
from dataclasses import replace

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from nestbackup.decisions import webhooks as rules
from nestbackup.errors import Conflict, NotFound, ValidationError
from nestbackup.operations import notify, tenants
from nestbackup.operations.backup import create_backup
from nestbackup.operations.backup_finalize import finalize
from nestbackup.operations.restore import create_restore
from tests.support.flowplay import play_backup, play_restore
from tests.support.memory.wiring import MemoryWiring

HOOK = "https://hooks.example.com/nestbackup"


@pytest.fixture
def w():
    w = MemoryWiring()
    w.seed("si-1", instances=1, disks_per_instance=1)
    return w


def test_a_final_backup_is_posted_once_to_its_tenant_signed_even_when_finalize_runs_again(w):
    tenants.create_tenant(w, "acme", ["si-1"], webhook=HOOK)
    tenants.create_tenant(w, "other", ["si-2"], webhook="https://hooks.example.com/other")
    backup_id = create_backup(w, "si-1")["BackupId"]
    play_backup(w, backup_id)
    finalize(w, backup_id)                                   # the flow's retry after a lost answer
    assert [p.url for p in w.webhooks.posts] == [HOOK]
    post = w.webhooks.posts[0]
    assert [d["Status"] for d in notify.deliveries(w, "acme")] == ["Delivered"]
    secret = w.documents.get_doc(tenants.TENANTS, tenant_key(w, "acme"))[0]["WebhookSecret"]
    assert Webhook(secret).verify(post.body, post.headers)["data"]["BackupId"] == backup_id
    event = from_http_event(HTTPMessage(post.headers, post.body))
    assert event.get_type() == "com.nestbackup.backup.final" and event.get_subject() == backup_id
    assert event.get_source() == "/nestbackup/service-instances/si-1"
    assert event.get_data()["Status"] == "Created" == event.get_extension("status")
    assert event.get_id() == json.loads(post.body)["id"] and event.get_time() is not None


def test_a_failing_receiver_is_tried_again_by_the_timer(w):
    tenants.create_tenant(w, "acme", ["si-1"], webhook=HOOK)
    w.webhooks.failing = True
    backup_id = create_backup(w, "si-1")["BackupId"]
    play_backup(w, backup_id)
    assert [d["Status"] for d in notify.deliveries(w, "acme")] == ["Pending"]
    w.webhooks.failing = False
    out = notify.deliver_due(w, now=10 ** 10)
    assert out["Delivered"] == 1 and len(w.webhooks.posts) == 2
    assert [d["Status"] for d in notify.deliveries(w, "acme")] == ["Delivered"]


def test_an_instance_no_tenant_watches_posts_nothing(w):
    backup_id = create_backup(w, "si-1")["BackupId"]
    play_backup(w, backup_id)
    assert w.webhooks.posts == [] and notify.deliveries(w) == []


def tenant_key(w, name: str) -> str:
    return w.documents.get_doc(tenants.NAMES, name)[0]["Hash"]


OLD_SECRET = "whsec_" + "Ab-_" * 10 + "xyz"       # as made before Standard Webhooks: URL-safe base64, unpadded


def legacy_tenant(w, name: str) -> None:
    """A tenant as stored before the formats existed: no WebhookFormat, a URL-safe secret."""
    tenants.create_tenant(w, name, ["si-1"], webhook=HOOK)
    doc, version = w.documents.get_doc(tenants.TENANTS, tenant_key(w, name))
    doc = {k: v for k, v in doc.items() if k != "WebhookFormat"} | {"WebhookSecret": OLD_SECRET}
    w.documents.update_doc(tenants.TENANTS, tenant_key(w, name), doc, version)


def receivers_standard_spelling(secret: str) -> str:
    """What docs/events.md tells the owner of an old secret to do: the same key in the standard alphabet."""
    key = secret.removeprefix("whsec_")
    return "whsec_" + base64.b64encode(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))).decode()


def test_a_tenant_from_before_keeps_its_body_and_headers_and_gains_the_standard_ones_until_moved(w):
    legacy_tenant(w, "old")
    backup_id = create_backup(w, "si-1")["BackupId"]
    play_backup(w, backup_id)
    [post] = w.webhooks.posts
    # What its receiver was built against: the record as the body, signed as before with the secret's text.
    assert json.loads(post.body)["BackupId"] == backup_id and post.headers["content-type"] == "application/json"
    stamp, signature = (f.split("=", 1)[1] for f in post.headers["X-Nestbackup-Signature"].split(","))
    signed = f"{stamp}.".encode() + post.body
    assert signature == hmac.new(OLD_SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert post.headers["X-Nestbackup-Delivery"] == post.headers["webhook-id"]
    # What it may move to meanwhile: the same request is a binary-mode CloudEvent, and Standard Webhooks verifies it
    # with the old secret in the standard spelling (as given, the library reads its -_ wrongly: no match).
    event = from_http_event(HTTPMessage(post.headers, post.body))
    assert event.get_type() == "com.nestbackup.backup.final" and event.get_data()["BackupId"] == backup_id
    assert Webhook(receivers_standard_spelling(OLD_SECRET)).verify(post.body, post.headers)["BackupId"] == backup_id
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD_SECRET).verify(post.body, post.headers)
    assert tenants.list_tenants(w)["Tenants"][0]["WebhookFormat"] == "legacy"

    # The admin moves it: the next record comes as a structured CloudEvent, with the standard headers only.
    assert tenants.set_webhook_format(w, "old", "cloudevents") == {"Name": "old", "WebhookFormat": "cloudevents"}
    restore_id = create_restore(w, backup_id)["RestoreId"]
    play_restore(w, restore_id)
    post = w.webhooks.posts[-1]
    assert not any(h.lower().startswith(("x-nestbackup", "ce-")) for h in post.headers)
    payload = Webhook(receivers_standard_spelling(OLD_SECRET)).verify(post.body, post.headers)
    event = from_http_event(HTTPMessage(post.headers, post.body))
    assert event.get_type() == "com.nestbackup.restore.final" and event.get_subject() == restore_id
    assert payload["data"]["RestoreId"] == restore_id and payload["subject"] == restore_id


def test_after_a_rotation_both_secrets_verify_with_the_standard_library(w):
    tenants.create_tenant(w, "acme", ["si-1"], webhook=HOOK)
    first = w.documents.get_doc(tenants.TENANTS, tenant_key(w, "acme"))[0]["WebhookSecret"]
    second = tenants.rotate_webhook_secret(w, "acme")["WebhookSecret"]
    backup_id = create_backup(w, "si-1")["BackupId"]
    play_backup(w, backup_id)
    [post] = w.webhooks.posts
    assert len(post.headers["webhook-signature"].split(" ")) == 2
    for secret in (first, second):
        assert Webhook(secret).verify(post.body, post.headers)["subject"] == backup_id
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"x" * 32).decode()).verify(post.body, post.headers)


def test_a_webhook_format_is_one_of_two_and_needs_a_webhook(w):
    tenants.create_tenant(w, "acme", ["si-1"], webhook=HOOK)
    tenants.create_tenant(w, "quiet", ["si-1"])
    with pytest.raises(ValidationError):
        tenants.set_webhook_format(w, "acme", "xml")
    with pytest.raises(Conflict):
        tenants.set_webhook_format(w, "quiet", "legacy")
    with pytest.raises(NotFound):
        tenants.set_webhook_format(w, "nobody", "legacy")


def test_with_a_bus_set_each_final_record_is_put_on_it_once_beside_the_webhooks(w):
    w.settings = replace(w.settings, event_bus="ops")
    w.event_bus.buses["ops"] = []
    tenants.create_tenant(w, "acme", ["si-1"], webhook=HOOK)
    backup_id = create_backup(w, "si-1")["BackupId"]
    play_backup(w, backup_id)
    finalize(w, backup_id)                                   # finalize again: still once
    [event] = w.event_bus.buses["ops"]
    posted = json.loads(w.webhooks.posts[0].body)
    assert event == posted                                   # the same event on both routes, the same id
    assert event["type"] == "com.nestbackup.backup.final" and event["data"]["BackupId"] == backup_id
    assert sorted(d.get("Bus", "") for d in notify.deliveries(w)) == ["", "ops"]
    assert all(d["Status"] == "Delivered" for d in notify.deliveries(w))


def test_a_bus_that_fails_is_retried_by_the_timer_then_kept_as_a_dead_letter(w):
    w.settings = replace(w.settings, event_bus="ops")
    w.event_bus.failing = True
    backup_id = create_backup(w, "si-1")["BackupId"]
    play_backup(w, backup_id)
    [pending] = notify.deliveries(w)
    assert pending["Status"] == "Pending" and "InternalError" in pending["LastError"]
    w.event_bus.failing = False
    notify.deliver_due(w, now=10 ** 10)                      # the bus does not exist yet: still failing
    [pending] = notify.deliveries(w)
    assert pending["Status"] == "Pending" and "EventBusNotExist" in pending["LastError"]
    w.event_bus.buses["ops"] = []                            # the admin creates it: the next retry puts it
    assert notify.deliver_due(w, now=10 ** 10 + 10 ** 5)["Delivered"] == 1
    assert [e["subject"] for e in w.event_bus.buses["ops"]] == [backup_id]

    other = create_backup(w, "si-1")["BackupId"]
    w.event_bus.failing = True
    play_backup(w, other)
    now = time.time()
    for _ in range(rules.MAX_ATTEMPTS - 1):                  # the first attempt was notify's
        now += rules.MAX_RETRY_SECONDS + 1
        notify.deliver_due(w, now=now)
    dead = notify.deliveries(w, status="DeadLetter")
    assert [d["RecordId"] for d in dead] == [other] and dead[0]["Attempts"] == rules.MAX_ATTEMPTS


def test_a_bus_delivery_is_dropped_once_the_bus_setting_changes(w):
    w.settings = replace(w.settings, event_bus="ops")
    w.event_bus.failing = True
    backup_id = create_backup(w, "si-1")["BackupId"]
    play_backup(w, backup_id)
    w.settings = replace(w.settings, event_bus="")
    notify.deliver_due(w, now=10 ** 10)
    [dropped] = notify.deliveries(w)
    assert dropped["Status"] == "Dropped" and "event bus setting" in dropped["LastError"]


def test_the_receiver_in_docs_events_md_verifies_parses_and_pages_on_a_failed_backup(w):
    """The Python example of docs/events.md, run as written on a delivery of a failed backup."""
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text()
    example = doc.split("```python\n", 1)[1].split("```", 1)[0]
    tenants.create_tenant(w, "acme", ["si-1"], webhook=HOOK)
    secret = w.documents.get_doc(tenants.TENANTS, tenant_key(w, "acme"))[0]["WebhookSecret"]
    record = {"BackupId": "backup-f1", "ServiceInstanceId": "si-1", "Status": "CreateFailed",
              "StatusDetail": "d-1: InvalidDisk.NotFound", "EndTime": "2026-12-06T01:02:03Z"}
    notify.notify(w, "si-1", record)
    [post] = w.webhooks.posts
    paged = []
    exec(example, {"secret": secret, "body": post.body, "headers": post.headers,
                   "page_someone": lambda *args: paged.append(args)})
    assert paged == [("backup-f1", "d-1: InvalidDisk.NotFound")]
    with pytest.raises(WebhookVerificationError):
        exec(example, {"secret": secret, "body": post.body + b" ", "headers": post.headers,
                       "page_someone": lambda *args: paged.append(args)})


def test_a_retry_after_the_record_moved_on_keeps_the_event_id_the_bus_got(w):
    from nestbackup.operations import artifacts
    w.settings = replace(w.settings, event_bus="ops")
    w.event_bus.buses["ops"] = []
    tenants.create_tenant(w, "acme", ["si-1"], webhook=HOOK)
    w.webhooks.failing = True
    backup_id = create_backup(w, "si-1")["BackupId"]
    play_backup(w, backup_id)
    [on_bus] = w.event_bus.buses["ops"]
    assert artifacts.delete_backup(w, backup_id)["Status"] == "Deleted"     # the record moves on
    w.webhooks.failing = False
    notify.deliver_due(w, now=10 ** 10)
    retried = json.loads(w.webhooks.posts[-1].body)
    assert retried["id"] == on_bus["id"] and on_bus["data"]["Status"] == "Created"
    assert retried["data"]["Status"] == "Deleted" == retried["status"]      # the record as it is now
