"""`nestbackup restore create|preview|list|show|describe|wait|cancel`: the API, from a terminal."""
from __future__ import annotations

import json

import click

from .arguments import api_options, confirm, yes_option
from .backup import describe_command
from .client import ApiClient
from .errors import CliError
from .listing import list_command
from .records import echo_record, exit_on_failure
from .waiting import follow_and_report, wait_command


@click.group(short_help="Restore from a backup; follow, list restores.")
def restore() -> None:
    """Restore a service instance from a backup, and follow and inspect restores."""


def _selection(backup_id: str, resources: tuple[str, ...], databases: tuple[str, ...], split_groups: bool,
               no_safety_backup: bool, from_backup_sets: bool = False) -> dict:
    """The body of POST /restores and its preview, from the options."""
    body: dict = {"BackupId": backup_id, "SafetyBackup": not no_safety_backup}
    if from_backup_sets:
        body["ToConsistentMoment"] = False
    if resources:
        body["Resources"] = list(resources)
    for pair in databases:
        db_instance, _, name = pair.partition(":")
        if not db_instance or not name:
            raise CliError(f"--database takes RDSID:NAME (e.g. rm-abc123:orders), not {pair!r}")
        body.setdefault("Databases", {}).setdefault(db_instance, []).append(name)
    if split_groups:
        body["SplitGroups"] = True
    return body


def _selection_options(command):
    for option in reversed((
            click.option("--backup", "backup_id", default=None,
                         help="The backup (Created; PartiallyCreated with a selection)."),
            click.option("--resource", "resources", multiple=True, metavar="ID",
                         help="Restore only this resource of the backup (a disk, or an RDS instance with all its "
                              "databases); repeatable."),
            click.option("--database", "databases", multiple=True, metavar="RDSID:NAME",
                         help="Restore only this database; repeatable. With --resource, both are restored. With "
                              "--time: only these databases go back to that second."),
            click.option("--split-groups", is_flag=True,
                         help="Restore a selected disk without the other disks of its snapshot group."),
            click.option("--no-safety-backup", is_flag=True, help="Skip the backup taken right before the restore "
                                                                  "(of what it replaces)."),
            click.option("--from-backup-sets", is_flag=True,
                         help="A hooked backup: restore its databases from their backup sets, not to its "
                              "consistent moment (the default where their log backups reach it)."))):
        command = option(command)
    return command


@restore.command("create", short_help="Restore a service instance, or chosen resources, from a backup; or its "
                                     "databases to a second.")
@_selection_options
@click.option("--instance", "service_instance_id", default=None,
              help="With --time, instead of --backup: the service instance whose databases go back to that second.")
@click.option("--time", "restore_time", default=None,
              help="With --instance: the UTC second to restore the databases to, e.g. 2026-12-06T14:05:00Z "
                   "(see: restore window SI).")
@click.option("--client-token", default=None, help="Idempotency token: the same token gives the same restore.")
@click.option("--wait", is_flag=True, help="Print the id, follow the restore until it ends; exit 3 if it failed, 5 if "
                                           "cancelled (docs/statuses.md). "
                                           "Ctrl-C stops following, not the restore (re-attach: restore wait ID).")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def create(backup_id, resources, databases, split_groups, no_safety_backup, from_backup_sets, service_instance_id,
           restore_time, client_token, wait, as_json, endpoint, token) -> None:
    """Stop the instances, roll disks back, restore databases (live ones kept aside), start them again. With
    --resource / --database, only those: a database-only restore stops nothing, a disk's stops only its instance.
    With --instance and --time: only databases, as they were at that second (RDS point-in-time restore); nothing is
    stopped."""
    client = ApiClient(endpoint, token)
    body = restore_body(backup_id, service_instance_id, restore_time, resources, databases, split_groups,
                        no_safety_backup, from_backup_sets)
    if client_token:
        body["ClientToken"] = client_token
    record = client.call("POST", "/restores", body)
    if wait:
        follow_and_report(client, record, as_json)
        return
    echo_record(record, as_json)
    exit_on_failure(record)          # a ClientToken may answer an earlier backup or restore that failed


