"""How a backup or restore record reads on a terminal: its lines (`show`), its timeline (`describe`), a listing's
cells, and the exit code a final record gives."""
from __future__ import annotations

import json
import sys
from collections import Counter

import click

from ..model.status import EXIT_WITH_ISSUES, NOT_CLEAN, BackupStatus, ItemStatus, exit_code
from .client import ApiClient

# Exit codes: per record status, as docs/statuses.md tabulates (model/status.exit_code); refused requests exit 1.


def waiting(item: dict) -> str:
    """Why a resource has not started, and by when it must (where the record says), or ""."""
    if item.get("ErrorCode") or item.get("Status") not in ("Pending", "Running"):
        return ""
    reason = item.get("WaitReason") or ""
    deadline = f"must start by {item['WaitDeadline']}" if item.get("WaitDeadline") and item["Status"] == "Pending" \
        else ""
    return "; ".join(part for part in (reason, deadline) if part)


def phase_text(record: dict) -> str:
    """A restore's phase, and when it stops waiting on the cloud where the record says."""
    deadline = f" (gives up at {record['PhaseDeadline']})" if record.get("PhaseDeadline") else ""
    return f"{record['Phase']}{deadline}"


def item_line(item: dict) -> str:
    cause = f"  {item.get('ErrorCode')}: {item.get('ErrorMessage')}" if item.get("ErrorCode") else ""
    why = waiting(item)
    waits = f"  waiting: {why}" if why else ""
    expires = f"  expires {item['ExpiresAt']}" if item.get("ExpiresAt") else ""
    unusable = f"  not restorable: {item.get('RestorableReason')}" if item.get("Restorable") is False else ""
    artifact = item.get("ArtifactId") or item.get("SourceArtifactId") or "-"
    return (f"  {item['ResourceType']:<5} {item['ResourceId']:<28} {item['Status']:<10} "
            f"{item.get('Progress') or 0:>3}%  {artifact}{cause}{waits}{expires}{unusable}")


def cost_line(cost: dict) -> str:
    calls = sum((cost.get("Calls") or {}).values())
    return (f"~${cost.get('TotalUSD', 0):.4f}: {calls} cloud calls, {cost.get('FlowTransitions', 0)} flow transitions, "
            f"{cost.get('Invocations', 0)} invocations ({cost.get('GbSeconds', 0):.1f} GB-s), "
            f"{(cost.get('BytesCreated') or 0) / 2**30:.2f} GiB created")


def summary_lines(summary: dict) -> list[str]:
    """A restore's summary: verified or not, the safety backup, what was kept aside (and how to drop it), downtime."""
    checks = summary.get("Checks") or {}
    verified = {True: "verified", False: "NOT verified", None: "not verified (nothing could be checked)"}[
        summary.get("Verified")]
    out = [f"{verified}: {checks.get('Passed', 0)} passed, {checks.get('Failed', 0)} failed, "
           f"{checks.get('NotChecked', 0)} not checked"]
    if summary.get("SafetyBackupId"):
        out.append(f"safety backup {summary['SafetyBackupId']} (restore it to undo this restore)")
    for kept in summary.get("KeptAside") or []:
        out.append(f"live {kept['Database']} on {kept['ResourceId']} kept aside as {kept['AsideName']}; drop it when "
                   f"satisfied: {kept['Drop']}")
    for copy in summary.get("RestoredCopies") or []:
        out.append(f"restored copy of {copy['Database']} on {copy['ResourceId']} left as {copy['CopyName']}; drop "
                   f"it when not needed: {copy['Drop']}")
    if summary.get("DowntimeSeconds") is not None:
        out.append(f"instances stopped for {summary['DowntimeSeconds']} s")
    return out


def selection_text(selection: dict) -> str:
    """A selective restore's selection in one line."""
    parts = list(selection.get("Resources") or [])
    parts += [f"{rds}:{name}" for rds, names in (selection.get("Databases") or {}).items() for name in names]
    kept = selection.get("GroupsKeptTogether") or {}
    together = f"; with their snapshot group: {', '.join(kept)}" if kept else ""
    apart = selection.get("GroupsSplit") or {}
    split = f"; restored apart from their snapshot group: {', '.join(apart)}" if apart else ""
    return ", ".join(parts) + together + split


