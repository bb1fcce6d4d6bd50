"""Webhook notifications of final records on the in-memory ports: one per final record and tenant, signed,
retried by the timer when the receiver fails, never twice for a step delivered again."""
import json

import pytest

from nestbackup.operations import notify, tenants
from nestbackup.operations.backup import create_backup
from nestbackup.operations.backup_finalize import finalize
from tests.support.flowplay import play_backup
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
    assert json.loads(post.body)["BackupId"] == backup_id and json.loads(post.body)["Status"] == "Created"
    assert any("signature" in h.lower() for h in post.headers)
    assert [d["Status"] for d in notify.deliveries(w, "acme")] == ["Delivered"]


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
