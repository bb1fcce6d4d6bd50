"""Restore downtime on the local cloud, as ratios measured in this run: how long the service's ECS instances are
stopped during a restore of a backup with a large PostgreSQL database, against the same restore with a tiny one,
and against the whole restore's duration.

The databases are restored under new names while the service still runs (RestoringDatabases); the instances are
stopped only for the disk resets and the swap of names. Stopped time is measured twice: by a watcher polling
DescribeInstances every 0.1 s (any status but Running counts), and by the record's DowntimeSeconds.

Goals (issue 14): stopped(large) <= 1.2 x stopped(tiny); stopped(large) <= 0.3 x the whole restore.

The snapshots an undo needs are taken at the stop, before the disks are reset (issue 23), so their time is downtime:
the tiny restore runs once more with them off (NESTBACKUP_UNDO_HOURS=0), and the ratio of the two downtimes is
printed, with the record's own UndoSnapshotSeconds (a measure, no goal: it grows with what changed on the disks since
their last snapshot).

Usage: .venv/bin/python bench/restore_downtime.py [--large-mib 1024] [--undo-only]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(_var, None)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402
from timing import until_final  # noqa: E402


def make_database(name: str, mib: int) -> None:
    """A PostgreSQL database of about `mib` MiB: rows of 1 KiB (tiny: 100 rows)."""
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    rows = max(100, mib * 1024)
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id int PRIMARY KEY, payload text)")
        cur.execute("INSERT INTO t SELECT g, repeat(md5(g::text), 31) FROM generate_series(1, %s) g", (rows,))
        cur.execute("SELECT pg_database_size(current_database())")
        size = cur.fetchone()[0]
    print(f"  database {name}: {rows} rows, {size / 2**20:.0f} MiB", flush=True)


def drop_family(name: str) -> None:
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname = %s OR datname LIKE %s",
                    (name, name.replace("_", "\\_") + "\\_\\_%"))
        for (db,) in cur.fetchall():
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    admin.close()


class StoppedWatch:
    """Seconds the instance spends in any status but Running, polled every 0.1 s through the real ECS API."""

    def __init__(self, endpoint: str, instance_id: str) -> None:
        from tests.support import make_ecs
        self.ecs, self.instance_id = make_ecs(endpoint), instance_id
        self.stopped = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _status(self) -> str:
        from alibabacloud_ecs20140526 import models as ecs_m
        body = self.ecs.describe_instances(ecs_m.DescribeInstancesRequest(
            region_id="cn-hangzhou", instance_ids=json.dumps([self.instance_id]))).body
        return body.instances.instance[0].status

    def _run(self) -> None:
        last = time.monotonic()
        while not self._done.is_set():
            status = self._status()
            now = time.monotonic()
            if status != "Running":
                self.stopped += now - last
            last = now
            time.sleep(0.1)

    def stop(self) -> float:
        self._done.set()
        self._thread.join()
        return self.stopped


CHANGED_MIB = 32        # written to the disk after the backup: what its snapshot at the stop copies


def restore_once(label: str, mib: int, **env: str) -> dict:
    from localcloud.seed import seed
    from nestbackup.cli.client import ApiClient
    from nestbackup.cli.local import start_local_cloud

    db = f"bench_downtime_{label}"
    make_database(db, mib)
    server = start_local_cloud(tempfile.mkdtemp(prefix=f"bench-downtime-{label}-"), admin_token="bench", **env)
    try:
        si = f"si-downtime-{label}"
        seeded = seed(server.cloud, {"ServiceInstanceId": si, "Disks": 1, "DiskSize": "64MiB",
                                     "Postgres": f"postgresql://postgres@127.0.0.1:5432/postgres?databases={db}"})
        api = ApiClient(server.endpoint + "/api", "bench", timeout=3600)


        backup = api.call("POST", "/backups", {"ServiceInstanceId": si})
        backup = until_final(api, f"/backups/{backup['BackupId']}", "Creating")
        assert backup["Status"] == "Created", backup
        with open(seeded["Disks"][0]["Path"], "r+b") as f:     # what changed since the backup: the restore's reason
            f.write(os.urandom(CHANGED_MIB << 20))
        watch = StoppedWatch(server.endpoint, seeded["InstanceIds"][0])
        started = time.monotonic()
        restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
        restore = until_final(api, f"/restores/{restore['RestoreId']}", "Restoring")
        whole = time.monotonic() - started
        stopped = watch.stop()
        assert restore["Status"] == "Restored", restore["StatusDetail"]
        out = {"whole": whole, "stopped": stopped, "downtime": restore["DowntimeSeconds"],
               "snapshots": restore.get("UndoSnapshotSeconds")}
        print(f"  {label}: restore {whole:.1f} s, instance not Running {stopped:.1f} s "
              f"(record's DowntimeSeconds {restore['DowntimeSeconds']}, UndoSnapshotSeconds "
              f"{restore.get('UndoSnapshotSeconds')})", flush=True)
        return out
    finally:
        server.stop()
        drop_family(db)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large-mib", type=int, default=1024)
    parser.add_argument("--undo-only", action="store_true", help="only the snapshots at the stop: tiny, with and "
                                                                  "without them")
    args = parser.parse_args()
    without = restore_once("tiny_no_undo", 0, NESTBACKUP_UNDO_HOURS="0")
    tiny = restore_once("tiny", 0)
    print(f"stopped with the snapshots at the stop / without them: "
          f"{tiny['stopped'] / max(without['stopped'], 1e-9):.2f} (watcher), "
          f"{tiny['downtime'] / max(without['downtime'], 1e-9):.2f} (records' DowntimeSeconds); "
          f"UndoSnapshotSeconds / DowntimeSeconds: {(tiny['snapshots'] or 0) / max(tiny['downtime'], 1e-9):.2f}")
    if args.undo_only:
        return 0
    large = restore_once("large", args.large_mib)
    versus_tiny = large["stopped"] / max(tiny["stopped"], 1e-9)
    share = large["stopped"] / large["whole"]
    print(f"stopped with a {args.large_mib} MiB database / with a tiny one: {versus_tiny:.2f} (goal <= 1.2)")
    print(f"stopped / whole restore, {args.large_mib} MiB database: {share:.2f} (goal <= 0.3)")
    return 0 if versus_tiny <= 1.2 and share <= 0.3 else 1


if __name__ == "__main__":
    sys.exit(main())