@restore.command("preview", short_help="What a restore would do; changes nothing.")
@_selection_options
@click.option("--json", "as_json", is_flag=True, help="Print the preview as one JSON object.")
@api_options
def preview(backup_id, resources, databases, split_groups, no_safety_backup, from_backup_sets, as_json, endpoint,
            token) -> None:
    """The instances a restore with these options would stop, what it would replace and where the live data stays,
    the databases it would rename, what cannot be restored and why, and the downtime to expect. Nothing changes."""
    if not backup_id:
        raise click.UsageError("give --backup (a point-in-time restore's reach: restore window SI)")
    out = ApiClient(endpoint, token).call(
        "POST", "/restores/preview", _selection(backup_id, resources, databases, split_groups, no_safety_backup,
                                                from_backup_sets))
    if as_json:
        click.echo(json.dumps(out))
        return
    for line in preview_lines(out):
        click.echo(line)


def preview_lines(out: dict) -> list[str]:
    what = "the whole backup" if out["Whole"] else f"{len(out['Resources'])} selected resource(s)"
    lines = [f"restore of {out['BackupId']} ({what}) into {out['ServiceInstanceId']}: nothing was changed"]
    lines.append(f"stops: {', '.join(out['Stops'])}" if out["Stops"] else "stops: nothing (the service runs on)")
    downtime = out["ExpectedDowntimeSeconds"]
    lines.append(f"expected downtime: {'unknown' if downtime is None else f'{downtime} s'} ({out['DowntimeBasis']})")
    if out.get("ConsistentAt"):
        at = ", ".join(out["AtConsistentMoment"]) or "nothing"
        lines.append(f"consistent moment {out['ConsistentAt']}: brought to it {at}")
    for r in out["Replaced"]:
        lines.append(f"  {r['ResourceType']:<5} {r['ResourceId']}: {r['Action']}; live data kept: {r['LiveDataKept']}")
    for r in out["Renames"]:
        lines.append(f"  rename on {r['DBInstanceId']}: {r['Database']} <- {r['RestoredName']}, live one -> "
                     f"{r['AsideName']}")
    kept = (out.get("Selection") or {}).get("GroupsKeptTogether") or {}
    for disk, group in kept.items():
        lines.append(f"  {disk} restored too: snapshot group {group} (--split-groups to leave it)")
    for disk, group in ((out.get("Selection") or {}).get("GroupsSplit") or {}).items():
        lines.append(f"  {disk} restored apart from snapshot group {group}: not crash-consistent with the rest")
    safety = out["SafetyBackup"]
    lines.append(f"safety backup ({safety['Scope']}) of {', '.join(safety['Covers'])}" if safety["Taken"] else
                 "no safety backup")
    lines += [f"cannot restore {c['ResourceId']}: {c['Reason']}" for c in out["CannotRestore"]]
    if out.get("Refused"):
        lines.append(f"a restore would be refused now: {out['Refused']}")
    return lines


def restore_body(backup_id, service_instance_id, restore_time, resources=(), databases=(), split_groups=False,
                 no_safety_backup=False, from_backup_sets=False) -> dict:
    """The body of POST /restores: a backup (whole or a selection), or a service instance and a second."""
    if backup_id and (service_instance_id or restore_time):
        raise click.UsageError("give --backup, or --instance with --time, not both")
    if backup_id:
        return _selection(backup_id, resources, databases, split_groups, no_safety_backup, from_backup_sets)
    if resources or split_groups or from_backup_sets:
        raise click.UsageError("--resource, --split-groups and --from-backup-sets go with --backup")
    body = _point_in_time(service_instance_id, restore_time, databases)
    body["SafetyBackup"] = not no_safety_backup
    return body


