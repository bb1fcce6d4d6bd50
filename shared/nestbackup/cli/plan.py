"""`nestbackup plan --instance SI`: what a backup would take, and roughly what it costs."""
from __future__ import annotations

import json
from urllib.parse import quote

import click

from .backup import api_options
from .client import ApiClient


@click.command()
@click.option("--instance", "service_instance", required=True)
@click.option("--json", "as_json", is_flag=True)
@api_options
def plan(service_instance, as_json, endpoint, token) -> None:
    """The resources a backup would take, their sizes, and an estimate of its cost."""
    out = ApiClient(endpoint, token).call("GET", f"/service-instances/{quote(service_instance, safe='')}/plan")
    if as_json:
        click.echo(json.dumps(out))
        return
    for r in out["Resources"]:
        size = f"{r['SizeGiB']} GiB" if r.get("SizeGiB") is not None else "size unknown"
        click.echo(f"  {r['ResourceType']:<5} {r['ResourceId']:<28} {r['Method']:<14} {size}")
    for warning in out.get("Warnings", []):
        click.echo(f"warning: {warning}")
    e = out["Estimate"]
    click.echo(f"about {e['FlowTransitions']} flow transitions, {e['FunctionSeconds']:.0f} s of functions; "
               f"estimated USD {e['TotalUSD']} (snapshots and backups per month, then the run itself)")
