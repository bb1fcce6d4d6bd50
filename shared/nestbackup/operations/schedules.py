"""Scheduled backups with retention, and the sweeper: the two timer-triggered jobs.

A schedule is a document per service instance in the `schedules` collection: a five-field cron (UTC), an optional
retention rule, the last time it fired. A tick claims each due schedule with a versioned write (two ticks never
both fire it), creates the backup with a ClientToken derived from the fire time (a re-run makes no second backup),
and applies the retention rule. The sweeper finishes operations whose flow died or that ran past every deadline,
so no record stays Creating or Restoring.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from ..errors import CloudError, Conflict, NestBackupError, NotFound, ValidationError
from ..model.records import record_time
from ..ports import Ports
from ..ports.records import StaleWrite
from ..steps.retention import BackupSummary, Retention, due, expired, validate_cron
from . import backup as backups
from .artifacts import delete_backup

log = logging.getLogger("nestbackup.schedules")
SCHEDULES = "schedules"
SWEEP_GRACE_SECONDS = 300        # a record younger than this may still be starting its flow


def _log(event: str, **fields) -> None:
    log.info(event, extra={"fields": fields})


def _api(si: str, doc: dict) -> dict:
    return {"ServiceInstanceId": si, "Cron": doc["Cron"], "KeepLast": doc.get("KeepLast"),
            "KeepDays": doc.get("KeepDays"), "Enabled": doc.get("Enabled", True),
            "LastFireTime": backups.iso(doc["LastFire"]) if doc.get("LastFire") else None,
            "LastError": doc.get("LastError"),
            "LastErrorTime": backups.iso(doc["LastErrorTime"]) if doc.get("LastErrorTime") else None}


def set_schedule(w: Ports, si: str, cron: str, keep_last: int | None = None, keep_days: int | None = None,
                 enabled: bool = True, now: float | None = None) -> dict:
    if not isinstance(si, str) or not backups.SERVICE_INSTANCE_ID.match(si):
        raise ValidationError("ServiceInstanceId must be 1-128 letters, digits or _.:-")
    now = time.time() if now is None else now
    validate_cron(cron, w.settings.schedule_min_interval_seconds, now)
    if keep_last is not None or keep_days is not None:
        Retention(keep_last, keep_days)
    if not isinstance(enabled, bool):
        raise ValidationError("Enabled must be true or false")
    current = w.records.get_doc(SCHEDULES, si)
    doc = {"Cron": cron, "KeepLast": keep_last, "KeepDays": keep_days, "Enabled": enabled,
           # a new or changed schedule fires from now on, not for the times it was not there
           "LastFire": now if current is None or current[0]["Cron"] != cron else current[0].get("LastFire", now)}
    w.records.put_doc(SCHEDULES, si, doc)
    return _api(si, doc)


def get_schedule(w: Ports, si: str) -> dict:
    found = w.records.get_doc(SCHEDULES, si) if backups.SERVICE_INSTANCE_ID.match(si or "") else None
    if found is None:
        raise NotFound(f"no schedule for {si}")
    return _api(si, found[0])


def delete_schedule(w: Ports, si: str) -> dict:
    out = get_schedule(w, si)
    w.records.delete_doc(SCHEDULES, si)
    return out


def tick(w: Ports, now: float | None = None, workers: int = 16) -> dict:
    """Run every due schedule once: create its backup, then expire what its retention rule says."""
    now = time.time() if now is None else now
    schedules = [(si, doc, ver) for si, doc, ver in w.records.docs(SCHEDULES) if doc.get("Enabled", True)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda entry: _run_alone(w, *entry, now), schedules))
    fired = [r for r in results if r.get("BackupId")]
    return {"Schedules": len(schedules), "Fired": len(fired), "Results": results}


def _run_alone(w: Ports, si: str, doc: dict, version: int, now: float) -> dict:
    """One schedule, whatever it holds: its failure is its own, recorded on it, and never stops the others."""
    try:
        return _run(w, si, doc, version, now)
    except Exception as err:  # noqa: BLE001 - isolation is the point
        log.exception("schedule failed", extra={"fields": {"service_instance_id": si}})
        reason = f"{type(err).__name__}: {err}"[:500]
        try:
            current = w.records.get_doc(SCHEDULES, si)
            if current:
                w.records.update_doc(SCHEDULES, si, {**current[0], "LastError": reason, "LastErrorTime": now},
                                     current[1])
        except Exception:  # noqa: BLE001 - the record store itself may be what failed
            pass
        return {"ServiceInstanceId": si, "Error": reason}


def _run(w: Ports, si: str, doc: dict, version: int, now: float) -> dict:
    fire = due(doc["Cron"], doc.get("LastFire") or 0, now)
    if fire is None:
        return {"ServiceInstanceId": si}
    try:
        w.records.update_doc(SCHEDULES, si, {**doc, "LastFire": fire}, version)
    except StaleWrite:
        return {"ServiceInstanceId": si, "Skipped": "another tick fired it"}
    out: dict = {"ServiceInstanceId": si, "FireTime": backups.iso(fire)}
    try:
        record = backups.create_backup(w, si, f"scheduled ({doc['Cron']})", token=f"schedule-{int(fire)}", now=now)
        out["BackupId"], out["Status"] = record["BackupId"], record["Status"]
    except (Conflict, NotFound, CloudError, ValidationError) as err:   # NotFound: Compute Nest no longer knows it
        out["Error"] = str(err)
        _log("scheduled backup not started", step="schedule", service_instance_id=si, reason=str(err))
    if doc.get("KeepLast") or doc.get("KeepDays"):
        out["Deleted"] = apply_retention(w, si, Retention(doc.get("KeepLast"), doc.get("KeepDays")), now)
    return out


def apply_retention(w: Ports, si: str, rule: Retention, now: float) -> list[str]:
    summaries, after = [], None
    while True:
        page = backups.list_backups(w, si, 100, after)
        for b in page["Backups"]:
            if b.get("AwaitingExpiry"):      # RDS refuses to delete its sets: they go at expiry; do not loop
                continue
            summaries.append(BackupSummary(b["BackupId"], b["Status"], record_time(b["BackupId"])))
        after = page["NextToken"]
        if not after:
            break
    deleted = []
    for backup_id in expired(summaries, rule, now):
        try:
            if delete_backup(w, backup_id, now, retry_refused=False)["Status"] == "Deleted":
                deleted.append(backup_id)
        except (Conflict, CloudError) as err:
            _log("retention delete deferred", step="retention", record_id=backup_id, reason=str(err))
    return deleted


# -- the sweeper
def sweep(w: Ports, now: float | None = None) -> dict:
    """Finish every operation whose flow is gone or that is past all its deadlines."""
    from . import restore as restores
    now = time.time() if now is None else now
    s = w.settings
    finished, alive = [], 0
    for record_id, doc, _ in w.records.docs(backups.ACTIVE):
        kind = doc.get("Kind")
        try:
            stored = w.records.read(record_id)
            if stored is None or stored.header.get("Status") not in ("Creating", "Restoring"):
                w.records.delete_doc(backups.ACTIVE, record_id)        # final already: drop the index entry
                continue
            age = now - float(doc.get("StartedEpoch") or now)
            if age < SWEEP_GRACE_SECONDS:
                alive += 1
                continue
            flow = s.backup_flow if kind == "backup" else s.restore_flow
            limit = max(s.disk_deadline_seconds, s.rds_deadline_seconds, s.restore_deadline_seconds) + 3600
            if _flow_alive(w, flow, record_id) and age < limit:
                alive += 1
                continue
            cause = {"Code": "FlowEnded" if age < limit else "Overdue",
                     "Detail": "the workflow ended without closing the record" if age < limit
                     else f"the operation ran past every deadline ({int(age)} s)"}
            if kind == "backup":
                try:
                    backups.poll(w, record_id, now=now)      # what finished meanwhile counts
                except NestBackupError:
                    pass
                backups.finalize(w, record_id, error=cause, now=now)
            else:
                restores.recover(w, record_id, error=cause, now=now)
            finished.append(record_id)
            _log("operation swept", step="sweep", record_id=record_id, cause=cause["Code"])
        except (NestBackupError, StaleWrite) as err:
            _log("sweep skipped", step="sweep", record_id=record_id, reason=str(err))
    return {"Finished": finished, "Running": alive}


def _flow_alive(w: Ports, flow: str, record_id: str) -> bool:
    """Is an execution of this record (or of one of its continuations) still running?"""
    from ..ports.flows import execution_name
    for generation in range(1, 1000):
        execution = w.flows.describe(flow, execution_name(record_id, generation))
        if execution is None:
            return False
        if execution.status in ("Running", "Starting"):
            return True
    return False
