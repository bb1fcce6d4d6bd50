"""`nestbackup schedule set|show|delete`: scheduled backups and their retention, per service instance."""
from __future__ import annotations

import json
from urllib.parse import quote

import click

from .backup import api_options
from .client import ApiClient


def _print(schedule: dict) -> None:
    keep = ", ".join(f"{k} {schedule[k]}" for k in ("KeepLast", "KeepDays") if schedule.get(k)) or "keep all"
    click.echo(f"{schedule['ServiceInstanceId']}  cron '{schedule['Cron']}' (UTC)  {keep}  "
               f"{'enabled' if schedule['Enabled'] else 'disabled'}  last fired {schedule['LastFireTime'] or '-'}")


@click.group()
def schedule() -> None:
    """Scheduled backups and retention of a service instance."""


@schedule.command("set")
@click.option("--instance", "service_instance", required=True)
@click.option("--cron", required=True, help="Five fields, UTC: minute hour day month weekday, e.g. '0 3 * * *'.")
@click.option("--keep-last", type=click.IntRange(1, 1000), default=None, help="Keep the newest N backups.")
@click.option("--keep-days", type=click.IntRange(1, 3650), default=None, help="Keep backups younger than N days.")
@click.option("--disabled", is_flag=True, help="Store the schedule but do not run it.")
@click.option("--json", "as_json", is_flag=True)
@api_options
def set_(service_instance, cron, keep_last, keep_days, disabled, as_json, endpoint, token) -> None:
    """Create or replace the schedule."""
    out = ApiClient(endpoint, token).call("PUT", f"/service-instances/{quote(service_instance, safe='')}/schedule",
                                          {"Cron": cron, "KeepLast": keep_last, "KeepDays": keep_days,
                                           "Enabled": not disabled})
    click.echo(json.dumps(out)) if as_json else _print(out)


@schedule.command("show")
@click.option("--instance", "service_instance", required=True)
@click.option("--json", "as_json", is_flag=True)
@api_options
def show(service_instance, as_json, endpoint, token) -> None:
    """The schedule and its retention rule."""
    out = ApiClient(endpoint, token).call("GET", f"/service-instances/{quote(service_instance, safe='')}/schedule")
    click.echo(json.dumps(out)) if as_json else _print(out)


@schedule.command("delete")
@click.option("--instance", "service_instance", required=True)
@api_options
def delete(service_instance, endpoint, token) -> None:
    """Stop scheduled backups (existing backups are kept)."""
    out = ApiClient(endpoint, token).call("DELETE", f"/service-instances/{quote(service_instance, safe='')}/schedule")
    click.echo(f"schedule of {out['ServiceInstanceId']} deleted")
