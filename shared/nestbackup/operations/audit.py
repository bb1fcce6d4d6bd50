"""The audit trail: one entry per mutating API request (who, what, on which ids, with what outcome, under which
request id), append-only, read by the admin newest first, kept for NESTBACKUP_AUDIT_RETENTION_DAYS.

It lives on the documents port, as one collection per UTC day (`audit#2026-12-06`): an entry is created only if its
key is free (`create_doc`), and its key is its time in milliseconds and its request id, so no entry is ever
overwritten and keys sort by time. Nothing updates an entry, and no API route deletes one; only `prune`, run by the
timer, deletes whole days older than the retention. Day collections keep a listing to the days it asks for (a
day is one read) and let the pruner drop a day without reading the others. Records would not fit: they are
backups and restores with items and a timeline.
"""
from __future__ import annotations

import logging
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import ValidationError
from ..ports import Ports

log = logging.getLogger("nestbackup.audit")
PREFIX = "audit#"
PRUNED = "audit-pruned"                  # one document: the newest day the pruner has cleared
DAY = timedelta(days=1)
DAYS_PER_PAGE = 92                       # days one listing page reads at most; a sparse trail pages on by day
PRUNE_DELETES_PER_RUN = 2000             # entries one prune deletes at most; the next run goes on
PRUNE_DAYS_PER_RUN = 400                 # days one prune reads at most (a retention shortened by years)
TOKEN = re.compile(r"[0-9]{13}#[A-Za-z0-9-]{0,64}", re.ASCII)
REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}", re.ASCII)


def _day(epoch: float) -> datetime:
    when = datetime.fromtimestamp(epoch, timezone.utc)
    return datetime(when.year, when.month, when.day, tzinfo=timezone.utc)


def _parse_day(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)


def _collection(day: datetime) -> str:
    return PREFIX + day.strftime("%Y-%m-%d")


def iso_ms(epoch: float) -> str:
    """An entry's time: UTC, to the millisecond."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def append(w: Ports, entry: dict[str, Any], request_id: str, now: float | None = None) -> bool:
    """Add one entry (the API's fields: Principal, Action, ServiceInstanceId, RecordId, Tenant, Status, ErrorCode,
    SourceIp); False if this request already has one at this time (a handler run twice for one request)."""
    now = time.time() if now is None else now
    if not REQUEST_ID.fullmatch(request_id):
        raise ValidationError("an audit entry's request id must be letters, digits and dashes")
    key = f"{int(now * 1000):013d}#{request_id}"
    doc = {"Time": iso_ms(now), "Epoch": now, **entry, "RequestId": request_id}
    return w.documents.create_doc(_collection(_day(now)), key, doc)


def list_entries(w: Ports, since: float | None = None, service_instance_id: str | None = None,
                 action: str | None = None, limit: int = 50, next_token: str | None = None,
                 now: float | None = None) -> dict[str, Any]:
    """Entries newest first, at most `limit`, only those at or after `since`, of that service instance and action.
    A page reads at most DAYS_PER_PAGE days, so it may be short: NextToken is there until the oldest kept day (or
    the day of `since`) has been read."""
    now = time.time() if now is None else now
    if next_token is not None and not TOKEN.fullmatch(next_token):
        raise ValidationError("nextToken is not a token this API returned")
    oldest = _day(max(now - w.settings.audit_retention_days * DAY.total_seconds(), since or 0))
    day = _day(now) + DAY                                     # a clock ahead: tomorrow too
    if next_token is not None:      # within the day of the last entry given, or before the last day read whole
        day = _day(int(next_token[:13]) / 1000) - (DAY if next_token.endswith("#") else timedelta(0))
    entries: list[dict[str, Any]] = []
    for _ in range(DAYS_PER_PAGE):
        if day < oldest:
            return {"Entries": entries, "NextToken": None}
        for key, doc, _version in reversed(w.documents.docs(_collection(day))):
            if next_token is not None and key >= next_token:
                continue
            if since is not None and doc.get("Epoch", 0) < since:
                return {"Entries": entries, "NextToken": None}
            if service_instance_id not in (None, doc.get("ServiceInstanceId")) or \
                    action not in (None, doc.get("Action")):
                continue
            entries.append({k: v for k, v in doc.items() if k != "Epoch"})
            if len(entries) == limit:
                return {"Entries": entries, "NextToken": key}
        day -= DAY
    # Read as many days as a page may: go on from the start of the last day read.
    day_start = f"{int((day + DAY).timestamp() * 1000):013d}#"
    return {"Entries": entries, "NextToken": day_start if day >= oldest else None}


def prune(w: Ports, now: float | None = None) -> dict[str, Any]:
    """Delete the days older than the retention, oldest first, from the day after the last one cleared (a marker
    document, so a shortened retention clears the days between). At most PRUNE_DELETES_PER_RUN entries and
    PRUNE_DAYS_PER_RUN days a run; the next run goes on."""
    now = time.time() if now is None else now
    newest_expired = _day(now - w.settings.audit_retention_days * DAY.total_seconds()) - DAY
    marker = w.documents.get_doc(PRUNED, "through")
    # No marker: the trail is new (its first day is after every expired one), so only the newest expired day.
    day = _parse_day(marker[0]["Day"]) + DAY if marker else newest_expired
    deleted, cleared, last_day = 0, None, day + PRUNE_DAYS_PER_RUN * DAY
    while day <= newest_expired and day < last_day and deleted < PRUNE_DELETES_PER_RUN:
        rows = w.documents.docs(_collection(day))
        batch = rows[:PRUNE_DELETES_PER_RUN - deleted]
        for key, _doc, _version in batch:
            w.documents.delete_doc(_collection(day), key)
        deleted += len(batch)
        if len(batch) < len(rows):          # the day has more: the next run goes on with it
            break
        cleared, day = day, day + DAY
    if cleared is not None:
        w.documents.put_doc(PRUNED, "through", {"Day": cleared.strftime("%Y-%m-%d")})
        log.info("audit pruned", extra={"fields": {"deleted": deleted, "through": cleared.strftime("%Y-%m-%d")}})
    return {"Deleted": deleted, "Through": cleared.strftime("%Y-%m-%d") if cleared else None}
