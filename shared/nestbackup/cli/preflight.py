"""The account checks of `nestbackup doctor` (all of them with `--before-deploy`): what a first deployment and a
first backup need of the account and the settings, before anything is created. Each failure is one line with its
fix. The doctor builds the cloud clients and hands them in (it is the one CLI module that reads adapters)."""
from __future__ import annotations

import re
import time
from typing import Any, Callable, Mapping, Protocol

from ..errors import CloudError, NestBackupError
from ..model.regions import COMPUTENEST_REGIONS, computenest_region, unsupported


class Report(Protocol):
    """The doctor's report, as the checks write to it."""

    def ok(self, what: str) -> None: ...

    def fail(self, status: str, text: str) -> None: ...

# A Tablestore instance's endpoints: per bound VPC `<instance>.<region>.vpc.tablestore.aliyuncs.com` (the SDK's
# BindInstance2Vpc example Domain has `.vpc.ots.`), on the Internet `<instance>.<region>.ots.aliyuncs.com`.
_VPC_ENDPOINT = re.compile(r"https?://[^/\s]+\.vpc\.(?:tablestore|ots)\.aliyuncs\.com/?")
_PUBLIC_ENDPOINT = re.compile(r"https?://[^/\s]+\.ots\.aliyuncs\.com/?")
FIX_NETWORK = "see docs/deploy.md, step 2 (Tablestore and its network)"


def check_regions(report: Report, functions: list[dict], flows: list[dict], env: Mapping[str, str]) -> None:
    """Every region s.yaml deploys to is one its components accept; the Compute Nest region is one where Compute
    Nest is served (model/regions.py)."""
    regions = sorted({p.get("region") or "" for p in functions + flows})
    for region in regions:
        lines = unsupported(region)
        for line in lines:
            report.fail("REGION", line)
        if not lines:
            report.ok(f"region {region}: the fc3 and flow components deploy there")
    nest = env.get("NESTBACKUP_COMPUTENEST_REGION") or computenest_region(regions[0] if regions else "cn-hangzhou")
    if nest in COMPUTENEST_REGIONS:
        report.ok(f"Compute Nest region {nest} (NESTBACKUP_COMPUTENEST_REGION) serves the Compute Nest API")
    else:
        report.fail("REGION", f"Compute Nest is not served in {nest} - fix: set NESTBACKUP_COMPUTENEST_REGION to "
                              f"{' or '.join(sorted(COMPUTENEST_REGIONS))} (where the service instances are kept)")


def check_network(report: Report, functions: list[dict], bound_vpcs: Callable[[str], list[str]]) -> None:
    """The functions reach Tablestore where its network ACL lets them: on a VPC endpoint, from a VPC bound to the
    instance (a new instance refuses the Internet). `bound_vpcs(instance)`: ListVpcInfoByInstance's VpcIds."""
    env = next((p.get("environmentVariables") or {} for p in functions if p.get("environmentVariables")), {})
    endpoint, instance = env.get("NESTBACKUP_OTS_ENDPOINT", ""), env.get("NESTBACKUP_OTS_INSTANCE", "nestbackup")
    if _PUBLIC_ENDPOINT.fullmatch(endpoint) and not _VPC_ENDPOINT.fullmatch(endpoint):
        report.fail("NETWORK", f"NESTBACKUP_OTS_ENDPOINT {endpoint} is the public endpoint, which a Tablestore "
                               f"instance refuses by default (Internet access off) - fix: use its VPC endpoint "
                               f"https://{instance}.<region>.vpc.tablestore.aliyuncs.com; {FIX_NETWORK}")
        return
    if not _VPC_ENDPOINT.fullmatch(endpoint):
        report.ok(f"Tablestore endpoint {endpoint or '(none)'} is not an Alibaba Cloud one: network not checked")
        return
    outside = sorted(p["functionName"] for p in functions if not (p.get("vpcConfig") or {}).get("vpcId"))
    if outside:
        report.fail("NETWORK", f"functions {', '.join(outside)} have no vpcConfig, so the VPC endpoint of Tablestore "
                               f"is out of their reach - fix: give them vars.vpc in s.yaml")
    vpcs = sorted({str(p["vpcConfig"]["vpcId"]) for p in functions if (p.get("vpcConfig") or {}).get("vpcId")})
    try:
        bound = set(bound_vpcs(instance))
    except NestBackupError as err:
        report.fail("NETWORK", f"cannot read the VPCs bound to Tablestore instance {instance}: {err} - fix: check "
                               f"the instance name, and allow the deployer ots:ListVpcInfoByInstance")
        return
    for vpc in vpcs:
        if vpc in bound:
            report.ok(f"Tablestore instance {instance} is bound to the functions' VPC {vpc}")
        else:
            report.fail("NETWORK", f"VPC {vpc} of the functions is not bound to Tablestore instance {instance}, which "
                                   f"refuses it - fix: BindInstance2Vpc (InstanceName {instance}, VpcId {vpc}); "
                                   f"{FIX_NETWORK}")


