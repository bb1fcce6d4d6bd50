"""The `nestbackup` command line."""
from __future__ import annotations

import json
import sys

import click

from .. import __version__
from .arguments import Cli


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog="Global flags (-v, --log-format, --endpoint, --token, --json, --yes) are accepted anywhere on "
                    "the line. Exit codes: 0 done; 1 refused (one line on stderr: what and why); 2 bad usage; 3 the "
                    "backup, restore or drill failed; 4 completed with issues (or a recovery objective breached); "
                    "5 cancelled; 130 --wait stopped by Ctrl-C (the operation goes on).")
@click.version_option(__version__, prog_name="nestbackup")
@click.option("-v", "--verbose", is_flag=True, help="Also print the JSON log lines (same as --log-format json).")
@click.option("--log-format", type=click.Choice(["none", "json"]), default="none", show_default=True,
              help="json: the functions' structured log lines on stderr (as Function Compute collects them).")
def main(verbose, log_format) -> None:
    """Backup and restore of every resource of a Compute Nest service instance.

    \b
    Start here:
      nestbackup demo                                 the whole story on a fresh local cloud
      nestbackup backup create --instance SI --wait   back up, following it to the end
      nestbackup backup list                          every instance's backups (admin token)
      nestbackup restore create --backup ID --wait    restore from a backup
      nestbackup drill create --backup ID --wait      prove a backup restores (nothing of the service touched)
      nestbackup restore create --instance SI --time T   databases as they were at the UTC second T
    """
    from .. import logs
    logs.cli(json_logs=verbose or log_format == "json")


@main.group(short_help="Run and seed the embedded local cloud.")
def local() -> None:
    """Run and seed the embedded local cloud (ECS, RDS, Tablestore on 127.0.0.1)."""


@local.command("serve")
@click.option("--port", default=8900, show_default=True, type=click.IntRange(0, 65535),
              help="Port of every product and of the API (…/api); 0 picks a free one.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback only, unless you mean it.")
@click.option("--state-dir", type=click.Path(file_okay=False), default=None,
              help="Where disks, snapshots, backups and tables live; kept across restarts. Default: a temp dir.")
@click.option("--admin-token", envvar="NESTBACKUP_ADMIN_TOKEN", default=None,
              help="Bearer token accepted by the product API (put into the local KMS secret the API reads).")
@click.option("--access-key-id", default=None, help="Access key id the cloud APIs accept (default LTAIlocal).")
@click.option("--access-key-secret", default=None, help="Its secret (default local-secret).")
@click.option("--ecs-calls-per-minute", default=500, show_default=True, type=click.IntRange(0, None),
              help="Refuse each ECS API's calls past this many a minute (Throttling.User), as ECS throttles; the "
                   "real threshold is in each account's Quota Center (500 is UNCONFIRMED). 0: no throttling.")
def local_serve(port, host, state_dir, admin_token, access_key_id, access_key_secret, ecs_calls_per_minute) -> None:
    """Serve every emulated product on one port until interrupted."""
    from .local import serve
    serve(port=port, host=host, state_dir=state_dir, admin_token=admin_token,
          access_key_id=access_key_id, access_key_secret=access_key_secret,
          ecs_calls_per_minute=ecs_calls_per_minute or None)


@local.command("seed", short_help="Create a service instance's resources.")
@click.option("--endpoint", envvar="NESTBACKUP_LOCAL_ENDPOINT", default="http://127.0.0.1:8900", show_default=True,
              help="The running local cloud (or NESTBACKUP_LOCAL_ENDPOINT).")
@click.option("--instance", "service_instance", required=True, help="Service instance id, e.g. si-demo.")
@click.option("--disks", default=2, show_default=True, type=click.IntRange(0, 2000),
              help="Data disks, on one ECS instance.")
@click.option("--disk-size", default="64MiB", show_default=True, help="Size of each disk image (KiB, MiB, GiB).")
@click.option("--postgres", default=None, help="DSN of a PostgreSQL server: postgresql://user@host:port/db?databases=a,b")
@click.option("--mysql", default=None, help="DSN of a MySQL/MariaDB server: mysql://user@host:port/?databases=a,b")
@click.option("--sqlserver", is_flag=True,
              help="Also make a SQL Server instance (the local stand-in, reached over TDS).")
@click.option("--tag-key", default=None, help="Tag key (default acs:computenest:serviceInstanceId).")
@click.option("--rds-backup-policy", default=None,
              help='JSON backup policy of the RDS instances, e.g. \'{"BackupRetentionPeriod": 7, '
                   '"TableRestore": false, "BackupsDeletable": false}\'.')
