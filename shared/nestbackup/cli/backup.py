"""`nestbackup backup create|list|show|describe|wait|delete|cancel`: the API, from a terminal."""
from __future__ import annotations

import sys

import click

from ..model.status import exit_code
from .arguments import api_options, confirm, yes_option
from .client import ApiClient
from .listing import list_command
from .records import describe_record, echo_record, engines, exit_on_failure
from .waiting import follow_and_report, wait_command


@click.group(short_help="Create, follow, list, inspect, delete backups.")
def backup() -> None:
    """Create, follow, inspect and delete backups of a service instance."""


@backup.command("create")
@click.option("--instance", "service_instance", required=True, help="Service instance id, e.g. si-0123abcd.")
@click.option("--description", default="", help="Free text kept with the record (≤ 256 characters).")
@click.option("--client-token", default=None, help="Idempotency token: the same token gives the same backup.")
@click.option("--wait", is_flag=True, help="Print the id, follow the backup until it ends; exit 3 if it failed, 4 if "
                                           "PartiallyCreated or Created with a copy that is not, 5 if cancelled "
                                           "(docs/statuses.md). "
                                           "Ctrl-C stops following, not the backup (re-attach: backup wait ID).")
@click.option("--copy-to", "copy_to", default=None, metavar="REGION",
              help="Also copy each disk's snapshot into this region (e.g. cn-shanghai); RDS is not copied per backup.")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def create(service_instance, description, client_token, wait, copy_to, as_json, endpoint, token) -> None:
    """Back up every disk and database of a service instance."""
    client = ApiClient(endpoint, token)
    body = {"ServiceInstanceId": service_instance, "Description": description}
    if client_token:
        body["ClientToken"] = client_token
    if copy_to:
        body["CopyToRegion"] = copy_to
    record = client.call("POST", "/backups", body)
    if wait:
        follow_and_report(client, record, as_json)
        return
    echo_record(record, as_json)
    exit_on_failure(record)          # a ClientToken may answer an earlier backup or restore that failed


backup.add_command(list_command("backups"))


@backup.command("show", short_help="One backup: each resource's status and cause.")
@click.argument("backup_id")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def show(backup_id, as_json, endpoint, token) -> None:
    """One backup record with every resource's status and failure cause."""
    echo_record(ApiClient(endpoint, token).call("GET", f"/backups/{backup_id}"), as_json)


def describe_command(kind: str) -> click.Command:
    """`backup describe` or `restore describe` (`kind` is "backups" or "restores")."""
    noun = kind[:-1]

    @click.command("describe", short_help="Its resources' times and its timeline.",
                   help=f"One {noun} with each resource's times and the record's timeline.")
    @click.argument("record_id", metavar=f"{noun.upper()}_ID")
    @click.option("--json", "as_json", is_flag=True, help="The record with an `Events` list, as one JSON object.")
    @api_options
    def describe(record_id: str, as_json: bool, endpoint: str, token: str | None) -> None:
        describe_record(ApiClient(endpoint, token), kind, record_id, as_json)
    return describe


backup.add_command(describe_command("backups"))
backup.add_command(wait_command("backups"))


@backup.command("delete", short_help="Delete its snapshots and backup sets (asks first).")
@click.argument("backup_id")
@yes_option
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def delete(backup_id, yes, as_json, endpoint, token) -> None:
    """Delete a backup's snapshots and RDS backup sets (the record stays, Deleted). Asks first unless --yes."""
    client = ApiClient(endpoint, token)
    if not yes:
        record = client.call("GET", f"/backups/{backup_id}")
        artifacts = sum(1 for item in record["Resources"] if item.get("ArtifactId"))
        confirm(yes, f"Delete backup {backup_id} of {record['ServiceInstanceId']} ({record['Status']}, "
                     f"{record['StartTime']}, {engines(record)}): its {artifacts} snapshot(s) and backup set(s) are "
                     f"gone for good?", f"refusing to delete {backup_id}")
    record = client.call("DELETE", f"/backups/{backup_id}")
    echo_record(record, as_json)
    if exit_code(record["Status"]):
        sys.exit(exit_code(record["Status"]))


@backup.command("cancel")
@click.argument("backup_id")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def cancel(backup_id, as_json, endpoint, token) -> None:
    """Stop a running backup and delete what it already made."""
    echo_record(ApiClient(endpoint, token).call("POST", f"/backups/{backup_id}/cancel"), as_json)


@backup.command("lock", short_help="Lock it until a time: nobody deletes it before (Compliance: not even the admin).")
@click.argument("backup_id")
@click.option("--mode", type=click.Choice(["Governance", "Compliance"]), required=True,
              help="Governance: the admin can lift it; Compliance: nobody can, and ECS locks its snapshots too.")
@click.option("--until", required=True, help="UTC time, e.g. 2027-01-31T00:00:00Z (extend a lock by giving a later "
                                             "one).")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def lock(backup_id, mode, until, as_json, endpoint, token) -> None:
    """Lock a Created or PartiallyCreated backup: deleting it, retention and a cancel are refused until then."""
    echo_record(ApiClient(endpoint, token).call("PUT", f"/backups/{backup_id}/lock", {"Mode": mode, "Until": until}),
                as_json)


@backup.command("unlock", short_help="Lift a Governance lock (admin), with a reason.")
@click.argument("backup_id")
@click.option("--reason", required=True, help="Why: kept on the record and in the audit trail.")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def unlock(backup_id, reason, as_json, endpoint, token) -> None:
    """Lift a backup's Governance lock (a Compliance lock cannot be lifted)."""
    echo_record(ApiClient(endpoint, token).call("DELETE", f"/backups/{backup_id}/lock", {"Reason": reason}),
                as_json)
