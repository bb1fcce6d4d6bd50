"""A record followed live on a terminal: one table of its resources (status, progress, elapsed time, artifact or
cause), redrawn in place until the record is final."""
from __future__ import annotations

import time
from datetime import datetime, timezone

from .client import FINAL, ApiClient, record_path

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
    phase = f" · phase {record['Phase']}" if record.get("Phase") else ""
    out = Table(title=f"{ident} · {record['Status']}{phase}", title_justify="left", expand=False)
    for column in ("resource", "type", "status", "progress", "elapsed", "artifact / cause"):
        out.add_column(column, justify="right" if column in ("progress", "elapsed") else "left")
    now = datetime.now(timezone.utc)
    for item in record.get("Resources", []):
        cause = f"{item['ErrorCode']}: {item.get('ErrorMessage') or ''}" if item.get("ErrorCode") else ""
        artifact = item.get("ArtifactId") or item.get("SourceArtifactId") or ""
        out.add_row(item["ResourceId"], item["ResourceType"], item["Status"], f"{item.get('Progress') or 0}%",
                    _elapsed(item, now), cause or artifact, style=STYLE.get(item["Status"]))
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
