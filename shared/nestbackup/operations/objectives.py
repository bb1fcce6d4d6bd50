"""Recovery objectives, measured: per service instance, the recovery point achieved (age of the newest backup a drill
proved, and of the newest backup at all) and the recovery time the recent drills and restores measured, against the
targets the operator sets; a breach is reported (the API, the console, and a webhook / event bus event once a day
per service instance). The same targets say how often the timer drills the latest backup (`DrillEveryDays`)."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .. import logs
from ..decisions import drill as decide
from ..errors import Conflict, NestBackupError, ValidationError
from ..model.records import BackupRecord, iso_utc
from ..model.status import DrillStatus, RestoreStatus

if TYPE_CHECKING:
    from ..ports import Ports

TARGETS = "recovery-objectives"      # <service instance> -> {RecoveryPointSeconds, RecoveryTimeSeconds, DrillEveryDays}
RECENT = 20                          # the records looked at, newest first
FIELDS = ("RecoveryPointSeconds", "RecoveryTimeSeconds", "DrillEveryDays")


def set_targets(w: Ports, si: str, body: dict[str, Any]) -> dict:
    targets = {k: body[k] for k in FIELDS if body.get(k) is not None}
    for key, value in targets.items():
        if value < 1 or (key == "DrillEveryDays" and value > 365):
            raise ValidationError(f"{key} must be a positive whole number" + (" up to 365" if key ==
                                                                                   "DrillEveryDays" else ""))
    w.documents.put_doc(TARGETS, si, targets)
    return recovery_objectives(w, si)


def targets_of(w: Ports, si: str) -> dict[str, Any]:
    found = w.documents.get_doc(TARGETS, si)
    return dict(found[0]) if found else {}


def _epoch(text: str | None) -> float | None:
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def _records(w: Ports, si: str, kind: str) -> list[dict]:
    ids, _ = w.records.list_ids(si, kind, RECENT)
    out = []
    for record_id in ids:
        stored = w.records.read(record_id)
        if stored is not None:
            out.append(stored.header)
    return out


def recovery_objectives(w: Ports, si: str, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    backups = [BackupRecord.from_docs(h, {}) for h in _records(w, si, "backup") if h.get("Kind") == "backup"]
    usable = [b for b in backups if b.status in decide.DRILLABLE]
    newest = max((_epoch(b.start_time) or 0 for b in usable), default=None)
    drilled = max((_epoch(b.start_time) or 0 for b in usable if b.last_drill), default=None)
    measured = []
    for header in _records(w, si, "drill"):
        if header.get("Status") == DrillStatus.PASSED and header.get("DurationSeconds") is not None:
            measured.append(float(header["DurationSeconds"]))      # restored and checked, the cleanup aside
    for header in _records(w, si, "restore"):
        start, end = _epoch(header.get("StartTime")), _epoch(header.get("EndTime"))
        if header.get("Status") == RestoreStatus.RESTORED and start is not None and end is not None:
            measured.append(end - start)
    recovery = round(max(measured), 1) if measured else None
    out = decide.recovery_objectives(targets_of(w, si), newest or None, drilled or None, recovery, now)
    return {"ServiceInstanceId": si, **out}


def report_breaches(w: Ports, now: float | None = None) -> list[str]:
    """The timer: each service instance with targets that misses one is reported once a UTC day (the event's id is
    the instance's and the day's, so every retry and every route carries the same one)."""
    from .notify import notify

    now = time.time() if now is None else now
    breached = []
    for si, _, _ in w.documents.docs(TARGETS):
        try:
            objectives = recovery_objectives(w, si, now)
            if objectives["Breached"]:
                day = iso_utc(now)[:10]
                notify(w, si, {"BreachId": f"breach-{si}-{day}", "Status": "Breached", "EndTime": iso_utc(now),
                               **objectives})
                breached.append(si)
        except NestBackupError as err:
            logs.event("objectives not evaluated", step="sweep", service_instance_id=si, reason=str(err))
    return breached


def drill_due(w: Ports, now: float | None = None) -> list[str]:
    """The timer: each service instance whose targets ask for a drill every N days gets one of its latest drillable
    backup when its last drill is older than that (a busy instance is asked again at the next run)."""
    from .drill import create_drill

    now = time.time() if now is None else now
    started = []
    for si, targets, _ in w.documents.docs(TARGETS):
        every = targets.get("DrillEveryDays")
        if not every:
            continue
        drills = _records(w, si, "drill")
        last = max((float(h.get("StartedEpoch") or 0) for h in drills), default=0.0)
        if now - last < every * 86400:
            continue
        backups = [BackupRecord.from_docs(h, {}) for h in _records(w, si, "backup") if h.get("Kind") == "backup"]
        latest = next((b for b in backups if b.status in decide.DRILLABLE), None)
        if latest is None:
            continue
        try:
            started.append(create_drill(w, latest.backup_id, origin="schedule", now=now)["DrillId"])
        except (Conflict, NestBackupError) as err:
            logs.event("scheduled drill not started", step="sweep", service_instance_id=si, reason=str(err))
    return started
