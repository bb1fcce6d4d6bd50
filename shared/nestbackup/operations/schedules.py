"""Scheduled backups with retention, and the sweeper: the two timer-triggered jobs.

A schedule is a document per service instance in the `schedules` collection: a five-field cron (UTC), an optional
retention rule, the time it was last looked at as due (`LastFire`: set when it is set, so it fires from then on), the
last real run and the backup it started, and, until a backup of it starts again, why the last one did not. A tick
claims each due schedule with a versioned write (two ticks never both fire it), creates the backup with a ClientToken
derived from the fire time (a re-run makes no second backup), and applies the retention rule. The sweeper finishes
operations whose flow died or that ran past every deadline, so no record stays Creating or Restoring.

A tick starts at most `schedule_starts_per_tick` resources' backups (`BURST_STARTS` at once, the rest spread over
`SPREAD_SECONDS`) and takes no schedule after `TICK_SECONDS`: what is due beyond that stays due, unclaimed, and the
next tick (a minute later) takes it first (least recently fired first). So 10,000 schedules of one minute start at
the pace the cloud's create APIs allow (ECS and RDS count calls per API per minute) and no timer invocation runs
near its timeout (`bench/scale_10k.py`).
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .. import logs
from ..decisions.retention import BackupSummary, Retention, due, expired, next_fire, validate_cron
from ..errors import CloudError, Conflict, NotFound, ValidationError
from ..model.copies import check_copy_region
from ..model.ids import check_service_instance_id, is_service_instance_id
from ..model.records import iso_utc, record_time
from ..model.status import BackupStatus
from ..ports import Ports
from ..ports.records import StaleWrite
from .artifacts import delete_backup
from .backup import DESCRIPTION_MAX_CHARS, create_backup, list_backups

log = logging.getLogger("nestbackup.schedules")
SCHEDULES = "schedules"
# A tick takes no schedule after this long: a third of the timer function's timeout (s.yaml: 900 s), so the backups
# it has taken finish their opening well within it.
TICK_SECONDS = 300
# A tick spreads its starts evenly over this much of its minute: CloudFlow enters at most 100 states a second per
# account (a bucket of 100 refilled at 100/s, its limits page), and each started backup enters about ten at once.
SPREAD_SECONDS = 40
# The first starts of a tick go at once (about 70 states entered: within CloudFlow's bucket of 100), so a tick of a
# few schedules never waits.
BURST_STARTS = 10


def _description(cron: str) -> str:
    """A scheduled backup's description: it names the cron, so a cron is only as long as a description allows."""
    return f"scheduled ({cron})"


MAX_CRON_CHARS = DESCRIPTION_MAX_CHARS - len(_description(""))


def _api(si: str, doc: dict, now: float) -> dict:
    enabled = doc.get("Enabled", True)
    # a schedule stored before LastRun was kept: LastFire, as it was shown then
    last_run = doc.get("LastRun") if "LastRun" in doc else doc.get("LastFire")
    upcoming = next_fire(doc["Cron"], max(now, doc.get("LastFire") or 0)) if enabled else None
    return {"ServiceInstanceId": si, "Cron": doc["Cron"], "KeepLast": doc.get("KeepLast"),
            "KeepDays": doc.get("KeepDays"), "Enabled": enabled,
            "LockMode": doc.get("LockMode"), "LockDays": doc.get("LockDays"),
            "CopyToRegion": doc.get("CopyToRegion"),
            "NextRunTime": iso_utc(upcoming) if upcoming else None,
            "LastFireTime": iso_utc(last_run) if last_run else None,
            "LastBackupId": doc.get("LastBackupId"),
            "LastError": doc.get("LastError"),
            "LastErrorTime": iso_utc(doc["LastErrorTime"]) if doc.get("LastErrorTime") else None}


