"""A drill's time against the backup it proves, measured in the same run on the local cloud: one service instance
(disks of --disk-size, a PostgreSQL and a MariaDB database of about --db-mib MiB each) is backed up through the API,
then drilled (every artifact restored into scratch, checked, removed), and the two wall times are compared.

A drill restores what the backup took (scratch databases through RestoreTable, scratch disks built from the
snapshots' blocks, each block checked against its backup-time digest), checks the row counts and removes everything,
so it is expected to take about as long as the backup, a little more for the checks and the cleanup.

Goal: drill / backup <= 2.0 (a drill that takes far longer than the backup it proves would make proving every
backup too costly to do often).

Usage: .venv/bin/python bench/drill.py [--db-mib 64] [--disk-size 256MiB] [--disks 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(_var, None)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402
import pymysql  # noqa: E402
from timing import until_final  # noqa: E402

GOAL = 2.0


def make_databases(name: str, mib: int) -> None:
    """A PostgreSQL and a MariaDB database of about `mib` MiB each: rows of 1 KiB (at least 100)."""
    rows = max(100, mib * 1024)
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id int PRIMARY KEY, payload text)")
        cur.execute("INSERT INTO t SELECT g, repeat(md5(g::text), 31) FROM generate_series(1, %s) g", (rows,))
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"CREATE TABLE `{name}`.t (id int PRIMARY KEY, payload text)")
        cur.execute(f"USE `{name}`")
        batch = 10_000
        for start in range(1, rows + 1, batch):
            cur.execute(f"INSERT INTO `{name}`.t SELECT seq, REPEAT(MD5(seq), 31) FROM seq_{start}_to_"
                        f"{min(rows, start + batch - 1)}")   # MariaDB's Sequence engine
    conn.close()
    print(f"  databases {name}: {rows} rows each in PostgreSQL and MariaDB", flush=True)


def drop_databases(name: str) -> None:
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (name + "%",))
        for (db,) in cur.fetchall():
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    admin.close()
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
    with conn.cursor() as cur:
        cur.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s", (name + "%",))
        for (db,) in cur.fetchall():
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db-mib", type=int, default=64)
    parser.add_argument("--disk-size", default="256MiB")
    parser.add_argument("--disks", type=int, default=2)
    args = parser.parse_args()

    from localcloud.seed import seed
    from nestbackup.cli.client import ApiClient
    from nestbackup.cli.local import start_local_cloud

    name = "bench_drill"
    make_databases(name, args.db_mib)
    server = start_local_cloud(tempfile.mkdtemp(prefix="bench-drill-"), admin_token="bench")
    try:
        si = "si-bench-drill"
        seed(server.cloud, {"ServiceInstanceId": si, "Disks": args.disks, "DiskSize": args.disk_size,
                            "Postgres": f"postgresql://postgres@127.0.0.1:5432/postgres?databases={name}",
                            "MySQL": f"mysql://root@127.0.0.1:3306/?databases={name}"})
        api = ApiClient(server.endpoint + "/api", "bench", timeout=3600)


        started = time.monotonic()
        backup = api.call("POST", "/backups", {"ServiceInstanceId": si})
        backup = until_final(api, f"/backups/{backup['BackupId']}", "Creating")
        backup_s = time.monotonic() - started
        assert backup["Status"] == "Created", backup["StatusDetail"]

        started = time.monotonic()
        drill = api.call("POST", "/drills", {"BackupId": backup["BackupId"]})
        drill = until_final(api, f"/drills/{drill['DrillId']}", "Running")
        drill_s = time.monotonic() - started
        assert drill["Status"] == "Passed", drill["StatusDetail"]
        assert drill["CleanedUp"] and not drill["CleanupPending"]
    finally:
        server.stop()
        drop_databases(name)
    ratio = drill_s / max(backup_s, 1e-9)
    print(f"  backup {backup['BackupId']}: {backup_s:.1f} s; drill {drill['DrillId']}: {drill_s:.1f} s "
          f"(restored and checked in {drill['DurationSeconds']} s, the rest its cleanup)")
    for item in drill["Resources"]:
        print(f"    {item['ResourceType']:<5} {item['ResourceId']:<24} {item['DurationSeconds']} s  "
              f"{item['Verification']}")
    print(f"drill / backup of the same backup: {ratio:.2f} (goal <= {GOAL})")
    return 0 if ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