def print_record(record: dict) -> None:
    ident = record.get("RestoreId") or record["BackupId"]
    source = f"from {record['BackupId']}" if record.get("BackupId") else f"to {record.get('RestoreTime')}"
    extra = f"  {source}  phase {phase_text(record)}" if "RestoreId" in record else ""
    click.echo(f"{ident}  {record['Status']}  {record['ServiceInstanceId']}  "
               f"{record['StartTime']} -> {record.get('EndTime') or '…'}{extra}")
    origin = record.get("Origin") or "user"
    if record.get("Undoes"):
        click.echo(f"  undo of {record['Undoes']}")
    elif record.get("Description") or origin != "user":
        click.echo(f"  {origin}: {record.get('Description') or '(no description)'}")
    if record.get("StatusDetail"):
        click.echo(f"  {record['StatusDetail']}")
    if record.get("Scope") == "partial":
        click.echo("  partial: covers some of the service instance's resources")
    if record.get("Selection"):
        click.echo(f"  selective: {selection_text(record['Selection'])}")
    if record.get("RestorableUntil"):
        click.echo(f"  restorable until {record['RestorableUntil']}")
    if record.get("RestorableReason"):
        click.echo(f"  not restorable: {record['RestorableReason']}")
    if record.get("UndoableUntil"):
        changed = record.get("ChangedSince")
        click.echo(f"  undoable until {record['UndoableUntil']}: nestbackup restore undo {ident}" +
                   (f" --yes (changed since: {'; '.join(changed)})" if changed else ""))
    if record.get("UndoSnapshotSeconds") is not None:
        click.echo(f"  {record['UndoSnapshotSeconds']} s of the downtime took the snapshots at the stop an undo needs")
    if record.get("Summary"):
        for text in summary_lines(record["Summary"]):
            click.echo(f"  {text}")
    elif record.get("DowntimeSeconds") is not None:
        click.echo(f"  instances stopped for {record['DowntimeSeconds']} s")
    if record.get("Cost"):
        click.echo(f"  cost {cost_line(record['Cost'])}")
    if record.get("Lock"):
        click.echo(f"  {lock_line(record['Lock'])}")
    for text in quiesce_lines(record):
        click.echo(f"  {text}")
    for left_out in record.get("NotProtected") or []:
        click.echo(f"  not protected: {left_out['ResourceType']} {left_out['ResourceId']} ({left_out['Reason']})")
    for item in record.get("Resources", []):
        click.echo(item_line(item))


def lock_line(lock: dict) -> str:
    """`locked (Compliance) until …`, what the cloud locks, or who lifted it and why."""
    if lock.get("Lifted"):
        lifted = lock["Lifted"]
        return f"lock ({lock['Mode']}) lifted by {lifted['By']} at {lifted['At']}: {lifted['Reason']}"
    said = {"Locked": f"; ECS locks its snapshots until {lock.get('CloudLockedUntil')}",
            "Pending": "; its snapshots' ECS lock is pending",
            "Failed": "; ECS did not lock some snapshots yet (the sweeper tries again)"}
    cloud = said.get(lock.get("CloudLock") or "", "")
    note = f"; {lock['NotLockedInCloud']}" if lock.get("NotLockedInCloud") else ""
    return f"locked ({lock['Mode']}) until {lock['Until']}{cloud}{note}"


