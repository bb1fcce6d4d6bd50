"""A record's timeline: what happened to it and to each resource, and when. Pure: events are derived from the
documents before and after each write, so every step that changes a record is on its timeline without saying so.

Bounded by construction: a resource yields at most one event per status change, three progress milestones, one
per database state change and one per error; the record one per phase or status change. Readers take at most
MAX_EVENTS.
"""
from __future__ import annotations

from typing import Any

MAX_EVENTS = 1000
MILESTONES = (25, 50, 75)
FINAL_ITEM = ("Succeeded", "Failed", "Skipped")
MAX_DETAIL = 300


def _event(at: str, resource: str | None, what: str, detail: str = "", request_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"Time": at, "ResourceId": resource, "Event": what,
                           "Detail": " ".join(detail.split())[:MAX_DETAIL]}
    if request_id:
        out["RequestId"] = request_id
    return out


def stamp_times(before: dict[str, Any] | None, after: dict[str, Any], at: str) -> None:
    """Per-resource start and end: when the resource left Pending, and when it became final (kept from `before`
    while it stays final, for a writer whose copy predates the stamp)."""
    was = (before or {}).get("status", "Pending")
    now = after.get("status", "Pending")
    if now != "Pending" and not after.get("start_time"):
        after["start_time"] = (before or {}).get("start_time") or at
    if now in FINAL_ITEM and was not in FINAL_ITEM:
        after["end_time"] = at
    elif now in FINAL_ITEM and not after.get("end_time") and (before or {}).get("end_time"):
        after["end_time"] = (before or {})["end_time"]


def item_events(before: dict[str, Any] | None, after: dict[str, Any], at: str) -> list[dict[str, Any]]:
    rid = after.get("resource_id")
    was = before or {}
    out: list[dict[str, Any]] = []
    status, old = after.get("status"), was.get("status")
    artifact = (after.get("artifact_id") or after.get("group_id") or after.get("job_id")
                or after.get("source_artifact_id"))
    if before is None:
        out.append(_event(at, rid, "Planned", " ".join(x for x in (after.get("method"), after.get("engine"),
                                                                      f"from {artifact}" if artifact else "")
                                                       if x)))
    if status != old and status == "Running":
        detail = f"{after.get('method') or ''} {artifact or ''}".strip()
        out.append(_event(at, rid, "Started", f"the cloud accepted it: {detail}" if detail else "",
                          after.get("request_id")))
    if after.get("retried") and after.get("retried") != was.get("retried"):
        out.append(_event(at, rid, "Retried", after["retried"]))              # e.g. after Throttling.User
    if after.get("wait_reason") and after.get("wait_reason") != was.get("wait_reason"):
        out.append(_event(at, rid, "Waiting", after["wait_reason"]))          # e.g. an automatic backup runs
    if after.get("delete_refused") and after.get("delete_refused") != was.get("delete_refused"):
        out.append(_event(at, rid, "DeleteRefused", after["delete_refused"]))
    progress, old_progress = int(after.get("progress") or 0), int(was.get("progress") or 0)
    for mark in MILESTONES:
        if old_progress < mark <= progress and status == "Running":
            out.append(_event(at, rid, "Progress", f"{mark}%"))
    for db_after in after.get("databases") or []:
        if not isinstance(db_after, dict):
            continue
        db_before = next((d for d in was.get("databases") or [] if isinstance(d, dict)
                          and d.get("name") == db_after.get("name")), {})
        if db_after.get("state") != db_before.get("state") and db_after.get("state") not in (None, "Pending"):
            out.append(_event(at, rid, f"Database{db_after['state']}", _database_detail(db_after)))
    if status != old and status == "Succeeded":
        out.append(_event(at, rid, "Succeeded", f"{artifact}" if artifact else ""))
    if after.get("error_code") and (status != old or after.get("error_code") != was.get("error_code")):
        what = "Failed" if status == "Failed" else "Error"
        out.append(_event(at, rid, what, f"{after['error_code']}: {after.get('error_message') or ''}",
                          after.get("request_id")))
    if status != old and status == "Skipped":
        out.append(_event(at, rid, "Skipped", after.get("error_message") or ""))
    return out


def _database_detail(db: dict[str, Any]) -> str:
    state, name = db.get("state"), db.get("name")
    if state == "Restoring":
        return f"{name} restoring as {db.get('restored')}"
    if state == "Restored":
        return f"{name} restored as {db.get('restored')}"
    if state == "Renamed":
        return f"{db.get('restored')} renamed to {name}" + (f"; the live data is kept as {db.get('aside')}"
                                                           if db.get("aside_kept") else "")
    if state == "RolledBack":
        return f"{name} rolled back: the live data is in place again"
    return f"{name}: {state}"


def header_events(before: dict[str, Any] | None, after: dict[str, Any], at: str) -> list[dict[str, Any]]:
    was = before or {}
    out: list[dict[str, Any]] = []
    if before is None:
        kind = after.get("Kind", "record")
        out.append(_event(at, None, "Created", f"{kind} of {after.get('ServiceInstanceId')}"
                          + (f" from {after['BackupId']}" if kind == "restore" else "")))
    if after.get("Phase") and after.get("Phase") != was.get("Phase"):
        out.append(_event(at, None, "Phase", after["Phase"]))
    if after.get("Status") != was.get("Status") and before is not None:
        out.append(_event(at, None, after.get("Status", ""), after.get("StatusDetail") or ""))
    out += _quiesce_events(was.get("Quiesce") or {}, after.get("Quiesce") or {}, at)
    return out


def _quiesce_events(was: dict[str, Any], now: dict[str, Any], at: str) -> list[dict[str, Any]]:
    """Quiesce hooks: one event when the pre hooks have ended (Frozen), one when the post hooks have (Thawed)."""
    out: list[dict[str, Any]] = []
    for mark, phase, what in (("frozen_at", "Pre", "Frozen"), ("thaw_done", "Post", "Thawed")):
        if now.get(mark) and not was.get(mark):
            runs = [r for r in now.get("runs") or [] if r.get("phase") == phase]
            bad = [f"{r.get('instance_id')} {r.get('status')}" for r in runs if r.get("status") != "Success"]
            out.append(_event(at, None, what, f"{phase.lower()} hook ran on {len(runs)} instance(s)"
                              + (f"; did not succeed on {', '.join(bad)}" if bad else "")))
    return out
