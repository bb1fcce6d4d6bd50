"""`nestbackup restore create|list|show|describe|wait|cancel`: the API, from a terminal."""
from __future__ import annotations

import json

import click

from .arguments import api_options
from .backup import describe_command
from .client import ApiClient
from .listing import list_command
from .records import echo_record, exit_on_failure
from .waiting import follow_and_report, wait_command


@click.group(short_help="Restore from a backup; follow, list restores.")
def restore() -> None:
    """Restore a service instance from a backup, and follow and inspect restores."""


@restore.command("create", short_help="Restore a service instance from a backup, or its databases to a second.")
@click.option("--backup", "backup_id", default=None, help="The backup to restore (it must have ended Created).")
@click.option("--instance", "service_instance_id", default=None,
              help="With --time: the service instance whose databases go back to that second.")
@click.option("--time", "restore_time", default=None,
              help="With --instance: the UTC second to restore the databases to, e.g. 2026-12-06T14:05:00Z "
                   "(see: restore window SI).")
@click.option("--database", "databases", multiple=True, metavar="RDSID:NAME",
              help="With --time: only this database (repeatable); default every database of every RDS instance.")
@click.option("--no-safety-backup", is_flag=True, help="Skip the backup taken right before the restore.")
@click.option("--client-token", default=None, help="Idempotency token: the same token gives the same restore.")
@click.option("--wait", is_flag=True, help="Print the id, follow the restore until it ends; exit 3 if it failed, 5 if "
                                           "cancelled (docs/statuses.md). "
                                           "Ctrl-C stops following, not the restore (re-attach: restore wait ID).")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def create(backup_id, service_instance_id, restore_time, databases, no_safety_backup, client_token, wait, as_json,
           endpoint, token) -> None:
    """Stop the instance, roll disks back, restore databases (live ones kept aside), start it again. With --instance
    and --time: only databases, as they were at that second (RDS point-in-time restore); nothing is stopped."""
    client = ApiClient(endpoint, token)
    body = _request(backup_id, service_instance_id, restore_time, databases)
    body["SafetyBackup"] = not no_safety_backup
    if client_token:
        body["ClientToken"] = client_token
    record = client.call("POST", "/restores", body)
    if wait:
        follow_and_report(client, record, as_json)
        return
    echo_record(record, as_json)
    exit_on_failure(record)          # a ClientToken may answer an earlier backup or restore that failed


def _request(backup_id, service_instance_id, restore_time, databases) -> dict:
    """The restore's source: a backup, or a service instance and a second (with its databases, if named)."""
    if backup_id and (service_instance_id or restore_time):
        raise click.UsageError("give --backup, or --instance with --time, not both")
    if backup_id:
        if databases:
            raise click.UsageError("--database goes with --instance and --time")
        return {"BackupId": backup_id}
    if not service_instance_id or not restore_time:
        raise click.UsageError("give --backup, or --instance with --time")
    body: dict = {"ServiceInstanceId": service_instance_id, "RestoreTime": restore_time}
    if databases:
        chosen: dict[str, list[str]] = {}
        for spec in databases:
            rds_id, _, name = spec.partition(":")
            if not rds_id or not name:
                raise click.UsageError(f"--database {spec!r}: use RDSID:NAME")
            chosen.setdefault(rds_id, []).append(name)
        body["Databases"] = chosen
    return body


@restore.command("window", short_help="Per RDS instance, the seconds a point-in-time restore can bring back.")
@click.argument("service_instance_id")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@api_options
def window(service_instance_id, as_json, endpoint, token) -> None:
    """The first and last second each RDS instance of the service instance can be restored to, or why none."""
    answer = ApiClient(endpoint, token).call("GET", f"/service-instances/{service_instance_id}/restore-window")
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    for inst in answer.get("DBInstances") or []:
        where = (f"{inst.get('EarliestRestoreTime')} .. {inst.get('LatestRestoreTime')}"
                 if inst.get("EarliestRestoreTime") else "restorable" if inst.get("Restorable") else
                 "not restorable to a second")
        why = inst.get("Reason") or ""
        click.echo(f"{inst['DBInstanceId']}  {inst.get('Engine', '')}  {where}{'  (' + why + ')' if why else ''}")
    if not answer.get("DBInstances"):
        click.echo(f"{service_instance_id} has no RDS instance")


restore.add_command(list_command("restores"))


@restore.command("show", short_help="One restore: each resource's status and cause.")
@click.argument("restore_id")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def show(restore_id, as_json, endpoint, token) -> None:
    """One restore record: every resource's status and failure cause, and its summary (verified or not, the safety
    backup, the live databases kept aside and how to drop them, the downtime)."""
    record = ApiClient(endpoint, token).call("GET", f"/restores/{restore_id}")
    echo_record(record, as_json)


restore.add_command(describe_command("restores"))
restore.add_command(wait_command("restores"))


@restore.command("cancel", short_help="Cancel a restore before it touches data.")
@click.argument("restore_id")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def cancel(restore_id, as_json, endpoint, token) -> None:
    """Cancel a restore that has not touched data yet; the instance is started again."""
    echo_record(ApiClient(endpoint, token).call("POST", f"/restores/{restore_id}/cancel"), as_json)
