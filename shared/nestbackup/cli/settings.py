"""`nestbackup settings set|show`: a service instance's backup settings (its quiesce hooks)."""
from __future__ import annotations

import json
from urllib.parse import quote

import click

from .arguments import api_options
from .client import ApiClient

INSTANCE_HELP = "Service instance id (Compute Nest must know it)."


def _path(service_instance: str) -> str:
    return f"/service-instances/{quote(service_instance, safe='')}/backup-settings"


def _print(settings: dict) -> None:
    hooks = settings.get("Hooks")
    if not hooks:
        click.echo(f"{settings['ServiceInstanceId']}  no hooks: backups are crash-consistent")
        return
    where = ", ".join(hooks["Instances"]) if hooks.get("Instances") else "every ECS instance it snapshots"
    click.echo(f"{settings['ServiceInstanceId']}  hooks on {where}, timeout {hooks['TimeoutSeconds']} s, "
               f"on a failed pre hook: {hooks['OnFailure']}")
    click.echo(f"  pre   {hooks['Pre']}")
    click.echo(f"  post  {hooks['Post']}")


@click.group(short_help="Backup settings: quiesce hooks.")
def settings() -> None:
    """A service instance's backup settings: the commands run on its ECS instances before the snapshots are
    created (pre, e.g. `fsfreeze -f`) and after (post, e.g. `fsfreeze -u`)."""


@settings.command("set", short_help="Set the quiesce hooks (admin), or remove them.")
@click.option("--instance", "service_instance", required=True, help=INSTANCE_HELP)
@click.option("--pre", default=None, help="Shell script run as root on each instance before the snapshots.")
@click.option("--post", default=None, help="Shell script run after the snapshots are created (also on failure).")
@click.option("--timeout", "timeout_seconds", type=click.IntRange(10, 300), default=60, show_default=True,
              help="Seconds a hook may run.")
@click.option("--on-failure", type=click.Choice(["Fail", "Continue"]), default="Fail", show_default=True,
              help="A failed pre hook fails the backup, or lets it go on crash-consistent.")
@click.option("--hook-instance", "instances", multiple=True, help="Run on this ECS instance only (repeatable).")
@click.option("--no-hooks", is_flag=True, help="Remove the hooks.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@api_options
def set_(service_instance, pre, post, timeout_seconds, on_failure, instances, no_hooks, as_json, endpoint,
         token) -> None:
    """Replace the backup settings (the admin token only)."""
    if no_hooks:
        body: dict = {"Hooks": None}
    elif pre and post:
        body = {"Hooks": {"Pre": pre, "Post": post, "TimeoutSeconds": timeout_seconds, "OnFailure": on_failure,
                          "Instances": list(instances) or None}}
    else:
        raise click.UsageError("give --pre and --post, or --no-hooks")
    out = ApiClient(endpoint, token).call("PUT", _path(service_instance), body)
    click.echo(json.dumps(out)) if as_json else _print(out)


@settings.command("show", short_help="The backup settings.")
@click.option("--instance", "service_instance", required=True, help=INSTANCE_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@api_options
def show(service_instance, as_json, endpoint, token) -> None:
    out = ApiClient(endpoint, token).call("GET", _path(service_instance))
    click.echo(json.dumps(out)) if as_json else _print(out)