@click.option("--untagged", is_flag=True, help="Leave the resources untagged (found through Compute Nest only).")
@click.option("--read-only-replicas", default=0, show_default=True, type=click.IntRange(0, 5),
              help="Read-only replicas of the first RDS instance.")
@click.option("--status", "cn_status", default=None,
              help="The service instance's Compute Nest status (default Deployed).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def local_seed(endpoint, service_instance, disks, disk_size, postgres, mysql, sqlserver, tag_key, rds_backup_policy,
               untagged, read_only_replicas, cn_status, as_json) -> None:
    """Create a service instance's resources on a running local cloud, registered with its Compute Nest."""
    from .local import seed
    try:
        policy = json.loads(rds_backup_policy) if rds_backup_policy else None
    except ValueError:
        raise click.UsageError("--rds-backup-policy must be a JSON object") from None
    spec = {"ServiceInstanceId": service_instance, "Disks": disks, "DiskSize": disk_size,
            "Postgres": postgres, "MySQL": mysql, "SQLServer": sqlserver, "TagKey": tag_key,
            "RdsBackupPolicy": policy, "ReadOnlyReplicas": read_only_replicas or None,
            "ComputeNest": {"Status": cn_status} if cn_status else None}
    spec = {k: v for k, v in spec.items() if v is not None and v is not False}    # --disks 0 is 0, not False
    if untagged:
        spec["Tagged"] = False
    out = seed(endpoint, spec)
    if as_json:
        click.echo(json.dumps(out))
        return
    click.echo(f"service instance {out['ServiceInstanceId']}")
    for iid in out["InstanceIds"]:
        click.echo(f"  ECS instance  {iid}")
    for disk in out["Disks"]:
        click.echo(f"  disk          {disk['DiskId']}  {disk['Path']}")
    for db in out["DBInstances"]:
        role = f"  {db['DBInstanceType']} of {db['MasterInstanceId']}" if db.get("MasterInstanceId") else ""
        click.echo(f"  RDS instance  {db['DBInstanceId']}  {db['Engine']}{role}")
    if out.get("ComputeNest"):
        click.echo(f"  Compute Nest  {out['ComputeNest']['Status']}, {len(out['ComputeNest']['Resources'])} resources")


@main.command(short_help="The whole story on a fresh local cloud.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--disks", default=2, show_default=True, type=click.IntRange(1, 100), help="Data disks of the demo.")
@click.option("--disk-size", default="64MiB", show_default=True, help="Size of each disk image.")
@click.option("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres", show_default=True,
              help="PostgreSQL server for the demo's database ('' to skip).")
@click.option("--mysql", default="mysql://root@127.0.0.1:3306/", show_default=True,
              help="MariaDB/MySQL server for the demo's database ('' to skip).")
def demo(as_json, disks, disk_size, postgres, mysql) -> None:
    """Run the whole story on a fresh local cloud and check it."""
    from .demo import run_demo
    ok = run_demo(as_json=as_json, disks=disks, disk_size=disk_size, postgres=postgres or None, mysql=mysql or None)
    sys.exit(0 if ok else 1)


@main.command(short_help="Create the deployment's Tablestore table.")
def bootstrap() -> None:
    """Create the Tablestore table the deployment uses, if it is missing (settings from the environment)."""
    from ..errors import NestBackupError
    from ..wiring import Settings, Wiring
    from .errors import CliError
    try:
        settings = Settings.from_env()
        created = Wiring(settings).records.ensure_table()
    except NestBackupError as err:
        raise CliError(str(err)) from None
    where = f"{settings.ots_instance} ({settings.ots_endpoint})"
    click.echo(f"created table {settings.ots_table} in {where}" if created
               else f"table {settings.ots_table} already exists in {where}; nothing to do")


from .admin import admin  # noqa: E402
from .audit import audit  # noqa: E402
from .backup import backup  # noqa: E402
from .doctor import doctor  # noqa: E402
from .drill import drill  # noqa: E402
from .plan import plan  # noqa: E402
from .restore import restore  # noqa: E402
from .schedule import schedule  # noqa: E402
from .settings import settings  # noqa: E402
from .tenant import tenant  # noqa: E402

main.add_command(backup)
main.add_command(restore)
main.add_command(drill)
main.add_command(schedule)
main.add_command(settings)
main.add_command(tenant)
main.add_command(plan)
main.add_command(doctor)
main.add_command(audit)
main.add_command(admin)

if __name__ == "__main__":
    main()
