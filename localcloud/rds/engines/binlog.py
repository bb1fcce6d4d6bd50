"""MariaDB point in time from the server's own row-based binary logs: a backup's dump records the log position it is
consistent with (mariadb-dump --master-data=2), and a point-in-time restore loads that dump into the new name, then
replays the logged changes of the one database from that position up to the chosen second (mariadb-binlog
--database, --rewrite-db, --stop-datetime), fed to the mariadb client. scripts/start-databases turns the logs on
(log_bin, binlog_format=ROW); a server without them keeps no position, and the restore is refused."""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone
from pathlib import Path

from .base import EngineError
from .tools import run, tool

# mariadb-dump --master-data=2 writes the position as a comment before the data.
_POSITION = re.compile(r"^-- CHANGE MASTER TO MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=(\d+);")


def logging_rows(eng) -> bool:
    """Whether the server writes row-based binary logs (the only ones a replay of one database can trust)."""
    rows = eng._query("SELECT @@log_bin, @@binlog_format")
    return bool(rows) and str(rows[0][0]) in ("1", "ON") and str(rows[0][1]).upper() == "ROW"


def dump_position(path: Path) -> tuple[str, int] | None:
    """The binary log position a --master-data=2 dump is consistent with (read from its head)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f):
            m = _POSITION.match(line)
            if m:
                return m[1], int(m[2])
            if n > 200:
                return None
    return None


def log_files(eng) -> list[str]:
    """The binary log files the server still has, oldest first."""
    return [r[0] for r in eng._query("SHOW BINARY LOGS")]


def replay(eng, original: str, into: str, log_file: str, position: int, stop_epoch: float, workdir: Path,
           stopping) -> None:
    """Apply to `into` the changes the binary logs hold for `original` from (log_file, position) to before the second
    `stop_epoch` (mariadb-binlog's --stop-datetime excludes events logged at or after it)."""
    files = log_files(eng)
    if log_file not in files:
        raise EngineError(f"the binary log {log_file} the backup starts from is no longer on the server")
    stop = datetime.fromtimestamp(stop_epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    script = workdir / f"replay-{secrets.token_hex(6)}.sql"
    try:
        with open(script, "wb") as out:
            run([tool("mariadb-binlog", "mysqlbinlog"), "--no-defaults", "--read-from-remote-server",
                 f"--host={eng.dsn.host}", f"--port={eng.dsn.port}", f"--user={eng.dsn.user}",
                 f"--start-position={position}", f"--stop-datetime={stop}", f"--database={original}",
                 f"--rewrite-db={original}->{into}", *files[files.index(log_file):]],
                {**eng._env(), "TZ": "UTC"}, stdout=out, stopping=stopping)
        with open(script, "rb") as stdin:
            run([tool("mariadb", "mysql"), *eng._args(), "--binary-mode", f"--database={into}"], eng._env(),
                stdin=stdin, stopping=stopping)
    finally:
        script.unlink(missing_ok=True)