def set_schedule(w: Ports, si: str, cron: str, keep_last: int | None = None, keep_days: int | None = None,
                 enabled: bool = True, now: float | None = None, lock_mode: str | None = None,
                 lock_days: int | None = None, copy_to_region: str | None = None) -> dict:
    """`lock_mode`/`lock_days`: every backup it takes is locked so (decisions/locks.py) from its creation;
    `copy_to_region`: every backup it takes copies its snapshots there (operations/backup_copies.py)."""
    check_service_instance_id(si)
    now = time.time() if now is None else now
    if w.computenest.service_instance(si) is None:
        raise NotFound(f"Compute Nest has no service instance {si} in region {w.settings.region}: a schedule of it "
                       f"could never back anything up")
    if isinstance(cron, str) and len(cron) > MAX_CRON_CHARS:
        raise ValidationError(f"Cron must be at most {MAX_CRON_CHARS} characters (a scheduled backup's description "
                              f"carries it)")
    validate_cron(cron, w.settings.schedule_min_interval_seconds, now)
    if keep_last is not None or keep_days is not None:
        Retention(keep_last, keep_days)
    if not isinstance(enabled, bool):
        raise ValidationError("Enabled must be true or false")
    _check_lock_option(lock_mode, lock_days)
    copy_to_region = check_copy_region(copy_to_region, w.settings.region)
    current = w.documents.get_doc(SCHEDULES, si)
    kept = {k: current[0][k] for k in ("LastRun", "LastBackupId") if current and k in current[0]}
    doc = {"Cron": cron, "KeepLast": keep_last, "KeepDays": keep_days, "Enabled": enabled,
           "LockMode": lock_mode, "LockDays": lock_days, "CopyToRegion": copy_to_region,
           # a new or changed schedule fires from now on, not for the times it was not there
           "LastFire": now if current is None or current[0]["Cron"] != cron else current[0].get("LastFire", now),
           "LastRun": None} | kept
    w.documents.put_doc(SCHEDULES, si, doc)
    return _api(si, doc, now)


def copy_regions(w: Ports) -> set[str]:
    """The regions the schedules copy into (where leftover copies are looked for)."""
    return {doc["CopyToRegion"] for _, doc, _ in w.documents.docs(SCHEDULES) if doc.get("CopyToRegion")}


def _check_lock_option(mode: str | None, days: int | None) -> None:
    from ..decisions.locks import LOCK_MODES, MAX_LOCK_DAYS
    if mode is None and days is None:
        return
    if mode not in LOCK_MODES or isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_LOCK_DAYS:
        raise ValidationError(f"a schedule's lock needs LockMode ({' or '.join(LOCK_MODES)}) and LockDays (1 to "
                              f"{MAX_LOCK_DAYS})")


def get_schedule(w: Ports, si: str, now: float | None = None) -> dict:
    """The schedule, when it runs next, and its last real run with the backup it started (and that backup's
    status now)."""
    found = w.documents.get_doc(SCHEDULES, si) if is_service_instance_id(si) else None
    if found is None:
        raise NotFound(f"no schedule for {si}")
    out = _api(si, found[0], time.time() if now is None else now)
    if out["LastBackupId"]:
        stored = w.records.read(out["LastBackupId"])
        out["LastBackupStatus"] = stored.header["Status"] if stored else None
    return out


def delete_schedule(w: Ports, si: str) -> dict:
    out = get_schedule(w, si)
    w.documents.delete_doc(SCHEDULES, si)
    return out


class StartBudget:
    """How many resources' backups this tick may still start, paced evenly over `SPREAD_SECONDS`, and until when it
    takes schedules. Each due schedule reserves one in turn (the tick's own thread waits for its slot); a backup of
    more resources spends the rest once its record says how many it has."""

    def __init__(self, resources: int, seconds: float) -> None:
        self.left = resources
        self.spacing = SPREAD_SECONDS / max(1, resources)
        self.began = time.monotonic()
        self.until = self.began + seconds
        self.slots = 0
        self._lock = threading.Lock()

    def reserve(self) -> bool:
        """A start, at its slot; False once the budget is spent or the tick has taken schedules long enough."""
        with self._lock:
            if self.left <= 0 or time.monotonic() > self.until:
                return False
            self.left -= 1
            slot = self.began + self.spacing * max(0, self.slots - BURST_STARTS)
            self.slots += 1
        time.sleep(max(0.0, slot - time.monotonic()))
        return True

    def spend(self, resources: int) -> None:
        with self._lock:
            self.left -= resources


