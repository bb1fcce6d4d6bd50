"""Notifications: when an operation ends, its final record goes to the webhook of every tenant of its service
instance, exactly once per record and tenant, as a CloudEvent signed as Standard Webhooks says (docs/events.md), and
never holding up the flow; with NESTBACKUP_EVENT_BUS set, the same event also goes to that EventBridge bus, once
per record, through the same queue.

notify       -> called as a record becomes final: queue one delivery per subscribed tenant and one for the bus (a
                delivery whose id is already queued, e.g. by a concurrent cancel, is not queued twice), then try the
                new ones at once, in parallel (the bus beside the webhooks), under one total deadline
deliver_due  -> the timer: retry what failed (1, 2, 4 … 60 minutes apart), a dead letter after MAX_ATTEMPTS; forget
                delivered ones after a week

Best effort for the record: nothing here changes it, and a failure is logged without the URL (it may hold a secret).
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from ..decisions import cloudevents as events
from ..decisions import webhooks as rules
from ..decisions.webhooks import DeliveryStatus
from ..errors import NestBackupError, NotFound
from ..model.records import iso_utc
from ..ports import Ports
from ..ports.webhooks import Outcome, Post
from . import tenants
from .loading import record_api

log = logging.getLogger("nestbackup.notify")
DELIVERIES = "webhook-deliveries"
KEEP_DELIVERED_SECONDS = 7 * 24 * 3600
KEEP_DEAD_SECONDS = 30 * 24 * 3600
BUS_TARGET = "eventbridge:"     # a bus delivery's id is made as a tenant's is, from this and the bus's name


def notify(w: Ports, service_instance_id: str, record: dict, now: float | None = None) -> int:
    """Queue and try the deliveries of one final record; the number delivered now."""
    now = time.time() if now is None else now
    kind, record_id = events.record_kind(record)
    try:
        queued = []
        event_id = events.event_id(record_id, str(record.get("Status")))
        for tenant_hash, doc, _ in w.documents.docs(tenants.TENANTS):
            if not doc.get("Webhook") or service_instance_id not in doc.get("Instances", []):
                continue
            key = rules.delivery_id(record_id, str(record.get("Status")), doc["Name"])
            if w.documents.create_doc(DELIVERIES, key, {
                    "Tenant": doc["Name"], "TenantHash": tenant_hash, "Kind": kind, "RecordId": record_id,
                    "Status": DeliveryStatus.PENDING.value, "Attempts": 0, "NextEpoch": now, "CreatedEpoch": now,
                    "EventId": event_id}):
                queued.append(key)
        bus = w.settings.event_bus
        if bus:
            key = rules.delivery_id(record_id, str(record.get("Status")), BUS_TARGET + bus)
            if w.documents.create_doc(DELIVERIES, key, {
                    "Tenant": "", "Bus": bus, "Kind": kind, "RecordId": record_id,
                    "Status": DeliveryStatus.PENDING.value, "Attempts": 0, "NextEpoch": now, "CreatedEpoch": now,
                    "EventId": event_id}):
                queued.append(key)
        return _attempt(w, queued, now, {record_id: record})
    except Exception:  # noqa: BLE001 - the record is final whatever happens here
        log.exception("webhook delivery failed", extra={"fields": {"record_id": record_id}})
        return 0


def deliver_due(w: Ports, now: float | None = None) -> dict:
    """The timer's pass over the queue: retry due deliveries, drop old finished ones."""
    now = time.time() if now is None else now
    due, forgotten = [], 0
    for key, doc, _ in w.documents.docs(DELIVERIES):
        age = now - float(doc.get("CreatedEpoch") or now)
        if doc.get("Status") == DeliveryStatus.PENDING and float(doc.get("NextEpoch") or 0) <= now:
            due.append(key)
        elif (doc.get("Status") == DeliveryStatus.DELIVERED and age > KEEP_DELIVERED_SECONDS) or \
                (doc.get("Status") in (DeliveryStatus.DEAD_LETTER, DeliveryStatus.DROPPED) and age > KEEP_DEAD_SECONDS):
            w.documents.delete_doc(DELIVERIES, key)
            forgotten += 1
    return {"Due": len(due), "Delivered": _attempt(w, due, now, {}), "Forgotten": forgotten}


