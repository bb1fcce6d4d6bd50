"""Notifications: when an operation ends, its final record is POSTed to the webhook of every tenant of its service
instance. Best effort: a failing webhook is logged (without its URL's query, which may hold a secret) and never
changes the record."""
from __future__ import annotations

import json
import logging
import urllib.request
from urllib.parse import urlsplit

from . import tenants

log = logging.getLogger("nestbackup.notify")
TIMEOUT_SECONDS = 5


def notify(w, service_instance_id: str, record: dict) -> int:
    sent = 0
    try:
        subscribers = [doc for _, doc, _ in w.records.docs(tenants.TENANTS)
                       if doc.get("Webhook") and service_instance_id in doc.get("Instances", [])]
    except Exception:  # the record is final whatever happens here
        log.exception("webhook lookup failed")
        return 0
    for doc in subscribers:
        url = doc["Webhook"]
        request = urllib.request.Request(url, data=json.dumps(record).encode(), method="POST",
                                         headers={"content-type": "application/json",
                                                  "user-agent": "nestbackup-webhook/1"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as resp:
                resp.read(1024)
            sent += 1
        except Exception as err:  # noqa: BLE001 - any network failure
            where = urlsplit(url)
            log.warning("webhook failed", extra={"fields": {"tenant": doc.get("Name"),
                                                            "host": where.hostname, "error": type(err).__name__}})
    return sent
