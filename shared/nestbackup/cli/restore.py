"""`nestbackup restore create|list|show|describe|wait|cancel`: the API, from a terminal."""
from __future__ import annotations

import click

from .arguments import api_options, confirm, yes_option
from .backup import describe_command
from .client import ApiClient
from .errors import CliError
from .listing import list_command
from .records import echo_record, exit_on_failure
from .waiting import follow_and_report, wait_command


@click.group(short_help="Restore from a backup; follow, list restores.")
def restore() -> None:
    """Restore a service instance from a backup, and follow and inspect restores."""


@restore.command("create", short_help="Restore a service instance from a backup.")
@click.option("--backup", "backup_id", required=True, help="The backup to restore (it must have ended Created).")
@click.option("--no-safety-backup", is_flag=True, help="Skip the backup taken right before the restore.")
@click.option("--client-token", default=None, help="Idempotency token: the same token gives the same restore.")
@click.option("--wait", is_flag=True, help="Print the id, follow the restore until it ends; exit 3 if it failed, 5 if "
                                           "cancelled (docs/statuses.md). "
                                           "Ctrl-C stops following, not the restore (re-attach: restore wait ID).")
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
        follow_and_report(client, record, as_json)
        return
    echo_record(record, as_json)
    exit_on_failure(record)          # a ClientToken may answer an earlier backup or restore that failed


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


@restore.command("undo", short_help="Put the service instance back as it was just before a restore.")
@click.argument("restore_id")
@yes_option
@click.option("--client-token", default=None, help="Idempotency token: the same token gives the same undo.")
@click.option("--wait", is_flag=True, help="Print the id, follow the undo until it ends; exit 3 if it failed, 5 if "
                                           "cancelled (docs/statuses.md).")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def undo(restore_id, yes, client_token, wait, as_json, endpoint, token) -> None:
    """Swap the databases the restore replaced back from the copies it kept aside, and reset the disks it reset to
    the snapshots taken at its stop. The undo is a restore record of its own (and can be undone). When the service
    instance changed since the restore, it is refused (naming what changed) unless --yes."""
    client = ApiClient(endpoint, token)
    body: dict = {"Confirm": yes}
    if client_token:
        body["ClientToken"] = client_token
    try:
        record = client.call("POST", f"/restores/{restore_id}/undo", body)
    except CliError as err:
        if yes or "Confirm: true" not in str(err):
            raise
        # changed since the restore: the person at the terminal decides (a script must say --yes)
        confirm(False, f"{err.message}\nUndo anyway?", f"{err.message}; an undo")
        record = client.call("POST", f"/restores/{restore_id}/undo", {**body, "Confirm": True})
    if wait:
        follow_and_report(client, record, as_json)
        return
    echo_record(record, as_json)
    exit_on_failure(record)
