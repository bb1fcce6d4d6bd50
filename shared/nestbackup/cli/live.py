"""A record followed live on a terminal: one table of its resources (status, progress, elapsed time, artifact,
cause, or why it waits and by when), redrawn in place until the record is final. Ids are never cut: at 80 columns
the last column folds onto more lines instead."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from .client import FINAL, ApiClient, record_path
from .records import phase_text, waiting

STYLE = {"Succeeded": "green", "Failed": "red", "Running": "yellow", "Skipped": "dim", "NotStarted": "dim",
         "Cancelled": "dim", "RolledBack": "dim", "Deleted": "dim"}    # red only for a failure (docs/statuses.md)


def _elapsed(item: dict, now: datetime) -> str:
    if not item.get("StartTime"):
        return ""
    start = datetime.strptime(item["StartTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    end = datetime.strptime(item["EndTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) \
        if item.get("EndTime") else now
    seconds = max(0, int((end - start).total_seconds()))
    return f"{seconds // 60}:{seconds % 60:02d}"


def table(record: dict):
    from rich.table import Table
    ident = record.get("RestoreId") or record["BackupId"]
    phase = f" · phase {phase_text(record)}" if record.get("Phase") else ""
    out = Table(title=f"{ident} · {record['Status']}{phase}", title_justify="left", expand=False,
                box=None, pad_edge=False, padding=(0, 1), header_style="bold underline")
    items = record.get("Resources", [])
    widest = max((len(item["ResourceId"]) for item in items), default=8)
    widest_artifact = max((len(item.get("ArtifactId") or item.get("SourceArtifactId") or "") for item in items),
                          default=0)
    out.add_column("resource", no_wrap=True, min_width=widest)
    for column in ("type", "status", "done", "time"):        # short headers: the table fits 80 columns
        out.add_column(column, justify="right" if column in ("done", "time") else "left", no_wrap=True)
    out.add_column("detail", overflow="fold", min_width=widest_artifact)
    now = datetime.now(timezone.utc)
    for item in items:
        cause = f"{item['ErrorCode']}: {item.get('ErrorMessage') or ''}" if item.get("ErrorCode") else ""
        why = waiting(item)
        artifact = item.get("ArtifactId") or item.get("SourceArtifactId") or ""
        out.add_row(item["ResourceId"], item["ResourceType"], item["Status"], f"{item.get('Progress') or 0}%",
                    _elapsed(item, now), cause or (f"waiting: {why}" if why else artifact),
                    style=STYLE.get(item["Status"]))
    return out


def follow(client: ApiClient, record: dict, interval: float) -> dict:
    from rich.console import Console
    from rich.live import Live
    console = Console(stderr=True)
    with Live(table(record), console=console, refresh_per_second=4, transient=False) as live:
        while record["Status"] not in FINAL:
            time.sleep(interval)
            record = client.call("GET", record_path(record))
            live.update(table(record))
    return record
