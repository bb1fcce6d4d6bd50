"""`backup list` and `restore list`: one instance's records or every instance's, filtered by status and time, all
the pages needed for --max-results (or --all), as a table with a header row, or one JSON object."""
from __future__ import annotations

import json
from typing import Callable, Sequence

import click

from ..model.status import BackupStatus, RestoreStatus
from .arguments import api_options, utc_or_age
from .client import ApiClient
from .output import table_lines
from .records import engines


def _backup_cells(record: dict, across: bool) -> list[str]:
    where = [record["ServiceInstanceId"]] if across else []
    origin = (record.get("Origin") or "user") + (" (partial)" if record.get("Scope") == "partial" else "")
    return [record["BackupId"], *where, record["Status"], origin, record["StartTime"],
            engines(record), record.get("Description") or ""]


def _restore_cells(record: dict, across: bool) -> list[str]:
    where = [record["ServiceInstanceId"]] if across else []
    return [record["RestoreId"], *where, record["Status"], record["Phase"], record["BackupId"], record["StartTime"]]


HEADERS = {"backups": ("BACKUP", "STATUS", "ORIGIN", "CREATED", "ENGINES", "DESCRIPTION"),
           "restores": ("RESTORE", "STATUS", "PHASE", "FROM BACKUP", "CREATED")}
CELLS: dict[str, Callable[[dict, bool], Sequence[str]]] = {"backups": _backup_cells, "restores": _restore_cells}


def fetch(client: ApiClient, kind: str, query: dict, wanted: int | None) -> tuple[list[dict], str | None]:
    """Records following NextToken until `wanted` (None: all) are in hand; and the token to go on from."""
    key = kind.capitalize()
    out: list[dict] = []
    token = query.pop("nextToken", None)
    while wanted is None or len(out) < wanted:
        size = 100 if wanted is None else min(100, wanted - len(out))
        page = client.call("GET", f"/{kind}", query={**query, "maxResults": size, "nextToken": token})
        out += page[key]
        token = page.get("NextToken")
        if not token:
            break
    return out, token


def _empty(kind: str, instance: str | None, filtered: bool) -> str:
    noun = kind[:-1]
    if filtered:
        return f"No {kind} match these filters" + (f" for {instance}." if instance else ".")
    if instance:
        start = (f"nestbackup backup create --instance {instance}" if noun == "backup" else
                 f"nestbackup restore create --backup BACKUP_ID (see: nestbackup backup list --instance {instance})")
        return f"No {kind} of {instance} yet. Start one: {start}"
    return f"No {kind} yet."


def list_command(kind: str) -> click.Command:
    """`backup list` or `restore list` (`kind` is "backups" or "restores")."""
    statuses = ", ".join(str(s) for s in (BackupStatus if kind == "backups" else RestoreStatus))

    @click.command("list", short_help=f"{kind.capitalize()}, newest first: filters, paging, every instance.",
                   help=f"{kind.capitalize()}, newest first: of one service instance, or of every instance "
                                f"you may see (the admin token: all, with an INSTANCE column). Filters combine.")
    @click.option("--instance", "service_instance", default=None,
                  help="Only this service instance's (an instance nothing knows is an error, not an empty list).")
    @click.option("--status", "status", multiple=True,
                  help=f"Only this status; repeat or comma-separate for several: {statuses}.")
    @click.option("--since", default=None, help="Only those created at or after: a UTC time "
                                                "(2026-12-06T04:00:00Z), a date (2026-12-06) or an age (90m, 12h, 7d).")
    @click.option("--until", default=None, help="Only those created at or before (same forms as --since).")
    @click.option("--max-results", type=click.IntRange(1, 100000), default=20, show_default=True,
                  help="Print at most this many (pages of 100 are followed).")
    @click.option("--all", "everything", is_flag=True, help="Print every match (follow every page).")
    @click.option("--next-token", default=None, help="Start after this NextToken (from a --json listing).")
    @click.option("--json", "as_json", is_flag=True,
                  help=f"Print one JSON object {{{kind.capitalize()}: [...], NextToken}}; NextToken is null when "
                       f"nothing more matches.")
    @api_options
    def list_(service_instance, status, since, until, max_results, everything, next_token, as_json, endpoint,
              token) -> None:
        wanted_statuses = ",".join(part.strip() for value in status for part in value.split(",") if part.strip())
        query = {"serviceInstanceId": service_instance, "status": wanted_statuses or None,
                 "since": utc_or_age(since, "--since"), "until": utc_or_age(until, "--until"),
                 "nextToken": next_token}
        records, more = fetch(ApiClient(endpoint, token), kind, query, None if everything else max_results)
        if as_json:
            click.echo(json.dumps({kind.capitalize(): records, "NextToken": more}))
            return
        if not records:
            click.echo(_empty(kind, service_instance, bool(wanted_statuses or since or until or next_token)))
            return
        across = service_instance is None
        headers = list(HEADERS[kind])
        if across:
            headers.insert(1, "INSTANCE")
        for line in table_lines(headers, (CELLS[kind](r, across) for r in records)):
            click.echo(line)
        if more:
            click.echo(f"({len(records)} shown; there are more: --max-results {2 * max_results}, --all, or "
                       f"--next-token {more})", err=True)
    return list_
