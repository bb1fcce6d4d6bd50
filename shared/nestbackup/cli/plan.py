"""`nestbackup plan --instance SI`: what a backup would take, and roughly what it costs."""
from __future__ import annotations

from urllib.parse import quote

import click

from .backup import api_options
from .client import ApiClient
from .output import echo_rows


@click.command()
@click.option("--instance", "service_instance", required=True)
@click.option("--json", "as_json", is_flag=True)
@api_options
def plan(service_instance, as_json, endpoint, token) -> None:
    """The resources a backup would take, their sizes, and an estimate of its cost."""
    out = ApiClient(endpoint, token).call("GET", f"/service-instances/{quote(service_instance, safe='')}/plan")
    echo_rows(out, as_json, "Resources", _resource_line, _warnings_and_estimate)


def _resource_line(r: dict) -> str:
    size = f"{r['SizeGiB']} GiB" if r.get("SizeGiB") is not None else "size unknown"
    return f"  {r['ResourceType']:<5} {r['ResourceId']:<28} {r['Method']:<14} {size}"


def _warnings_and_estimate(out: dict) -> list[str]:
    e = out["Estimate"]
    left_out = [f"  not protected: {n['ResourceType']} {n['ResourceId']} ({n['Reason']})"
                for n in out.get("NotProtected", [])]
    return [f"warning: {warning}" for warning in out.get("Warnings", [])] + left_out + [
        f"about {e['FlowTransitions']} flow transitions, {e['FunctionSeconds']:.0f} s of functions; "
        f"estimated USD {e['TotalUSD']} (snapshots and backups per month, then the run itself)"]
