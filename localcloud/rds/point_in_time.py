"""Point in time on the local RDS: whether an instance keeps logs to restore to a second (DescribeBackupPolicy
EnableBackupLog), the range it can restore to (DescribeLocalAvailableRecoveryTime), and which backup set a restore
to a given second starts from (RestoreTable with RestoreTime).

MySQL instances restore to a second from their MariaDB server's row-based binary logs (engines/binlog.py): from the
newest successful set whose dumps recorded a log position and that ended before the second, its logs replayed up
to it. PostgreSQL instances whose backup policy has log backup on (`LogBackup`, off by default: each backup then
also copies the whole server) restore from the newest set's base backup and the server's archived WAL
(engines/wal.py). The range starts when the oldest such set ended and ends now. Other instances (SQL Server, a
PostgreSQL one with log backup off, a server not logging or archiving) keep no log backups: EnableBackupLog 0, no
range, and RestoreTime is refused, as the service refuses it without log backup."""
from __future__ import annotations

import math
import time

from . import errors
from .engines.base import Engine, EngineError
from .engines.binlog import log_files, logging_rows
from .engines.mysql import MySqlEngine
from .engines.postgres import PgEngine
from .engines.wal import archive_dir
from .state import BACKUP

NOT_KEPT = {"SQLServer": "the local cloud keeps no SQL Server log backups"}


def why_no_logs(inst: dict, eng: Engine | None) -> str | None:
    """Why the instance keeps no logs to restore to a second (None: it does)."""
    try:
        if isinstance(eng, MySqlEngine):
            if not logging_rows(eng):
                return "its MariaDB server writes no row-based binary logs (log_bin, binlog_format=ROW: scripts/setup)"
            return None
        if isinstance(eng, PgEngine):
            if not inst.get("LogBackup"):
                return "log backup is off in its backup policy (LogBackup: each backup then takes a base backup)"
            if archive_dir(eng) is None:
                return "its PostgreSQL server does not archive its WAL (archive_mode, archive_command: scripts/setup)"
            return None
    except EngineError as err:
        return f"its server cannot be reached ({err})"
    return NOT_KEPT.get(inst.get("Engine", ""), "the instance has no database server")


def takes_base_backup(inst: dict, eng: Engine | None) -> bool:
    """A PostgreSQL instance with log backup on: each backup also copies the server (wal.base_backup)."""
    return isinstance(eng, PgEngine) and why_no_logs(inst, eng) is None


def _usable_sets(store, inst: dict, eng: Engine) -> list[dict]:
    """The instance's successful sets a restore to a second can start from, oldest first: MySQL, every dump with a log
    position still on the server; PostgreSQL, a base backup."""
    if isinstance(eng, MySqlEngine):
        files = set(log_files(eng))
        usable = lambda b: all(d.get("BinlogFile") in files for d in b["Databases"])  # noqa: E731
    else:
        usable = lambda b: bool(b.get("BaseBackup"))  # noqa: E731
    sets = store.find(BACKUP, lambda b: b["DBInstanceId"] == inst["DBInstanceId"] and b["Status"] == "Success"
                      and b.get("MetaStatus", "OK") == "OK" and b["Databases"] and usable(b))
    return sorted(sets, key=lambda b: float(b.get("EndEpoch") or 0))


def window(store, inst: dict, eng: Engine | None) -> tuple[float, float] | None:
    """The first and last second the instance can be restored to, or None."""
    if why_no_logs(inst, eng) or eng is None:
        return None
    sets = _usable_sets(store, inst, eng)
    if not sets:
        return None
    begin, end = float(math.ceil(float(sets[0]["EndEpoch"]))), float(math.floor(time.time()))
    return (begin, end) if begin <= end else None      # not a whole second since the first set yet


def set_for(store, inst: dict, eng: Engine | None, epoch: float) -> dict:
    """The set a restore to the second `epoch` starts from: the newest usable one that ended at or before it."""
    why = why_no_logs(inst, eng)
    if why or eng is None:
        raise errors.invalid("RestoreTime", f"The instance has no log backup ({why}), so it cannot be restored to a "
                                            f"point in time: pass BackupId.")
    if epoch > time.time():
        raise errors.invalid("RestoreTime", "The time is in the future.")
    usable = [b for b in _usable_sets(store, inst, eng) if float(b["EndEpoch"]) <= epoch]
    if not usable:
        raise errors.invalid("RestoreTime", "The time is outside the restorable time range "
                                            "(DescribeLocalAvailableRecoveryTime).")
    return usable[-1]
