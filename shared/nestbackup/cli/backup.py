"""`nestbackup backup create|list|show|describe|delete|cancel`: the API, from a terminal."""
from __future__ import annotations

import json
import sys
import time

import click

from ..model.status import NOT_CLEAN, ItemStatus, exit_code
from .client import FINAL, ApiClient, record_path
from .output import echo_rows

# Exit codes: per record status, as docs/statuses.md tabulates (model/status.exit_code); refused requests exit 1.


def api_options(fn):
    """--endpoint and --token on every command that calls the API."""
    fn = click.option("--token", envvar="NESTBACKUP_TOKEN", default=None,
                      help="Bearer token (or NESTBACKUP_TOKEN).")(fn)
    return click.option("--endpoint", envvar="NESTBACKUP_ENDPOINT", default="http://127.0.0.1:8900/api",
                        show_default=True, help="Base URL of the nestbackup API (or NESTBACKUP_ENDPOINT).")(fn)


def _line(item: dict) -> str:
    cause = f"  {item.get('ErrorCode')}: {item.get('ErrorMessage')}" if item.get("ErrorCode") else ""
    waits = f"  waiting: {item['WaitReason']}" if item.get("WaitReason") and not cause else ""
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


def print_record(record: dict) -> None:
    ident = record.get("RestoreId") or record["BackupId"]
    extra = f"  from {record['BackupId']}  phase {record['Phase']}" if "RestoreId" in record else ""
    click.echo(f"{ident}  {record['Status']}  {record['ServiceInstanceId']}  "
               f"{record['StartTime']} -> {record.get('EndTime') or '…'}{extra}")
    if record.get("StatusDetail"):
        click.echo(f"  {record['StatusDetail']}")
    if record.get("RestorableUntil"):
        click.echo(f"  restorable until {record['RestorableUntil']}")
    if record.get("RestorableReason"):
        click.echo(f"  not restorable: {record['RestorableReason']}")
    if record.get("Summary"):
        for text in summary_lines(record["Summary"]):
            click.echo(f"  {text}")
    elif record.get("DowntimeSeconds") is not None:
        click.echo(f"  instances stopped for {record['DowntimeSeconds']} s")
    if record.get("Cost"):
        click.echo(f"  cost {cost_line(record['Cost'])}")
    for left_out in record.get("NotProtected") or []:
        click.echo(f"  not protected: {left_out['ResourceType']} {left_out['ResourceId']} ({left_out['Reason']})")
    for item in record.get("Resources", []):
        click.echo(_line(item))


def echo_record(record: dict, as_json: bool) -> None:
    """A record as one JSON object, or as the human-readable lines."""
    click.echo(json.dumps(record)) if as_json else print_record(record)


def wait_for(client: ApiClient, record: dict, quiet: bool, interval: float = 1.0) -> dict:
    """Follow a backup or restore record until it is final: on a terminal a live table of its resources on stderr;
    otherwise one plain line per change (stable, for logs and scripts); nothing when quiet."""
    if not quiet and sys.stderr.isatty():
        from .live import follow
        return follow(client, record, interval)
    path = record_path(record)
    seen: dict[str, tuple] = {}
    phase = None
    while True:
        if not quiet and record.get("Phase") and record["Phase"] != phase:
            phase = record["Phase"]
            click.echo(f"  phase {phase}", err=True)
        for item in record.get("Resources", []):
            key = (item["Status"], item.get("Progress"))
            if not quiet and seen.get(item["ResourceId"]) != key:
                seen[item["ResourceId"]] = key
                click.echo(_line(item), err=True)
        if record["Status"] in FINAL:
            return record
        time.sleep(interval)
        record = client.call("GET", path)


@click.group()
def backup() -> None:
    """Create and inspect backups of a service instance."""


