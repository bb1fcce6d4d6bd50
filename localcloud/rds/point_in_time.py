"""Point in time on the local RDS: whether an instance keeps logs to restore to a second (DescribeBackupPolicy
EnableBackupLog), the range it can restore to (DescribeLocalAvailableRecoveryTime), and which backup set a restore
to a given second starts from (RestoreTable with RestoreTime).

MySQL instances restore to a second from their MariaDB server's row-based binary logs (engines/binlog.py): from the
newest successful set whose dumps recorded a log position and that ended before the second, its logs replayed up
to it. The range starts when the oldest such set ended (its log file still on the server) and ends now. PostgreSQL
and SQL Server instances keep no log backups here (no WAL archive, no log backups of SQL Server): EnableBackupLog 0,
no range, and RestoreTime is refused, as the service refuses it without log backup."""
from __future__ import annotations

import math
import time

from . import errors
from .engines.base import Engine, EngineError
from .engines.binlog import log_files, logging_rows
from .engines.mysql import MySqlEngine
from .state import BACKUP

NOT_KEPT = {"PostgreSQL": "the local cloud keeps no PostgreSQL WAL archive",
            "SQLServer": "the local cloud keeps no SQL Server log backups"}


def why_no_logs(inst: dict, eng: Engine | None) -> str | None:
    """Why the instance keeps no logs to restore to a second (None: it does)."""
    if not isinstance(eng, MySqlEngine):
        return NOT_KEPT.get(inst.get("Engine", ""), "the instance has no database server")
    try:
        if not logging_rows(eng):
            return "its MariaDB server writes no row-based binary logs (log_bin, binlog_format=ROW: scripts/setup)"
    except EngineError as err:
        return f"its server cannot be reached ({err})"
    return None


def _usable_sets(store, inst: dict, eng: Engine) -> list[dict]:
    """The instance's successful sets whose every dump recorded a log position still on the server, oldest first."""
    files = set(log_files(eng))
    sets = store.find(BACKUP, lambda b: b["DBInstanceId"] == inst["DBInstanceId"] and b["Status"] == "Success"
                      and b.get("MetaStatus", "OK") == "OK" and b["Databases"]
                      and all(d.get("BinlogFile") in files for d in b["Databases"]))
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