def tick(w: Ports, now: float | None = None, workers: int = 16) -> dict:
    """Run every due schedule once, within this tick's budget: create its backup, then expire what its retention
    rule says. A due schedule beyond the budget is `Deferred`: left unclaimed, first in line on the next tick."""
    now = time.time() if now is None else now
    schedules = [(si, doc, ver) for si, doc, ver in w.documents.docs(SCHEDULES) if doc.get("Enabled", True)]
    schedules.sort(key=lambda entry: entry[1].get("LastFire") or 0)     # least recently fired first
    budget = StartBudget(w.settings.schedule_starts_per_tick, TICK_SECONDS)
    results: list[dict] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        run = logs.carried(lambda entry: _run_alone(w, entry[0], entry[1], entry[2], now, budget))
        started = []
        for entry in schedules:
            if not _is_due(entry[1], now):
                results.append({"ServiceInstanceId": entry[0]})
            elif budget.reserve():
                started.append(pool.submit(run, entry))
            else:
                results.append({"ServiceInstanceId": entry[0], "Deferred": "this tick started as many backups as "
                                                                           "it may; the next tick takes it first"})
        results += [future.result() for future in started]
    fired = [r for r in results if r.get("BackupId")]
    deferred = [r for r in results if r.get("Deferred")]
    return {"Schedules": len(schedules), "Fired": len(fired), "Deferred": len(deferred), "Results": results}


def _is_due(doc: dict, now: float) -> bool:
    try:
        return due(doc["Cron"], doc.get("LastFire") or 0, now) is not None
    except Exception:  # noqa: BLE001 - its own run records why its cron cannot be evaluated
        return True


def _run_alone(w: Ports, si: str, doc: dict, version: int, now: float, budget: StartBudget) -> dict:
    """One schedule, whatever it holds: its failure is its own, recorded on it, and never stops the others."""
    try:
        out = _run(w, si, doc, version, now, budget)
    except Exception as err:  # noqa: BLE001 - isolation is the point
        log.exception("schedule failed", extra={"fields": {"service_instance_id": si}})
        out = {"ServiceInstanceId": si, "Error": f"{type(err).__name__}: {err}"[:500]}
    if out.get("Error") or out.get("BackupId"):
        _note_outcome(w, si, out, now)
    return out


def _note_outcome(w: Ports, si: str, out: dict, now: float) -> None:
    """A firing's outcome on its schedule: why the backup did not start (LastError, LastErrorTime), or, once one
    starts, the run and its backup (LastRun, LastBackupId) and no error any more."""
    error = out.get("Error")
    try:
        current = w.documents.get_doc(SCHEDULES, si)
        if current is None:
            return
        doc = {k: v for k, v in current[0].items() if k not in ("LastError", "LastErrorTime")}
        if error is not None:
            doc |= {"LastError": error[:500], "LastErrorTime": now}
        if out.get("BackupId"):
            doc |= {"LastRun": current[0].get("LastFire") or now, "LastBackupId": out["BackupId"]}
        w.documents.update_doc(SCHEDULES, si, doc, current[1])
    except Exception:  # noqa: BLE001 - the record store itself may be what failed; the tick's answer still says it
        pass


