"""Point-in-time restore of databases: a service instance's RDS databases brought back as they were at a chosen
second, through RDS's own point-in-time restore (RestoreTable with RestoreTime; RecoveryDBInstance with RestoreTime
for SQL Server), under new names beside the live ones, then swapped in as any restore (operations/restore.py's
phases from RestoringDatabases on: no ECS instance has a disk to reset, so none is stopped). Before anything is
recorded, each instance must keep log backups and hold the second in its restorable range (`restore_window`)."""
from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone
from typing import Any

from ..decisions import restore as decide
from ..errors import CloudError, Conflict, ValidationError
from ..model.engines import recovery_time_listed
from ..model.ids import check_client_token
from ..model.records import iso_utc, new_record_id
from ..model.restores import RestoreRecord
from ..model.status import RestorePhase
from ..ports import Ports
from ..ports.databases import DBInstance
from .costs import Meter
from .discovery import check_service_instance, discover
from .restore import open_restore

SECOND = "%Y-%m-%dT%H:%M:%SZ"


def parse_restore_time(raw: object, now: float) -> str:
    """RestoreTime as RDS takes it: a past UTC second, yyyy-MM-ddTHH:mm:ssZ."""
    try:
        when = datetime.strptime(str(raw), SECOND).replace(tzinfo=timezone.utc)
    except ValueError:
        raise ValidationError("RestoreTime must be a UTC second like 2026-12-06T14:05:00Z") from None
    if when.timestamp() > now:
        raise ValidationError(f"RestoreTime {raw} is in the future")
    return when.strftime(SECOND)


def _chosen(w: Ports, instances: list[DBInstance], databases: Any) -> dict[str, tuple[str, list[str]]]:
    """{RDS instance id: (engine, database names)}: those `databases` names ({id: [names]}), else every database
    each primary instance lists now."""
    primaries = {i.db_instance_id: i for i in instances if i.primary}
    if databases is None:
        return {rid: (i.engine, [d.name for d in w.rds.databases(rid) if d.running or not d.status])
                for rid, i in primaries.items()}
    if not isinstance(databases, dict) or not databases or not all(
            isinstance(names, list) and names and all(isinstance(n, str) and n for n in names)
            for names in databases.values()):
        raise ValidationError('Databases must be {"DBInstanceId": ["database name", ...], ...}')
    unknown = sorted(set(databases) - set(primaries))
    if unknown:
        raise ValidationError(f"{', '.join(unknown)}: not a primary RDS instance of the service instance")
    return {rid: (primaries[rid].engine, list(dict.fromkeys(names))) for rid, names in databases.items()}


def create_point_in_time_restore(w: Ports, service_instance_id: str, restore_time: object,
                                 databases: Any = None, token: str | None = None, safety_backup: bool = True,
                                 now: float | None = None) -> dict:
    check_client_token(token)
    if not isinstance(safety_backup, bool):
        raise ValidationError("SafetyBackup must be true or false")
    now = time.time() if now is None else now
    when = parse_restore_time(restore_time, now)
    meter = Meter(w)
    check_service_instance(w, service_instance_id)
    chosen = _chosen(w, discover(w, service_instance_id).databases, databases)
    if not any(names for _, names in chosen.values()):
        raise Conflict(f"{service_instance_id} has no RDS database to restore")
    problems = []
    for rid, (engine, _) in sorted(chosen.items()):
        why = decide.why_not_restorable(w.rds.restore_window(rid), engine, when)
        if why:
            problems.append(f"{rid}: {why}")
    if problems:
        raise Conflict(f"cannot restore to {when}: {'; '.join(problems)}; nothing was changed")
    restore_id = new_record_id("restore", int(now * 1000), secrets.token_hex(4))
    record = RestoreRecord(restore_id, "", service_instance_id, iso_utc(now),
                           decide.plan_point_in_time_items({r: c for r, c in chosen.items() if c[1]}, restore_id),
                           phase=RestorePhase.SAFETY_BACKUP if safety_backup else RestorePhase.RESTORING_DATABASES,
                           safety_backup=safety_backup, phase_started_epoch=now, started_epoch=now,
                           restore_time=when)
    # the request as asked (not the databases listed now, which a retry may see otherwise)
    request = {"ServiceInstanceId": service_instance_id, "Kind": "restore", "RestoreTime": when,
               "Databases": databases, "SafetyBackup": safety_backup}
    from .opening import fingerprint
    return open_restore(w, record, token, fingerprint(**request), now, meter)


def restore_window(w: Ports, service_instance_id: str) -> dict:
    """Per primary RDS instance of the service instance: the first and last second it can be restored to, or why
    there is none."""
    check_service_instance(w, service_instance_id)
    out = []
    for inst in discover(w, service_instance_id).databases:
        if not inst.primary:
            continue
        try:
            window = w.rds.restore_window(inst.db_instance_id)
        except CloudError as err:
            out.append({"DBInstanceId": inst.db_instance_id, "Engine": inst.engine, "Restorable": False,
                        "Reason": f"RDS did not answer ({err.code}: {err.message})"})
            continue
        why = decide.why_not_restorable(window, inst.engine)
        out.append({"DBInstanceId": inst.db_instance_id, "Engine": inst.engine, "Restorable": why is None,
                    "EarliestRestoreTime": window.begin if why is None else None,
                    "LatestRestoreTime": window.end if why is None else None,
                    "LogBackup": window.log_backup, "LogBackupRetentionDays": window.log_retention_days,
                    "Reason": why or ("" if recovery_time_listed(inst.engine) else
                                      "RDS lists no range for this engine: any second within the log backup "
                                      "retention may be asked, RDS judges it")})
    return {"ServiceInstanceId": service_instance_id, "DBInstances": out}
