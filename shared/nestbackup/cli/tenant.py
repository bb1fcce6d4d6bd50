"""`nestbackup tenant create|list|delete|rotate-webhook-secret|webhook-format|standard-secret|deliveries`: who may
act on which service instances (admin token required; standard-secret is local)."""
from __future__ import annotations

import json
import sys

import click

from ..decisions.webhooks import DeliveryStatus, WebhookFormat, standard_secret
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


@tenant.command("webhook-format", short_help="What the tenant's webhook receives.")
@click.argument("name")
@click.argument("webhook_format", metavar="FORMAT", type=click.Choice([str(f) for f in WebhookFormat]))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@api_options
def webhook_format(name, webhook_format, as_json, endpoint, token) -> None:
    """What the tenant's webhook receives: cloudevents (a structured CloudEvent, Standard Webhooks headers) or
    legacy (the record as the body, the old headers beside the standard ones). See docs/events.md."""
    out = ApiClient(endpoint, token).call("PUT", f"/tenants/{name}/webhook-format", {"WebhookFormat": webhook_format})
    if as_json:
        click.echo(json.dumps(out))
        return
    click.echo(f"webhook of {name} now receives the {out['WebhookFormat']} format")


@tenant.command("standard-secret", short_help="A pre-standard webhook secret in standard base64.")
def standard_secret_() -> None:
    """Read a webhook secret made before Standard Webhooks on standard input; print the same key as the spec spells
    it (standard base64), for a receiver's Standard Webhooks library. Local: calls no API."""
    line = sys.stdin.readline().strip()
    try:
        click.echo(standard_secret(line))
    except ValueError:
        raise CliError("not a webhook secret (whsec_ and base64)") from None


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
