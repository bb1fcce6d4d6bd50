"""`nestbackup admin catalog export|import`: nestbackup's own records as JSON lines, to keep a copy in another region
and to load it into a deployment there after losing the first (docs/operating.md, "Copies in another region")."""
from __future__ import annotations

import json
from typing import IO

import click

from .arguments import api_options
from .client import ApiClient
from .errors import CliError

BATCH_ENTRIES = 100                  # the API's most entries per import request
BATCH_BYTES = 1024 * 1024            # well under the API's 2 MiB body


@click.group(short_help="The deployment's own records (admin).")
def admin() -> None:
    """What the admin does to the deployment itself."""


@admin.group(short_help="Export or import every record, schedule and backup setting.")
def catalog() -> None:
    """The catalog: every backup, restore and drill record, the schedules and the backup settings."""


@catalog.command("export", short_help="Write the catalog as JSON lines.")
@click.option("--out", "out", type=click.File("w"), default="-", show_default=True,
              help="The file to write (- for standard output).")
@api_options
def export(out: IO[str], endpoint, token) -> None:
    """One JSON object a line: the records (header and items as stored), then the documents."""
    client = ApiClient(endpoint, token)
    next_token, count = None, 0
    while True:
        page = client.call("GET", "/admin/catalog", query={"maxResults": 100, "nextToken": next_token})
        for entry in page["Entries"]:
            out.write(json.dumps(entry, sort_keys=True) + "\n")
            count += 1
        next_token = page.get("NextToken")
        if not next_token:
            break
    if out.name != "<stdout>":
        click.echo(f"exported {count} entries to {out.name}")


@catalog.command("import", short_help="Load an export; what is already there is left as it is.")
@click.argument("file", type=click.File("r"))
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object {Created, AlreadyThere}.")
@api_options
def import_(file: IO[str], as_json, endpoint, token) -> None:
    """Create every record and document of FILE that this deployment lacks, with its id and status; run it again
    after a failure: nothing is overwritten or duplicated."""
    client = ApiClient(endpoint, token)
    created = kept = 0
    batch: list[str] = []

    def send() -> None:
        nonlocal created, kept
        if batch:
            answer = client.call("POST", "/admin/catalog", body={"Entries": [json.loads(line) for line in batch]})
            created, kept = created + answer["Created"], kept + answer["AlreadyThere"]
            batch.clear()

    for number, line in enumerate(file, 1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except ValueError:
            raise CliError(f"{file.name} line {number} is not JSON: not an export of nestbackup") from None
        if len(batch) >= BATCH_ENTRIES or sum(map(len, batch)) + len(line) > BATCH_BYTES:
            send()
        batch.append(line)
    send()
    if as_json:
        click.echo(json.dumps({"Created": created, "AlreadyThere": kept}))
        return
    click.echo(f"imported {created} entries; {kept} were already there and were left as they were")