# ECS CreateSnapshot: no snapshot of a disk once "the number of manual snapshots of the disk has reached 256".
MANUAL_SNAPSHOTS_PER_DISK = 256
# RDS CreateBackup: "The number of backup sets that can be created for an instance per day cannot exceed 20."
# Which day (UTC, Beijing) and whether automatic sets count are UNCONFIRMED: the manual sets of the last 24 hours
# are counted, never fewer than those of the current day in any time zone.
RDS_BACKUP_SETS_PER_DAY = 20
DAY_SECONDS = 24 * 3600


def check_instances(report: Report, w: Any, instance_ids: list[str],
                    manual_snapshots: Callable[[str], int] | None = None) -> None:
    """For each service instance named, what its first backup and restore need, found as a backup finds it
    (operations/discovery.py through the wiring `w`): every MySQL instance takes its backups with database/table
    restore enabled (without it RestoreTable cannot restore from a set taken before it was turned on), whether
    each ECS instance's disks go into one crash-consistent snapshot group (decisions/backup.groupable), and each
    disk's room for another manual snapshot (`manual_snapshots(disk_id)`: DescribeSnapshots SnapshotType user), and
    each RDS instance's room for another backup set today (DescribeBackups, manual sets of the last 24 hours)."""
    from ..decisions.backup import GROUP_CATEGORIES, GROUP_MAX_DISKS, GROUP_MAX_GIB, groupable
    from ..model.engines import ENGINES
    from ..operations.backup import disk_facts
    from ..operations.discovery import check_service_instance, discover

    for si in instance_ids:
        try:
            check_service_instance(w, si)
            found = discover(w, si)
        except NestBackupError as err:
            report.fail("MISSING", f"service instance {si}: {err} - fix: check the id and "
                                   f"NESTBACKUP_COMPUTENEST_REGION")
            continue
        for db in found.databases:
            engine = ENGINES.get(db.engine)
            if not db.primary or engine is None:
                continue
            taken = len(w.rds.manual_backups_since(db.db_instance_id, time.time() - DAY_SECONDS))
            if taken >= RDS_BACKUP_SETS_PER_DAY:
                report.fail("QUOTA", f"RDS {db.db_instance_id} of {si} made {taken} manual backup sets in the last "
                                     f"24 hours, the most RDS takes a day ({RDS_BACKUP_SETS_PER_DAY}): a backup now "
                                     f"would be refused - fix: wait, and keep schedules at least "
                                     f"NESTBACKUP_SCHEDULE_MIN_INTERVAL_MINUTES apart")
            else:
                report.ok(f"RDS {db.db_instance_id} of {si}: {taken} of {RDS_BACKUP_SETS_PER_DAY} backup sets a day")
            _check_log_backup(report, w, si, db.db_instance_id)
            if not engine.meta_status_gates_restore:
                continue
            if w.rds.table_restore_enabled(db.db_instance_id):
                report.ok(f"RDS {db.db_instance_id} of {si}: database/table restore is enabled")
            else:
                report.fail("RDS", f"RDS {db.db_instance_id} of {si}: database/table restore is off, so its "
                                   f"backups cannot be restored database by database - fix: turn on 库表恢复 "
                                   f"(Database/Table Restoration) in its backup settings, then back up again")
        for disk in found.disks:
            if manual_snapshots is None:
                break
            taken = manual_snapshots(disk.disk_id)
            if taken >= MANUAL_SNAPSHOTS_PER_DISK:
                report.fail("QUOTA", f"disk {disk.disk_id} of {si} has {taken} manual snapshots, the most ECS keeps "
                                     f"({MANUAL_SNAPSHOTS_PER_DISK}): a backup cannot snapshot it - fix: delete old "
                                     f"backups (nestbackup backup delete) or shorten the schedule's retention")
            else:
                report.ok(f"disk {disk.disk_id} of {si}: {taken} of {MANUAL_SNAPSHOTS_PER_DISK} manual snapshots")
        by_instance: dict[str, list] = {}
        for disk in disk_facts(found.disks):
            by_instance.setdefault(disk.instance_id or disk.disk_id, []).append(disk)
        for instance_id, disks in sorted(by_instance.items()):
            if len(disks) < 2:
                continue
            if groupable(disks):
                report.ok(f"disks of {instance_id} ({len(disks)}): one crash-consistent snapshot group")
                continue
            others = sorted({d.category for d in disks} - GROUP_CATEGORIES)
            why = (f"categories {', '.join(others)} (groups take {', '.join(sorted(GROUP_CATEGORIES))})" if others
                   else "a multi-attach disk" if any(d.multi_attach for d in disks)
                   else f"more than {GROUP_MAX_DISKS} disks or {GROUP_MAX_GIB} GiB")
            report.ok(f"disks of {instance_id} ({len(disks)}): each snapshotted alone, not crash-consistent "
                      f"with each other: {why}")


