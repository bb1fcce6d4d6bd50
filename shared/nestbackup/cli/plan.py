"""`nestbackup plan --instance SI`: what a backup would take, and roughly what it costs."""
from __future__ import annotations

from urllib.parse import quote

import click

from .arguments import api_options
from .client import ApiClient
from .output import echo_rows


@click.command(short_help="What a backup would take and cost.")
@click.option("--instance", "service_instance", required=True, help="Service instance id.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@api_options
def plan(service_instance, as_json, endpoint, token) -> None:
    """The resources a backup would take, their sizes, and an estimate of its cost."""
    out = ApiClient(endpoint, token).call("GET", f"/service-instances/{quote(service_instance, safe='')}/plan")
    echo_rows(out, as_json, "Resources", ("TYPE", "RESOURCE", "ENGINE", "METHOD", "SIZE", "ENCRYPTED"),
              _resource_cells,
              f"Nothing to back up: Compute Nest lists no disks or RDS instances for {service_instance}.",
              _warnings_and_estimate)


def _resource_cells(r: dict) -> list[str]:
    size = f"{r['SizeGiB']} GiB" if r.get("SizeGiB") is not None else "unknown"
    method = r["Method"] or f"skipped: {r.get('Skipped') or 'not backed up'}"
    return [r["ResourceType"], r["ResourceId"], r.get("Engine") or "-", method, size, _encrypted(r)]


def _encrypted(r: dict) -> str:
    """yes (its key), no, or unknown when the cloud did not say; - for a resource not backed up."""
    found = r.get("Encryption")
    if "Encryption" not in r:
        return "-"
    if found is None:
        return "unknown"
    return f"yes ({found['KeyId']})" if found["Encrypted"] and found.get("KeyId") else \
        ("yes" if found["Encrypted"] else "no")


def _warnings_and_estimate(out: dict) -> list[str]:
    e = out["Estimate"]
    left_out = [f"  not protected: {n['ResourceType']} {n['ResourceId']} ({n['Reason']})"
                for n in out.get("NotProtected", [])]
    return [f"warning: {warning}" for warning in out.get("Warnings", [])] + left_out + [
        f"about {e['FlowTransitions']} flow transitions, {e['FunctionSeconds']:.0f} s of functions; "
        f"estimated USD {e['TotalUSD']} (snapshots and backups per month, then the run itself)"]
