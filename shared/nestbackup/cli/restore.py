"""`nestbackup restore create|list|show`: the API, from a terminal."""
from __future__ import annotations

import click

from .backup import api_options, describe_command, echo_record, exit_on_failure, wait_for
from .client import ApiClient
from .output import echo_rows


@click.group()
def restore() -> None:
    """Restore a service instance from a backup, and inspect restores."""


@restore.command("create")
@click.option("--backup", "backup_id", required=True, help="The backup to restore (it must have ended Created).")
@click.option("--no-safety-backup", is_flag=True, help="Skip the backup taken right before the restore.")
@click.option("--client-token", default=None, help="Idempotency token: the same token gives the same restore.")
@click.option("--wait", is_flag=True, help="Follow the restore until it ends; exit 3 if it failed, 5 if "
              "cancelled (docs/statuses.md).")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def create(backup_id, no_safety_backup, client_token, wait, as_json, endpoint, token) -> None:
    """Stop the instance, roll disks back, restore databases (live ones kept aside), start it again."""
    client = ApiClient(endpoint, token)
    body = {"BackupId": backup_id, "SafetyBackup": not no_safety_backup}
    if client_token:
        body["ClientToken"] = client_token
    record = client.call("POST", "/restores", body)
    if wait:
        record = wait_for(client, record, quiet=False)
    echo_record(record, as_json)
    exit_on_failure(record)


@restore.command("list")
@click.option("--instance", "service_instance", required=True)
@click.option("--max-results", default=20, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True)
@api_options
def list_(service_instance, max_results, as_json, endpoint, token) -> None:
    """Restores of a service instance, newest first."""
    page = ApiClient(endpoint, token).call("GET", "/restores", query={"serviceInstanceId": service_instance,
                                                                      "maxResults": max_results})
    echo_rows(page, as_json, "Restores", lambda record: f"{record['RestoreId']}  {record['Status']:<13} "
                                                      f"{record['Phase']:<18} from {record['BackupId']}  "
                                                      f"{record['StartTime']}")


@restore.command("show")
@click.argument("restore_id")
@click.option("--json", "as_json", is_flag=True)
@api_options
def show(restore_id, as_json, endpoint, token) -> None:
    """One restore record: every resource's status and failure cause, and its summary (verified or not, the safety
    backup, the live databases kept aside and how to drop them, the downtime)."""
    record = ApiClient(endpoint, token).call("GET", f"/restores/{restore_id}")
    echo_record(record, as_json)


restore.add_command(describe_command("restores"))


@restore.command("cancel")
@click.argument("restore_id")
@click.option("--json", "as_json", is_flag=True)
@api_options
def cancel(restore_id, as_json, endpoint, token) -> None:
    """Cancel a restore that has not touched data yet; the instance is started again."""
    record = ApiClient(endpoint, token).call("POST", f"/restores/{restore_id}/cancel")
    echo_record(record, as_json)