def _check_log_backup(report: Report, w: Any, si: str, db_instance_id: str) -> None:
    """Whether the instance keeps log backups, which a restore to a second needs (DescribeBackupPolicy
    EnableBackupLog; the range from DescribeLocalAvailableRecoveryTime). A note, never a failure: backups and
    restores from a backup do not need them."""
    try:
        window = w.rds.restore_window(db_instance_id)
    except CloudError as err:
        report.ok(f"RDS {db_instance_id} of {si}: note: its log backup setting could not be read ({err.code}: "
                  f"{err.message}); restores to a second may be refused")
        return
    if not window.log_backup:
        report.ok(f"RDS {db_instance_id} of {si}: note: log backup is off, so restores to a second (restore create "
                  f"--time) are refused - to have them: turn on log backup in its backup settings")
    elif window.begin and window.end:
        report.ok(f"RDS {db_instance_id} of {si}: log backup on; restorable to a second from {window.begin} to "
                  f"{window.end}")
    else:
        report.ok(f"RDS {db_instance_id} of {si}: log backup on; restorable to a second once a backup set exists")


def check_database_accounts(report: Report, instance_ids: list[str], preflight: Callable[[str], dict]) -> None:
    """Each RDS instance's database account connects and holds what the restore's swap of names needs. Only the
    functions reach the databases (their VPC), so `preflight(si)` asks the db-rename function, which answers with
    operations/preflight.py: one check per RDS instance, or per gap with its fix."""
    for si in instance_ids:
        try:
            answer = preflight(si)
        except NestBackupError as err:
            report.fail("DATABASE", f"service instance {si}: the database check did not run: {err} - fix: deploy "
                                    f"first (`s deploy`), and check the id and NESTBACKUP_COMPUTENEST_REGION")
            continue
        checks = (answer.get("Checks") or []) if isinstance(answer, dict) else []
        if not checks:
            report.ok(f"service instance {si}: no RDS instance, no database account to check")
        for check in checks:
            what = f"RDS {check.get('DBInstanceId')} ({check.get('Engine')}) of {si}"
            if check.get("Ok"):
                report.ok(f"{what}: the account connects and may swap databases "
                          f"{', '.join(check.get('Databases') or []) or '(none yet)'}")
            else:
                report.fail("DATABASE", f"{what}: {check.get('Problem')} - fix: {check.get('Fix')}")