def _attempt(w: Ports, keys: list[str], now: float, bodies: dict[str, dict]) -> int:
    from ..ports.records import StaleWrite
    s = w.settings
    posts, on_bus, claimed = [], [], {}
    for key in keys:
        found = w.documents.get_doc(DELIVERIES, key)
        if not found or found[0].get("Status") != DeliveryStatus.PENDING or float(found[0].get("NextEpoch") or 0) > now:
            continue
        doc, version = found
        attempts = int(doc.get("Attempts") or 0) + 1
        # Claimed before sending: a second deliverer skips it, and one that dies mid-send is retried later.
        doc = {**doc, "Attempts": attempts, "NextEpoch": now + rules.retry_delay(attempts)}
        try:
            version = w.documents.update_doc(DELIVERIES, key, doc, version)
        except StaleWrite:
            continue
        tenant = None if doc.get("Bus") else w.documents.get_doc(tenants.TENANTS, doc["TenantHash"])
        record, gone = _record_unless_gone(w, doc, tenant, bodies)
        if gone:
            w.documents.update_doc(DELIVERIES, key, {**doc, "Status": DeliveryStatus.DROPPED.value,
                                                   "LastError": gone}, version)
            continue
        if tenant is None:
            on_bus.append((key, doc["Bus"], _event(record, doc)))
        else:
            posts.append(Post(key, tenant[0]["Webhook"], *_signed(key, tenant[0], record, doc, now)))
        claimed[key] = (doc, version)
    if on_bus:                                      # the bus beside the posts, not after them
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="event-bus") as pool:
            put = pool.submit(_put_on_buses, w, on_bus)
            outcomes = list(w.webhooks.post_all(posts, s.webhook_deadline_seconds, s.webhook_allow_private))
            outcomes += put.result()
    else:
        outcomes = w.webhooks.post_all(posts, s.webhook_deadline_seconds, s.webhook_allow_private)
    delivered = 0
    for outcome in outcomes:
        doc, version = claimed[outcome.key]
        if outcome.delivered:
            delivered += 1
            doc = {**doc, "Status": DeliveryStatus.DELIVERED.value, "DeliveredEpoch": now, "LastResult": outcome.detail}
        elif outcome.refused or doc["Attempts"] >= rules.MAX_ATTEMPTS:
            doc = {**doc, "Status": DeliveryStatus.DEAD_LETTER.value, "LastError": outcome.detail}
            log.warning("webhook dead letter", extra={"fields": {"tenant": doc["Tenant"], "bus": doc.get("Bus"),
                                                                 "delivery": outcome.key, "error": outcome.detail}})
        else:
            doc = {**doc, "LastError": outcome.detail}
        try:
            w.documents.update_doc(DELIVERIES, outcome.key, doc, version)
        except (StaleWrite, NestBackupError):
            log.warning("webhook outcome not recorded", extra={"fields": {"delivery": outcome.key}})
    return delivered


def _record_unless_gone(w: Ports, delivery: dict, tenant: tuple | None, bodies: dict[str, dict]) -> tuple[dict, str]:
    """The record to send, or why the delivery is dropped: its target or its record is gone."""
    if delivery.get("Bus") and delivery["Bus"] != w.settings.event_bus:
        return {}, "the event bus setting changed"
    if not delivery.get("Bus") and (tenant is None or not tenant[0].get("Webhook")):
        return {}, "the tenant or its webhook is gone"
    try:
        return bodies.get(delivery["RecordId"]) or record_api(w, delivery["Kind"], delivery["RecordId"]), ""
    except NotFound:
        return {}, "the record is gone"


def _event(record: dict, delivery: dict) -> dict:
    """The record's event as the delivery was made for: a retry after the record moved on (a deleted backup) sends
    the record as it is, under the id of the event that was queued (deliveries queued before ids were kept: made
    from the record as it is)."""
    event = events.final_record_event(record, record.get("ServiceInstanceId") or "", iso_utc(delivery["CreatedEpoch"]))
    return event | ({"id": delivery["EventId"]} if delivery.get("EventId") else {})


def _put_on_buses(w: Ports, on_bus: list[tuple[str, str, dict]]) -> list[Outcome]:
    """Each bus's events in one call; a call that fails fails each of its events (the timer retries them)."""
    outcomes = []
    for bus in dict.fromkeys(b for _, b, _ in on_bus):
        mine = [(key, event) for key, b, event in on_bus if b == bus]
        try:
            refused = w.event_bus.put_events(bus, [event for _, event in mine])
        except Exception as err:  # noqa: BLE001 - any failure of the call is a failed attempt of each event
            detail = f"{getattr(err, 'code', type(err).__name__)}: {getattr(err, 'message', err)}"[:300]
            outcomes += [Outcome(key, False, detail) for key, _ in mine]
            continue
        outcomes += [Outcome(key, event["id"] not in refused, refused.get(event["id"], f"put on {bus}"))
                     for key, event in mine]
    return outcomes


def _signed(key: str, tenant: dict, record: dict, delivery: dict, now: float) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt: the record's CloudEvent in the tenant's format, the Standard Webhooks
    headers (the delivery id is `webhook-id`), and for a legacy tenant the headers it was built against too."""
    event = _event(record, delivery)
    legacy = rules.tenant_format(tenant) is rules.WebhookFormat.LEGACY
    headers, body = (events.binary if legacy else events.structured)(event)
    stamp = int(now)
    headers |= {"user-agent": "nestbackup-webhook/3", rules.WEBHOOK_ID: key, rules.WEBHOOK_TIMESTAMP: str(stamp)}
    signing = tenants.signing_secrets(tenant, now)
    if signing:
        headers[rules.WEBHOOK_SIGNATURE] = rules.standard_signature(signing, key, stamp, body)
    if legacy:
        headers |= {rules.DELIVERY_HEADER: key, rules.TIMESTAMP_HEADER: str(stamp)}
        if signing:
            headers[rules.SIGNATURE_HEADER] = rules.legacy_signature(signing, stamp, body)
    return body, headers


def deliveries(w: Ports, tenant: str | None = None, status: str | None = None, bus: bool = False) -> list[dict]:
    """The queue as the admin sees it, newest first: a tenant's webhook deliveries, or (`bus`) the event bus's."""
    out = [{"DeliveryId": key, **{k: v for k, v in doc.items() if k != "TenantHash"}}
           for key, doc, _ in w.documents.docs(DELIVERIES)
           if (tenant is None or doc.get("Tenant") == tenant) and (status is None or doc.get("Status") == status)
           and (not bus or doc.get("Bus"))]
    return sorted(out, key=lambda d: -float(d.get("CreatedEpoch") or 0))
