"""Following a backup or restore until it is final (`create --wait`, `backup wait`, `restore wait`): its id first,
then its progress, each waiting resource's reason and deadline; Ctrl-C stops the following, never the operation,
and says how to follow it again."""
from __future__ import annotations

import sys
import time

import click

from .arguments import api_options
from .client import FINAL, ApiClient, record_path
from .records import echo_record, exit_on_failure, item_line, phase_text

EXIT_INTERRUPTED = 130      # as a shell reports a command stopped by SIGINT


def _noun(record: dict) -> str:
    return "restore" if "RestoreId" in record else "backup"


def _ident(record: dict) -> str:
    return record.get("RestoreId") or record["BackupId"]


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
            click.echo(f"  phase {phase_text(record)}", err=True)
        for item in record.get("Resources", []):
            key = (item["Status"], item.get("Progress"), item.get("WaitReason"))
            if not quiet and seen.get(item["ResourceId"]) != key:
                seen[item["ResourceId"]] = key
                click.echo(item_line(item), err=True)
        if record["Status"] in FINAL:
            return record
        time.sleep(interval)
        record = client.call("GET", path)


def follow_and_report(client: ApiClient, record: dict, as_json: bool) -> None:
    """The id first (stderr, so --json keeps stdout one object), the following, then the final record and its exit
    code; on Ctrl-C a line that the operation goes on and how to follow it, exit 130."""
    noun, ident = _noun(record), _ident(record)
    if record["Status"] not in FINAL:
        click.echo(f"{noun} {ident} of {record['ServiceInstanceId']}: {record['Status']}; following it "
                   f"(Ctrl-C stops following, not the {noun})", err=True)
        try:
            record = wait_for(client, record, quiet=False)
        except KeyboardInterrupt:
            click.echo(f"\nnestbackup: stopped following {ident}; the {noun} goes on in the cloud. Follow it again: "
                       f"nestbackup {noun} wait {ident}  (or stop it: nestbackup {noun} cancel {ident})", err=True)
            sys.exit(EXIT_INTERRUPTED)
    echo_record(record, as_json)
    exit_on_failure(record)


def wait_command(kind: str) -> click.Command:
    """`backup wait` or `restore wait` (`kind` is "backups" or "restores"): re-attach to a running operation."""
    noun = kind[:-1]

    @click.command("wait", short_help=f"Follow a {noun} until it ends (re-attach after Ctrl-C).",
                   help=f"Follow a {noun} until it ends (again, e.g. after Ctrl-C stopped a --wait), then "
                                f"print it; exit 3 if it failed. A final {noun} is printed at once.")
    @click.argument("record_id", metavar=f"{noun.upper()}_ID")
    @click.option("--json", "as_json", is_flag=True, help="Print the final record as one JSON object.")
    @api_options
    def wait(record_id: str, as_json: bool, endpoint: str, token: str | None) -> None:
        client = ApiClient(endpoint, token)
        follow_and_report(client, client.call("GET", f"/{kind}/{record_id}"), as_json)
    return wait
