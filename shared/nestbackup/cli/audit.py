"""`nestbackup audit list`: the audit trail, newest first (admin token required)."""
from __future__ import annotations

import json

import click

from .arguments import api_options
from .client import ApiClient
from .output import table_lines


@click.group(short_help="Who changed what, with request ids (admin).")
def audit() -> None:
    """The audit trail: who created, restored, cancelled, deleted or changed what, with each request id."""


def _cells(entry: dict) -> list[str]:
    who = entry.get("Principal") or "(no valid token)"
    outcome = f"{entry['Status']}" + (f" {entry['ErrorCode']}" if entry.get("ErrorCode") else "")
    ids = " ".join(str(entry[k]) for k in ("ServiceInstanceId", "RecordId", "Tenant") if entry.get(k))
    return [entry["Time"], who, entry["Action"], outcome, ids or "-", entry["RequestId"]]


@audit.command("list", short_help="Entries newest first, with request ids.")
@click.option("--since", default=None, help="Only entries at or after this UTC time, e.g. 2026-12-06T00:00:00Z.")
@click.option("--instance", "service_instance", default=None, help="Only entries naming this service instance.")
@click.option("--action", default=None, help="Only this action, e.g. CreateBackup, CancelRestore, DeleteTenant.")
@click.option("--max-results", type=click.IntRange(1, 10000), default=50, show_default=True,
              help="How many entries to print at most (pages are followed).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object {Entries, NextToken?}.")
@api_options
def list_(since, service_instance, action, max_results, as_json, endpoint, token) -> None:
    """Entries newest first: time, principal, action, status and error code, the ids, the request id."""
    client = ApiClient(endpoint, token)
    entries: list[dict] = []
    next_token = None
    while len(entries) < max_results:
        page = client.call("GET", "/audit", query={"since": since, "serviceInstanceId": service_instance,
                                                   "action": action, "maxResults": min(100, max_results - len(entries)),
                                                   "nextToken": next_token})
        entries += page["Entries"]
        next_token = page.get("NextToken")
        if not next_token:
            break
    if as_json:
        click.echo(json.dumps({"Entries": entries} | ({"NextToken": next_token} if next_token else {})))
        return
    if not entries:
        click.echo("No audit entries match." if since or service_instance or action else "No audit entries yet.")
        return
    for line in table_lines(("TIME", "PRINCIPAL", "ACTION", "OUTCOME", "IDS", "REQUEST ID"), map(_cells, entries)):
        click.echo(line)
