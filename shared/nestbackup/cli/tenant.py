"""`nestbackup tenant create|list|delete|rotate-webhook-secret|deliveries`: who may act on which service instances
(admin token required)."""
from __future__ import annotations

import json

import click

from ..decisions.webhooks import DeliveryStatus
from .arguments import api_options, confirm, yes_option
from .client import ApiClient
from .errors import CliError
from .output import echo_rows


@click.group(short_help="Tenants: tokens confined to instances (admin).")
def tenant() -> None:
    """Manage tenants: bearer tokens confined to their service instances."""


@tenant.command("create", short_help="Create a tenant (its token printed once).")
@click.argument("name")
@click.option("--instances", required=True, help="Comma-separated service instance ids the tenant may act on.")
@click.option("--webhook", default=None, help="URL that gets each final record of these instances (POST, JSON).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@api_options
def create(name, instances, webhook, as_json, endpoint, token) -> None:
    """Create a tenant; its token is printed once, alone on the last line."""
    ids = [i.strip() for i in instances.split(",") if i.strip()]
    if not ids:
        raise CliError("--instances needs at least one service instance id")
    body = {"Name": name, "Instances": ids}
    if webhook:
        body["Webhook"] = webhook
    out = ApiClient(endpoint, token).call("POST", "/tenants", body)
    if as_json:
        click.echo(json.dumps(out))
        return
    if out.get("WebhookSecret"):
        click.echo(f"webhook signing secret (shown only now): {out['WebhookSecret']}")
    click.echo(f"tenant {out['Name']} may act on {', '.join(out['Instances'])}; its token (shown only now):")
    click.echo(out["Token"])


@tenant.command("rotate-webhook-secret", short_help="A new webhook signing secret.")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@api_options
def rotate_webhook_secret(name, as_json, endpoint, token) -> None:
    """A new webhook signing secret, printed once; the previous one keeps signing beside it for 24 h."""
    out = ApiClient(endpoint, token).call("POST", f"/tenants/{name}/webhook-secret")
    if as_json:
        click.echo(json.dumps(out))
        return
    click.echo(f"new webhook signing secret of {name} (shown only now):")
    click.echo(out["WebhookSecret"])


@tenant.command("deliveries", short_help="Its webhook deliveries, newest first.")
@click.argument("name")
@click.option("--status", type=click.Choice([str(s) for s in DeliveryStatus]), default=None,
              help="Only deliveries in this status.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@api_options
def deliveries(name, status, as_json, endpoint, token) -> None:
    """The tenant's webhook deliveries, newest first: which record, how many attempts, the last error."""
    path = f"/tenants/{name}/deliveries" + (f"?status={status}" if status else "")
    out = ApiClient(endpoint, token).call("GET", path)
    echo_rows(out, as_json, "Deliveries", ("DELIVERY", "RECORD", "STATUS", "ATTEMPTS", "LAST ERROR"), _delivery_cells,
              f"No deliveries of {name}" + (f" {status}." if status else " yet."))


def _delivery_cells(d: dict) -> list[str]:
    error = d["LastError"] if d.get("LastError") and d["Status"] != "Delivered" else ""
    return [d["DeliveryId"], d["RecordId"], d["Status"], str(d.get("Attempts", 0)), error]


@tenant.command("list", short_help="Tenants and their service instances.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@api_options
def list_(as_json, endpoint, token) -> None:
    """Tenants and their service instances (never their tokens)."""
    out = ApiClient(endpoint, token).call("GET", "/tenants")
    echo_rows(out, as_json, "Tenants", ("TENANT", "INSTANCES"), lambda t: [t["Name"], ", ".join(t["Instances"])],
              "No tenants yet. Create one: nestbackup tenant create NAME --instances SI[,SI...]")


@tenant.command("delete")
@click.argument("name")
@yes_option
@api_options
def delete(name, yes, endpoint, token) -> None:
    """Delete a tenant; its token stops working at once. Asks first unless --yes."""
    confirm(yes, f"Delete tenant {name}? Its token stops working at once.", f"refusing to delete tenant {name}")
    ApiClient(endpoint, token).call("DELETE", f"/tenants/{name}")
    click.echo(f"tenant {name} deleted")
