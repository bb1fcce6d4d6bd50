"""PostgreSQL point in time from the server's own archived WAL: a backup of an instance with log backup on also takes
a physical base backup of the server (pg_basebackup), and a restore to a second copies that base into a temporary
data directory, starts a temporary server on it that replays the archived WAL up to the second
(recovery_target_time, recovery_target_inclusive off: every commit before the second, none at or after it), dumps
the databases from it and stops it; the dumps are then restored into the new names as any restore. scripts/setup
turns archiving on (archive_mode, an archive_command copying into one directory); a server without it keeps no
position to recover from, and the restore is refused."""
from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from .base import EngineError
from .tools import run, tool

# The archive_command scripts/start-databases writes: `test ! -f DIR/%f && cp %p DIR/%f`.
_ARCHIVE = re.compile(r"cp %p (/\S+)/%f")
BASE = "base"                 # the base backup's directory inside a backup set's directory
ARCHIVE_WAIT_SECONDS = 30
RECOVERY_WAIT_SECONDS = 120


def archive_dir(eng) -> Path | None:
    """Where the server archives its WAL, when it does (archive_mode on, an archive_command as setup writes it)."""
    rows = eng._query("SELECT current_setting('archive_mode'), current_setting('archive_command')")
    if not rows or rows[0][0] != "on":
        return None
    found = _ARCHIVE.search(rows[0][1] or "")
    return Path(found[1]) if found else None


def base_backup(eng, directory: Path, stopping) -> None:
    """A physical copy of the whole server, consistent with the WAL streamed beside it."""
    run([tool("pg_basebackup"), "--pgdata", str(directory / BASE), "--format=plain", "--wal-method=stream",
         "--checkpoint=fast", "--no-sync", "--no-password"], eng._env(), stopping=stopping)


def _archived_up_to_now(eng) -> None:
    """Switch to a new WAL segment and wait until the one just closed is archived: the commits so far are then in
    the archive (a segment is archived only once full or switched)."""
    closed = eng._query("SELECT pg_walfile_name(pg_switch_wal())")[0][0]
    deadline = time.monotonic() + ARCHIVE_WAIT_SECONDS
    while time.monotonic() < deadline:
        last = eng._query("SELECT last_archived_wal FROM pg_stat_archiver")[0][0] or ""
        if last[:24] >= closed:
            return
        time.sleep(0.2)
    raise EngineError(f"the WAL segment {closed} was not archived within {ARCHIVE_WAIT_SECONDS} s")


def _bindir(eng) -> Path:
    major = int(eng._query("SHOW server_version_num")[0][0]) // 10000
    for candidate in (Path(f"/usr/lib/postgresql/{major}/bin"), Path(f"/usr/pgsql-{major}/bin")):
        if (candidate / "pg_ctl").exists():
            return candidate
    return Path(tool("pg_ctl")).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    """The server refuses to run as root: as root, run it as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def dumps_at(eng, backup_dir: Path, names: list[str], stop_epoch: float, workdir: Path, stopping) -> dict[str, Path]:
    """Each database as it was before the second `stop_epoch`, dumped (pg_dump custom format) from a temporary server
    recovered from the set's base backup and the archived WAL; the temporary server and its data are removed."""
    archive = archive_dir(eng)
    if archive is None:
        raise EngineError("the server no longer archives its WAL")
    if not (backup_dir / BASE).is_dir():
        raise EngineError("the backup set has no base backup")
    _archived_up_to_now(eng)
    # The server runs as the postgres user (as root) and must reach its directory: a fresh one under the system's
    # temporary directory, not the cloud's state directory (whose parents may be closed to other users).
    data = Path(tempfile.mkdtemp(prefix="localcloud-pitr-")) / "data"
    shutil.copytree(backup_dir / BASE, data, symlinks=True)
    port = _free_port()
    target = datetime.fromtimestamp(stop_epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S+00")
    (data / "postgresql.conf").write_text(
        f"port = {port}\nlisten_addresses = ''\nunix_socket_directories = '{data}'\narchive_mode = off\n"
        f"restore_command = 'cp {archive}/%f %p'\nrecovery_target_time = '{target}'\n"
        f"recovery_target_inclusive = off\nrecovery_target_action = 'promote'\nhot_standby = off\n")
    (data / "pg_hba.conf").write_text("local all all trust\n")
    (data / "pg_ident.conf").write_text("")
    (data / "recovery.signal").write_text("")
    (data / "postgresql.auto.conf").write_text("")
    if os.geteuid() == 0:
        shutil.chown(data.parent, "postgres", "postgres")
        shutil.chown(data, "postgres", "postgres")
        for root, dirs, files in os.walk(data):
            for name in dirs + files:
                shutil.chown(os.path.join(root, name), "postgres", "postgres")
    os.chmod(data, 0o700)
    pg_ctl = str(_bindir(eng) / "pg_ctl")
    log = data / "recovery.log"
    out: dict[str, Path] = {}
    try:
        run(_as_server_user([pg_ctl, "--pgdata", str(data), "--log", str(log), "--wait", "--timeout",
                             str(RECOVERY_WAIT_SECONDS), "start"]), {}, stopping=stopping)
        env = {"PGHOST": str(data), "PGPORT": str(port), "PGUSER": eng.dsn.user, "PGCONNECT_TIMEOUT": "5"}
        _wait_promoted(env, log, stopping)
        for name in names:
            path = workdir / f"pitr-{secrets.token_hex(6)}.dump"
            run([tool("pg_dump"), "--format=custom", "--file", str(path)], {**env, "PGDATABASE": name},
                stopping=stopping)
            out[name] = path
        return out
    except EngineError:
        for path in out.values():
            path.unlink(missing_ok=True)
        raise
    finally:
        try:
            run(_as_server_user([pg_ctl, "--pgdata", str(data), "--mode", "immediate", "stop"]), {})
        except EngineError:
            pass                # not running (it failed to start, or stopped itself)
        shutil.rmtree(data.parent, ignore_errors=True)


def _wait_promoted(env: dict[str, str], log: Path, stopping) -> None:
    """Until the temporary server has recovered to the target and accepts connections (it refuses them while it
    replays); a recovery that cannot reach the target stops the server, said with its log's last line."""
    deadline = time.monotonic() + RECOVERY_WAIT_SECONDS
    while time.monotonic() < deadline and not stopping():
        try:
            if run([tool("psql"), "--no-psqlrc", "--tuples-only", "--no-align", "--dbname", "postgres", "--command",
                    "SELECT pg_is_in_recovery()"], env).strip() == "f":
                return
        except EngineError:
            pass
        text = log.read_text(errors="replace") if log.exists() else ""
        if "database system is shut down" in text:
            last = [line for line in text.splitlines() if "FATAL" in line][-1:] or ["it stopped"]
            raise EngineError(f"the recovery to the second failed: {last[0]}")
        time.sleep(0.25)
    raise EngineError(f"the temporary server did not finish its recovery within {RECOVERY_WAIT_SECONDS} s")
