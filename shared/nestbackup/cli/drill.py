"""`nestbackup drill create|list|show|wait|cancel` and `drill objectives`: prove a backup restores, from a terminal."""
from __future__ import annotations

import json
import sys
import time

import click

from ..model.status import DRILL_FINAL, exit_code
from .arguments import api_options
from .client import ApiClient
from .output import echo_rows

FINAL = {str(s) for s in DRILL_FINAL}
EXIT_INTERRUPTED = 130


@click.group(short_help="Prove a backup restores: drills and recovery objectives.")
def drill() -> None:
    """Restore every artifact of a backup into scratch resources beside the service, check it, remove it all; and
    the recovery point and time the drills and restores measured against the targets."""


def _line(item: dict) -> str:
    scratch = item.get("ScratchDiskId") or ", ".join(d["ScratchName"] for d in item.get("ScratchDatabases") or [])
    took = f"  {item['DurationSeconds']} s" if item.get("DurationSeconds") is not None else ""
    cause = f"  {item['ErrorCode']}: {item['ErrorMessage']}" if item.get("ErrorCode") else ""
    check = f"  {item['Verification']}" if item.get("Verification") and not cause else ""
    return (f"  {item['ResourceType']:<5} {item['ResourceId']:<28} {item['Status']:<10} {scratch or '-'}"
            f"{took}{check}{cause}")


def _echo(record: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(record))
        return
    click.echo(f"{record['DrillId']}  {record['Status']}  {record['ServiceInstanceId']}  of {record['BackupId']}  "
               f"{record['StartTime']} -> {record.get('EndTime') or '…'}")
    if record.get("StatusDetail"):
        click.echo(f"  {record['StatusDetail']}")
    if record.get("DurationSeconds") is not None:
        backup = f" (the backup took {record['BackupSeconds']} s)" if record.get("BackupSeconds") is not None else ""
        click.echo(f"  restored and checked in {record['DurationSeconds']} s{backup}")
    if record.get("CleanupPending"):
        click.echo(f"  scratch resources not removed yet: {', '.join(record['CleanupPending'])}")
    for item in record.get("Resources", []):
        click.echo(_line(item))


def _report(record: dict, as_json: bool) -> None:
    _echo(record, as_json)
    if record["Status"] == "Failed" and record.get("StatusDetail"):
        click.echo(f"nestbackup: Failed: {record['StatusDetail']}", err=True)
    code = exit_code(record["Status"], "drill")
    if code:
        sys.exit(code)


def _follow(client: ApiClient, record: dict, as_json: bool, interval: float = 1.0) -> None:
    ident = record["DrillId"]
    if record["Status"] not in FINAL:
        click.echo(f"drill {ident} of {record['BackupId']}: {record['Status']}; following it (Ctrl-C stops "
                   f"following, not the drill)", err=True)
    try:
        while record["Status"] not in FINAL:
            time.sleep(interval)
            record = client.call("GET", f"/drills/{ident}")
    except KeyboardInterrupt:
        click.echo(f"\nnestbackup: stopped following {ident}; the drill goes on. Follow it again: "
                   f"nestbackup drill wait {ident}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    _report(record, as_json)


@drill.command("create", short_help="Drill a backup: restore it into scratch, check it, remove it.")
@click.option("--backup", "backup_id", required=True, help="The backup to prove (Created or PartiallyCreated).")
@click.option("--wait", is_flag=True, help="Follow the drill until it ends; exit 3 if it failed, 5 if cancelled or "
                                           "preempted by a restore (docs/statuses.md).")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def create(backup_id, wait, as_json, endpoint, token) -> None:
    """Never stops an instance or touches live data; a restore of the same service instance preempts it."""
    client = ApiClient(endpoint, token)
    record = client.call("POST", "/drills", {"BackupId": backup_id})
    if wait:
        _follow(client, record, as_json)
        return
    _report(record, as_json)


@drill.command("list", short_help="Drills, newest first.")
@click.option("--instance", "service_instance", default=None, help="Only this service instance's drills.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@api_options
def list_drills(service_instance, as_json, endpoint, token) -> None:
    path = f"/drills?serviceInstanceId={service_instance}" if service_instance else "/drills"
    out = ApiClient(endpoint, token).call("GET", path)
    echo_rows(out, as_json, "Drills", ("DRILL", "STATUS", "INSTANCE", "BACKUP", "STARTED", "SECONDS"),
              lambda d: (d["DrillId"], d["Status"], d["ServiceInstanceId"], d["BackupId"], d["StartTime"],
                         "-" if d.get("DurationSeconds") is None else str(d["DurationSeconds"])), "no drills")


@drill.command("show", short_help="One drill: each resource's result and duration.")
@click.argument("drill_id")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def show(drill_id, as_json, endpoint, token) -> None:
    _echo(ApiClient(endpoint, token).call("GET", f"/drills/{drill_id}"), as_json)


@drill.command("wait", short_help="Follow a drill until it ends.")
@click.argument("drill_id")
@click.option("--json", "as_json", is_flag=True, help="Print the final record as one JSON object.")
@api_options
def wait(drill_id, as_json, endpoint, token) -> None:
    client = ApiClient(endpoint, token)
    _follow(client, client.call("GET", f"/drills/{drill_id}"), as_json)


@drill.command("cancel", short_help="Stop a drill (it removes what it made).")
@click.argument("drill_id")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def cancel(drill_id, as_json, endpoint, token) -> None:
    _echo(ApiClient(endpoint, token).call("POST", f"/drills/{drill_id}/cancel"), as_json)


@drill.command("objectives", short_help="Recovery point and time achieved against the targets; set the targets.")
@click.option("--instance", "service_instance", required=True, help="The service instance.")
@click.option("--rpo", "rpo_seconds", type=click.IntRange(60), default=None,
              help="Set the recovery point target: the newest drilled backup at most this old (seconds).")
@click.option("--rto", "rto_seconds", type=click.IntRange(1), default=None,
              help="Set the recovery time target: drills and restores within this long (seconds).")
@click.option("--drill-every", "every_days", type=click.IntRange(1, 365), default=None,
              help="Drill the latest backup every N days (the timer starts it).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@api_options
def objectives(service_instance, rpo_seconds, rto_seconds, every_days, as_json, endpoint, token) -> None:
    """Exit 4 when a target is breached."""
    client = ApiClient(endpoint, token)
    path = f"/service-instances/{service_instance}/recovery-objectives"
    targets = {"RecoveryPointSeconds": rpo_seconds, "RecoveryTimeSeconds": rto_seconds, "DrillEveryDays": every_days}
    if any(v is not None for v in targets.values()):
        current = client.call("GET", path).get("Targets") or {}
        out = client.call("PUT", path, {**current, **{k: v for k, v in targets.items() if v is not None}})
    else:
        out = client.call("GET", path)
    if as_json:
        click.echo(json.dumps(out))
    else:
        def age(v):
            return "none" if v is None else f"{v} s"
        click.echo(f"{service_instance}: recovery point {age(out['RecoveryPointSeconds'])} (newest backup "
                   f"{age(out['NewestBackupAgeSeconds'])}), recovery time {age(out['RecoveryTimeSeconds'])}; "
                   f"targets {out['Targets'] or 'none'}")
        for breach in out["Breaches"]:
            click.echo(f"  BREACHED {breach}")
    if out["Breached"]:
        sys.exit(4)