@backup.command("create")
@click.option("--instance", "service_instance", required=True, help="Service instance id.")
@click.option("--description", default="", help="Free text kept with the record (≤ 256 characters).")
@click.option("--client-token", default=None, help="Idempotency token: the same token gives the same backup.")
@click.option("--wait", is_flag=True, help="Follow the backup until it ends; exit 3 if it failed, 4 if "
              "PartiallyCreated, 5 if cancelled (docs/statuses.md).")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def create(service_instance, description, client_token, wait, as_json, endpoint, token) -> None:
    """Back up every disk and database of a service instance."""
    client = ApiClient(endpoint, token)
    body = {"ServiceInstanceId": service_instance, "Description": description}
    if client_token:
        body["ClientToken"] = client_token
    record = client.call("POST", "/backups", body)
    if wait:
        record = wait_for(client, record, quiet=False)
    echo_record(record, as_json)
    exit_on_failure(record)


def exit_on_failure(record: dict) -> None:
    """Exit with the record's status's code; for an ending that is not a plain success, its cause (root first, never
    cut) and each failed resource on stderr."""
    if any(record["Status"] == str(s) for s in NOT_CLEAN):
        if record.get("StatusDetail"):
            click.echo(f"nestbackup: {record['Status']}: {record['StatusDetail']}", err=True)
        for item in record.get("Resources", []):
            if item.get("Status") == "Failed":
                click.echo(f"nestbackup: {item['ResourceId']} failed: {item['ErrorCode']}: {item['ErrorMessage']}",
                           err=True)
    code = exit_code(record["Status"])
    if code:
        sys.exit(code)


@backup.command("list")
@click.option("--instance", "service_instance", required=True)
@click.option("--max-results", default=20, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True)
@api_options
def list_(service_instance, max_results, as_json, endpoint, token) -> None:
    """Backups of a service instance, newest first."""
    page = ApiClient(endpoint, token).call("GET", "/backups", query={"serviceInstanceId": service_instance,
                                                       "maxResults": max_results})
    echo_rows(page, as_json, "Backups", _backup_line)


def _backup_line(record: dict) -> str:
    failed = sum(1 for i in record["Resources"] if i["Status"] == str(ItemStatus.FAILED))
    until = f", restorable until {record['RestorableUntil']}" if record.get("RestorableUntil") else ""
    return (f"{record['BackupId']}  {record['Status']:<12} {record['StartTime']}  "
            f"{len(record['Resources'])} resources{f', {failed} failed' if failed else ''}{until}")


@backup.command("show")
@click.argument("backup_id")
@click.option("--json", "as_json", is_flag=True)
@api_options
def show(backup_id, as_json, endpoint, token) -> None:
    """One backup record with every resource's status and failure cause."""
    record = ApiClient(endpoint, token).call("GET", f"/backups/{backup_id}")
    echo_record(record, as_json)


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


def describe_command(kind: str) -> click.Command:
    """`backup describe` or `restore describe` (`kind` is "backups" or "restores")."""
    noun = kind[:-1]

    @click.command("describe", help=f"One {noun} with each resource's times and the record's timeline.")
    @click.argument("record_id", metavar=f"{noun.upper()}_ID")
    @click.option("--json", "as_json", is_flag=True, help="The record with an `Events` list, as one JSON object.")
    @api_options
    def describe(record_id: str, as_json: bool, endpoint: str, token: str | None) -> None:
        describe_record(ApiClient(endpoint, token), kind, record_id, as_json)
    return describe


backup.add_command(describe_command("backups"))


@backup.command("delete")
@click.argument("backup_id")
@click.option("--json", "as_json", is_flag=True)
@api_options
def delete(backup_id, as_json, endpoint, token) -> None:
    """Delete a backup's snapshots and RDS backup sets (the record stays, Deleted)."""
    record = ApiClient(endpoint, token).call("DELETE", f"/backups/{backup_id}")
    echo_record(record, as_json)
    if exit_code(record["Status"]):
        sys.exit(exit_code(record["Status"]))


@backup.command("cancel")
@click.argument("backup_id")
@click.option("--json", "as_json", is_flag=True)
@api_options
def cancel(backup_id, as_json, endpoint, token) -> None:
    """Stop a running backup and delete what it already made."""
    record = ApiClient(endpoint, token).call("POST", f"/backups/{backup_id}/cancel")
    echo_record(record, as_json)
