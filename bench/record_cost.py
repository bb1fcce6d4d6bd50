"""What a record says it cost, against what the cloud served and what the plan estimated, as ratios from one run.

One backup, then one restore of it, of a service instance with disks and a real PostgreSQL database, on its own
local cloud. The record's `Cost.Calls` (the cloud calls its steps made, by product) is compared with the calls the
local cloud itself counted while the operation ran, less the bench's own reads of the record; what the record cannot
hold is printed: its own final write and the closing after it (lock, client token, notifications). Then the
backup's money estimate is compared with `plan`'s, item by item: the plan is an upper bound (goal <= 1 each).
Flow transitions and function invocations on the record are compared with the local CloudFlow's and FC's counts.

Usage: .venv/bin/python bench/record_cost.py [--disks 4]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(_var, None)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PLAN_ROUNDS = 12        # the poll rounds decisions/plan.py assumes


def _by_product(calls: dict[str, int]) -> Counter:
    out: Counter = Counter()
    for action, n in calls.items():
        out[action.split(":", 1)[0]] += n
    return out


def _final(wiring, record_id: str, timeout: float = 600) -> dict:
    """Wait for the record through the product's own store adapter; its reads are subtracted (see run)."""
    from nestbackup.operations.loading import read_backup, read_restore
    read = read_restore if record_id.startswith("restore-") else read_backup
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = read(wiring, record_id)[1].to_api()
        if record["Status"] not in ("Creating", "Restoring") and record.get("Cost"):
            return record
        time.sleep(0.5)
    raise SystemExit(f"{record_id} did not end in {timeout} s")


def run(disks: int) -> int:
    import psycopg2

    from localcloud.seed import seed
    from nestbackup.cli.client import ApiClient
    from nestbackup.cli.local import start_local_cloud
    from nestbackup.wiring import Settings, Wiring

    database = f"bench_cost_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{database}"')
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=database) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id int primary key, v text)")
        cur.execute("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 10000) g")
    server = start_local_cloud(tempfile.mkdtemp(prefix="bench-cost-"), admin_token="bench")
    try:
        si = "si-bench-cost"
        seed(server.cloud, {"ServiceInstanceId": si, "Disks": disks, "DiskSize": "8MiB",
                           "Postgres": f"postgresql://postgres@127.0.0.1:5432/postgres?databases={database}"})
        api = ApiClient(server.endpoint + "/api", "bench", timeout=600)
        wiring = Wiring(Settings.from_env())
        planned = api.call("GET", f"/service-instances/{si}/plan")["Estimate"]
        ok, finals = True, {}
        wiring.take_calls()          # the bench's own set-up
        for kind in ("backup", "restore"):
            served_before = server.cloud.stats.snapshot()
            if kind == "backup":
                record_id = api.call("POST", "/backups", {"ServiceInstanceId": si})["BackupId"]
            else:
                record_id = api.call("POST", "/restores", {"BackupId": finals["backup"]["BackupId"],
                                                           "SafetyBackup": False})["RestoreId"]
            watcher = Counter(wiring.take_calls())
            _final(wiring, record_id)
            time.sleep(2)            # the closing after the final write (lock, token, notifications)
            final = finals[kind] = _final(wiring, record_id)
            watcher.update(wiring.take_calls())
            served = server.cloud.stats.snapshot()
            # Calls only: the local cloud also counts function invocations ("fc:") and flow work ("flow:").
            served_calls = Counter({k: served.get(k, 0) - served_before.get(k, 0) for k in served
                                    if not k.startswith(("fc:", "flow:"))})
            served_calls.subtract(watcher)
            metered = Counter(final["Cost"]["Calls"])
            ratio = sum(metered.values()) / max(1, sum(served_calls.values()))
            missed = {k: n - metered[k] for k, n in served_calls.items() if n - metered[k]}
            print(f"{kind} {final['Status']}: calls on the record / calls the cloud served: {ratio:.2f} "
                  f"(by product: " + ", ".join(f"{p} {n}/{_by_product(served_calls)[p]}"
                                               for p, n in sorted(_by_product(metered).items())) + ")", flush=True)
            print(f"  not on the record: {missed or 'none'} (the record's final write and the closing after it)")
            invocations = sum(served.get(k, 0) - served_before.get(k, 0) for k in served if k.startswith("fc:"))
            transitions = served.get("flow:transitions", 0) - served_before.get("flow:transitions", 0)
            print(f"  invocations on the record / served: {final['Cost']['Invocations']}/{invocations}; flow "
                  f"transitions on the record / the local CloudFlow's count: {final['Cost']['FlowTransitions']}/"
                  f"{transitions}", flush=True)
            ok = ok and final["Status"] in ("Created", "Restored") and ratio <= 1 and \
                final["Cost"]["Invocations"] == invocations and final["Cost"]["FlowTransitions"] == transitions
        backup = finals["backup"]
        usd = backup["Cost"]["CostUSD"]
        ratios = {k: usd[k] / planned["CostUSD"][k] for k in usd if planned["CostUSD"].get(k)}
        print("backup, record's cost / plan's estimate: "
              + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items())
              + f"; total {backup['Cost']['TotalUSD'] / planned['TotalUSD']:.2f} (goal <= 1 each: the plan is an "
              f"upper bound, pricing whole disks, databases as allocated and {PLAN_ROUNDS} poll rounds)")
        ok = ok and all(v <= 1 for v in ratios.values())
        return 0 if ok else 1
    finally:
        server.stop()
        with admin.cursor() as cur:          # and the copies the restore made of it (restored, set aside)
            cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (database + "%",))
            for (name,) in cur.fetchall():
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disks", type=int, default=4)
    return run(parser.parse_args().disks)


if __name__ == "__main__":
    sys.exit(main())