def quiesce_lines(record: dict) -> list[str]:
    """A hooked backup: its moment, how long the instances were frozen, each hook run that did not succeed."""
    if "Hooks" not in record:
        return []
    frozen = f", frozen {record['FrozenSeconds']} s" if record.get("FrozenSeconds") is not None else ""
    if record.get("ConsistentAt"):
        out = [f"consistent at {record['ConsistentAt']} ({len(record.get('AtConsistentMoment') or [])} disks"
               f"{frozen})"]
    else:
        out = [f"{record.get('Consistency') or 'CrashConsistent'}{frozen}"]
    if record.get("ConsistencyDetail"):
        out.append(record["ConsistencyDetail"])
    out += [f"{run['Hook'].lower()} hook on {run['InstanceId']}: {run['Status']} (exit {run['ExitCode']})"
            for run in record["Hooks"] if run["Status"] != "Success"]
    return out


def echo_record(record: dict, as_json: bool) -> None:
    """A record as one JSON object, or as the human-readable lines."""
    click.echo(json.dumps(record)) if as_json else print_record(record)


def exit_on_failure(record: dict) -> None:
    """Exit with the record's status's code; for an ending that is not a plain success, its cause (root first, never
    cut) and each failed resource on stderr."""
    if any(record["Status"] == str(s) for s in NOT_CLEAN):
        if record.get("StatusDetail"):
            click.echo(f"nestbackup: {record['Status']}: {record['StatusDetail']}", err=True)
        for item in record.get("Resources", []):
            if item.get("Status") == str(ItemStatus.FAILED):
                click.echo(f"nestbackup: {item['ResourceId']} failed: {item['ErrorCode']}: {item['ErrorMessage']}",
                           err=True)
    code = exit_code(record["Status"])
    copies = record.get("CopyStatus")
    if not code and record["Status"] == str(BackupStatus.CREATED) and copies and copies != str(BackupStatus.CREATED):
        click.echo(f"nestbackup: the backup is Created but its copy in {record.get('CopyToRegion')} is {copies}",
                   err=True)
        for item in record.get("Resources", []):
            for copy in item.get("Copies") or []:
                if copy.get("Status") == str(ItemStatus.FAILED):
                    click.echo(f"nestbackup: the copy of {item['ResourceId']} failed: {copy['ErrorCode']}: "
                               f"{copy['ErrorMessage']}", err=True)
        code = EXIT_WITH_ISSUES
    if code:
        sys.exit(code)


def engines(record: dict) -> str:
    """What a backup holds, by engine: "2 disks, MySQL, PostgreSQL (1 failed)" (resources deliberately skipped left
    out)."""
    kinds = Counter("disk" if item["ResourceType"] == "disk" else (item.get("Engine") or item["ResourceType"])
                    for item in record.get("Resources", []) if item["Status"] != "Skipped")
    def label(kind: str, n: int) -> str:
        if kind == "disk":
            return f"{n} disk" + ("s" if n > 1 else "")
        return kind if n == 1 else f"{n} {kind}"
    failed = sum(1 for item in record.get("Resources", []) if item["Status"] == str(ItemStatus.FAILED))
    held = ", ".join(label(kind, n) for kind, n in sorted(kinds.items(), key=lambda kv: (kv[0] != "disk", kv[0])))
    return (held or "-") + (f" ({failed} failed)" if failed else "")


def describe_record(client: ApiClient, kind: str, record_id: str, as_json: bool) -> None:
    """A record, each resource's start and end, and its timeline (what happened, in order)."""
    record = client.call("GET", f"/{kind}/{record_id}")
    events = client.call("GET", f"/{kind}/{record_id}/events")["Events"]
    if as_json:
        click.echo(json.dumps({**record, "Events": events}))
        return
    print_record(record)
    click.echo("Resources:")
    for item in record.get("Resources", []):
        click.echo(f"  {item['ResourceId']:<28} {item['Status']:<10} {item.get('StartTime') or '-':<20} -> "
                   f"{item.get('EndTime') or '…'}")
    click.echo("Timeline:")
    for event in events:
        where = f" {event['ResourceId']}" if event.get("ResourceId") else ""
        detail = f"  {event['Detail']}" if event.get("Detail") else ""
        request = f"  (RequestId {event['RequestId']})" if event.get("RequestId") else ""
        click.echo(f"  {event['Time']}{where}  {event['Event']}{detail}{request}")
