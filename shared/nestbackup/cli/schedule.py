"""`nestbackup schedule set|show|delete|retention`: scheduled backups and their retention, per service instance."""
from __future__ import annotations

import json
from urllib.parse import quote

import click

from .arguments import api_options, confirm, yes_option
from .client import ApiClient
from .output import table_lines

INSTANCE_HELP = "Service instance id (Compute Nest must know it)."
JSON_HELP = "Print one JSON object."


def _path(service_instance: str, leaf: str = "schedule") -> str:
    return f"/service-instances/{quote(service_instance, safe='')}/{leaf}"


def _print(schedule: dict) -> None:
    keep = ", ".join(f"{k} {schedule[k]}" for k in ("KeepLast", "KeepDays") if schedule.get(k)) or "keep all"
    click.echo(f"{schedule['ServiceInstanceId']}  cron '{schedule['Cron']}' (UTC)  {keep}  "
               f"{'enabled' if schedule['Enabled'] else 'disabled'}")
    if schedule.get("LockMode"):
        click.echo(f"  locks each backup ({schedule['LockMode']}) for {schedule['LockDays']} day(s)")
    if schedule.get("CopyToRegion"):
        click.echo(f"  copies each backup's disk snapshots into {schedule['CopyToRegion']}")
    click.echo(f"  next run   {schedule.get('NextRunTime') or '- (disabled)'}")
    if schedule.get("LastFireTime"):
        backup = schedule.get("LastBackupId")
        status = f" ({schedule['LastBackupStatus']})" if schedule.get("LastBackupStatus") else ""
        click.echo(f"  last run   {schedule['LastFireTime']}" + (f"  backup {backup}{status}" if backup else ""))
    else:
        click.echo("  last run   never (it has not fired since it was set)")
    if schedule.get("LastError"):
        click.echo(f"  last error {schedule.get('LastErrorTime') or ''}  {schedule['LastError']}")


@click.group(short_help="Scheduled backups and retention.")
def schedule() -> None:
    """Scheduled backups and retention of a service instance."""


@schedule.command("set", short_help="Create or replace the schedule.")
@click.option("--instance", "service_instance", required=True, help=INSTANCE_HELP)
@click.option("--cron", required=True, help="Five fields, UTC: minute hour day month weekday, e.g. '0 3 * * *'.")
@click.option("--keep-last", type=click.IntRange(1, 1000), default=None, help="Keep the newest N backups.")
@click.option("--keep-days", type=click.IntRange(1, 3650), default=None, help="Keep backups younger than N days.")
@click.option("--disabled", is_flag=True, help="Store the schedule but do not run it.")
@click.option("--lock-mode", type=click.Choice(["Governance", "Compliance"]), default=None,
              help="Lock every backup it takes (with --lock-days).")
@click.option("--lock-days", type=click.IntRange(1, 36500), default=None, help="For this many days from its start.")
@click.option("--copy-to", "copy_to", default=None, metavar="REGION",
              help="Copy each backup's disk snapshots into this region too.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@api_options
def set_(service_instance, cron, keep_last, keep_days, disabled, lock_mode, lock_days, copy_to, as_json, endpoint,
         token) -> None:
    """Create or replace the schedule (see what its retention would delete first: schedule retention)."""
    body = {"Cron": cron, "KeepLast": keep_last, "KeepDays": keep_days, "Enabled": not disabled}
    if lock_mode or lock_days:
        body |= {"LockMode": lock_mode, "LockDays": lock_days}
    if copy_to:
        body["CopyToRegion"] = copy_to
    out = ApiClient(endpoint, token).call("PUT", _path(service_instance), body)
    click.echo(json.dumps(out)) if as_json else _print(out)


@schedule.command("show", short_help="The schedule, its next run and its last run.")
@click.option("--instance", "service_instance", required=True, help=INSTANCE_HELP)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@api_options
def show(service_instance, as_json, endpoint, token) -> None:
    """The schedule, its retention rule, its next run, and its last real run with the backup it started."""
    out = ApiClient(endpoint, token).call("GET", _path(service_instance))
    click.echo(json.dumps(out)) if as_json else _print(out)


@schedule.command("retention")
@click.option("--instance", "service_instance", required=True, help=INSTANCE_HELP)
@click.option("--keep-last", type=click.IntRange(1, 1000), default=None,
              help="Try this rule instead of the schedule's (with or without --keep-days).")
@click.option("--keep-days", type=click.IntRange(1, 3650), default=None,
              help="Try this rule instead of the schedule's.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@api_options
def retention(service_instance, keep_last, keep_days, as_json, endpoint, token) -> None:
    """A dry run: the backups the retention rule would delete now. Nothing is deleted."""
    out = ApiClient(endpoint, token).call("GET", _path(service_instance, "retention"),
                                          query={"keepLast": keep_last, "keepDays": keep_days})
    if as_json:
        click.echo(json.dumps(out))
        return
    rule = ", ".join(f"{k} {out[k]}" for k in ("KeepLast", "KeepDays") if out.get(k))
    for kept in out.get("KeptByLock") or []:
        click.echo(f"kept by its lock: {kept['BackupId']} ({kept['Lock']['Mode']} until {kept['Lock']['Until']})")
    if not out["WouldDelete"]:
        click.echo(f"dry run ({rule}): nothing would be deleted; {out['Kept']} backup(s) kept")
        return
    click.echo(f"dry run ({rule}): {len(out['WouldDelete'])} backup(s) would be deleted, {out['Kept']} kept; "
               f"nothing was deleted")
    for line in table_lines(("BACKUP", "STATUS", "CREATED"),
                            ([b["BackupId"], b["Status"], b["StartTime"]] for b in out["WouldDelete"])):
        click.echo(line)


@schedule.command("delete")
@click.option("--instance", "service_instance", required=True, help=INSTANCE_HELP)
@yes_option
@api_options
def delete(service_instance, yes, endpoint, token) -> None:
    """Stop scheduled backups (existing backups are kept). Asks first unless --yes."""
    confirm(yes, f"Delete the schedule of {service_instance}? Its backups are kept.",
            f"refusing to delete the schedule of {service_instance}")
    out = ApiClient(endpoint, token).call("DELETE", _path(service_instance))
    click.echo(f"schedule of {out['ServiceInstanceId']} deleted")