def _point_in_time(service_instance_id, restore_time, databases) -> dict:
    """A point-in-time restore's body: a service instance and a second (with its databases, if named)."""
    if not service_instance_id or not restore_time:
        raise click.UsageError("give --backup, or --instance with --time")
    body: dict = {"ServiceInstanceId": service_instance_id, "RestoreTime": restore_time}
    if databases:
        chosen: dict[str, list[str]] = {}
        for spec in databases:
            rds_id, _, name = spec.partition(":")
            if not rds_id or not name:
                raise click.UsageError(f"--database {spec!r}: use RDSID:NAME")
            chosen.setdefault(rds_id, []).append(name)
        body["Databases"] = chosen
    return body


@restore.command("window", short_help="Per RDS instance, the seconds a point-in-time restore can bring back.")
@click.argument("service_instance_id")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@api_options
def window(service_instance_id, as_json, endpoint, token) -> None:
    """The first and last second each RDS instance of the service instance can be restored to, or why none."""
    answer = ApiClient(endpoint, token).call("GET", f"/service-instances/{service_instance_id}/restore-window")
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    for inst in answer.get("DBInstances") or []:
        where = (f"{inst.get('EarliestRestoreTime')} .. {inst.get('LatestRestoreTime')}"
                 if inst.get("EarliestRestoreTime") else "restorable" if inst.get("Restorable") else
                 "not restorable to a second")
        why = inst.get("Reason") or ""
        click.echo(f"{inst['DBInstanceId']}  {inst.get('Engine', '')}  {where}{'  (' + why + ')' if why else ''}")
    if not answer.get("DBInstances"):
        click.echo(f"{service_instance_id} has no RDS instance")


restore.add_command(list_command("restores"))


@restore.command("show", short_help="One restore: each resource's status and cause.")
@click.argument("restore_id")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def show(restore_id, as_json, endpoint, token) -> None:
    """One restore record: every resource's status and failure cause, and its summary (verified or not, the safety
    backup, the live databases kept aside and how to drop them, the downtime)."""
    record = ApiClient(endpoint, token).call("GET", f"/restores/{restore_id}")
    echo_record(record, as_json)


restore.add_command(describe_command("restores"))
restore.add_command(wait_command("restores"))


@restore.command("cancel", short_help="Cancel a restore before it touches data.")
@click.argument("restore_id")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def cancel(restore_id, as_json, endpoint, token) -> None:
    """Cancel a restore that has not touched data yet; the instance is started again."""
    echo_record(ApiClient(endpoint, token).call("POST", f"/restores/{restore_id}/cancel"), as_json)


@restore.command("undo", short_help="Put the service instance back as it was just before a restore.")
@click.argument("restore_id")
@yes_option
@click.option("--client-token", default=None, help="Idempotency token: the same token gives the same undo.")
@click.option("--wait", is_flag=True, help="Print the id, follow the undo until it ends; exit 3 if it failed, 5 if "
                                           "cancelled (docs/statuses.md).")
@click.option("--json", "as_json", is_flag=True, help="Print the record as one JSON object.")
@api_options
def undo(restore_id, yes, client_token, wait, as_json, endpoint, token) -> None:
    """Swap the databases the restore replaced back from the copies it kept aside, and reset the disks it reset to
    the snapshots taken at its stop. The undo is a restore record of its own (and can be undone). When the service
    instance changed since the restore, it is refused (naming what changed) unless --yes."""
    client = ApiClient(endpoint, token)
    body: dict = {"Confirm": yes}
    if client_token:
        body["ClientToken"] = client_token
    try:
        record = client.call("POST", f"/restores/{restore_id}/undo", body)
    except CliError as err:
        if yes or "Confirm: true" not in str(err):
            raise
        # changed since the restore: the person at the terminal decides (a script must say --yes)
        confirm(False, f"{err.message}\nUndo anyway?", f"{err.message}; an undo")
        record = client.call("POST", f"/restores/{restore_id}/undo", {**body, "Confirm": True})
    if wait:
        follow_and_report(client, record, as_json)
        return
    echo_record(record, as_json)
    exit_on_failure(record)