def _run(w: Ports, si: str, doc: dict, version: int, now: float, budget: StartBudget) -> dict:
    fire = due(doc["Cron"], doc.get("LastFire") or 0, now)
    if fire is None:
        return {"ServiceInstanceId": si}
    try:
        w.documents.update_doc(SCHEDULES, si, {**doc, "LastFire": fire}, version)
    except StaleWrite:
        return {"ServiceInstanceId": si, "Skipped": "another tick fired it"}
    out: dict = {"ServiceInstanceId": si, "FireTime": iso_utc(fire)}
    # Retention first: deleting takes the instance's lock, which the new backup then holds for as long as it runs
    # (deleting after it would always find the lock taken). Until it ends there may be one backup more than the rule.
    if doc.get("KeepLast") or doc.get("KeepDays"):
        out["Deleted"] = apply_retention(w, si, Retention(doc.get("KeepLast"), doc.get("KeepDays")), now)
    try:
        lock = (doc["LockMode"], int(doc["LockDays"])) if doc.get("LockMode") and doc.get("LockDays") else None
        record = create_backup(w, si, _description(doc["Cron"]), token=f"schedule-{int(fire)}", now=now,
                               origin="schedule", backup_lock=lock, copy_to_region=doc.get("CopyToRegion"))
        out["BackupId"], out["Status"] = record["BackupId"], record["Status"]
        budget.spend(max(0, len(record.get("Resources") or []) - 1))
    except (Conflict, NotFound, CloudError, ValidationError) as err:   # NotFound: Compute Nest no longer knows it
        out["Error"] = str(err)
        logs.event("scheduled backup not started", step="schedule", service_instance_id=si, reason=str(err))
    return out


def _candidates(w: Ports, si: str) -> list[BackupSummary]:
    """Every backup of the instance a retention rule may weigh (RDS sets that go only at expiry are left out)."""
    summaries, after = [], None
    while True:
        page = list_backups(w, si, 100, after)
        for b in page["Backups"]:
            if b.get("AwaitingExpiry"):      # RDS refuses to delete its sets: they go at expiry; do not loop
                continue
            summaries.append(BackupSummary(b["BackupId"], b["Status"], record_time(b["BackupId"]),
                                           b.get("Origin") or "user", b.get("Scope") or "whole", b.get("Lock")))
        after = page["NextToken"]
        if not after:
            return summaries


def preview_retention(w: Ports, si: str, keep_last: int | None = None, keep_days: int | None = None,
                      now: float | None = None) -> dict:
    """A dry run: what the rule (the schedule's when none is given) would delete now, and nothing deleted."""
    check_service_instance_id(si)
    now = time.time() if now is None else now
    if keep_last is None and keep_days is None:
        found = w.documents.get_doc(SCHEDULES, si)
        if found is None or not (found[0].get("KeepLast") or found[0].get("KeepDays")):
            raise NotFound(f"{si} has no retention rule; give KeepLast and/or KeepDays to try one")
        keep_last, keep_days = found[0].get("KeepLast"), found[0].get("KeepDays")
    rule = Retention(keep_last, keep_days)
    summaries = _candidates(w, si)
    by_id = {b.backup_id: b for b in summaries}
    doomed, locked = _unlocked(expired(summaries, rule, now), by_id, now)
    return {"ServiceInstanceId": si, "KeepLast": keep_last, "KeepDays": keep_days, "DryRun": True,
            "WouldDelete": [{"BackupId": b, "Status": by_id[b].status, "StartTime": iso_utc(by_id[b].started_epoch)}
                            for b in doomed],
            "KeptByLock": [{"BackupId": b, "Lock": by_id[b].lock} for b in locked],
            "Kept": len(summaries) - len(doomed)}


def _unlocked(doomed: list[str], by_id: dict[str, BackupSummary], now: float) -> tuple[list[str], list[str]]:
    """The rule's doomed backups split into those it deletes and those a lock keeps (each would answer 409)."""
    from ..decisions.locks import active
    locked = [b for b in doomed if active(by_id[b].lock, now)]
    return [b for b in doomed if b not in locked], locked


def apply_retention(w: Ports, si: str, rule: Retention, now: float) -> list[str]:
    """Delete what the rule no longer keeps; a locked backup counts as one the rule weighs but stays (its delete
    would be refused, 409 naming the lock)."""
    deleted = []
    summaries = _candidates(w, si)
    doomed, locked = _unlocked(expired(summaries, rule, now), {b.backup_id: b for b in summaries}, now)
    for backup_id in locked:
        logs.event("retention kept a locked backup", step="retention", record_id=backup_id)
    for backup_id in doomed:
        try:
            if delete_backup(w, backup_id, now, retry_refused=False)["Status"] == BackupStatus.DELETED:
                deleted.append(backup_id)
        except (Conflict, CloudError) as err:
            logs.event("retention delete deferred", step="retention", record_id=backup_id, reason=str(err))
    return deleted
