"""Backup figures on the local cloud (zero latency), each a ratio or a count measured in this run:

- DescribeSnapshots calls per poll round for N = 10, 100, 1,000 disks (goal: ceil(N/100));
- flow transitions per poll round (goal: the same for every N);
- the cold start of the heaviest handler (import, plus every import its first invocation makes, plus building
  its clients) as a ratio to importing the ECS + RDS + FNF + Tablestore SDK clients (goal <= 0.4).

Usage: .venv/bin/python bench/backup_scaling.py [--sizes 10,100,1000] [--rounds 8]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(_var, None)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from timing import SDK_CLIENTS, best_of  # noqa: E402

STEPS = "fc:nestbackup-backup-steps"     # prepare, one start per batch, the poll rounds, finalize


def poll_round_costs(n: int, rounds: int) -> tuple[float, float, str]:
    from localcloud.seed import seed
    from nestbackup.cli.client import ApiClient
    from nestbackup.cli.local import start_local_cloud

    server = start_local_cloud(tempfile.mkdtemp(prefix="bench-backup-"), admin_token="bench", flow_wait_scale=0.002)
    try:
        si = f"si-bench-{n}"
        seeded = seed(server.cloud, {"ServiceInstanceId": si, "Disks": n, "DiskSize": "1MiB", "Fill": False,
                                     "Category": "cloud_efficiency"})       # plain snapshots, no groups
        server.cloud.faults.configure({"stuck": [d["DiskId"] for d in seeded["Disks"]]})
        api = ApiClient(server.endpoint + "/api", "bench", timeout=600)
        record = api.call("POST", "/backups", {"ServiceInstanceId": si})
        stats = server.cloud.stats

        before_polls = 1 + math.ceil(n / 25)                 # prepare and the start batches

        def at_round(k: int) -> dict:
            while stats.snapshot().get(STEPS, 0) < before_polls + k:
                time.sleep(0.001)
            time.sleep(0.05)        # let that round's calls finish (the next starts after a Wait)
            return stats.snapshot()

        first = at_round(3)         # skip start-up: the first rounds also start snapshots
        last = at_round(3 + rounds)
        done_rounds = last[STEPS] - first[STEPS]
        describes = (last.get("ecs:DescribeSnapshots", 0) - first.get("ecs:DescribeSnapshots", 0)) / done_rounds
        transitions = (last.get("flow:transitions", 0) - first.get("flow:transitions", 0)) / done_rounds
        server.cloud.faults.clear()
        while api.call("GET", f"/backups/{record['BackupId']}")["Status"] == "Creating":
            time.sleep(0.1)
        final = api.call("GET", f"/backups/{record['BackupId']}")["Status"]
        return describes, transitions, final
    finally:
        server.stop()


HANDLER_COLD = f"""
import importlib.util, os
os.environ.update(ALIBABA_CLOUD_ACCESS_KEY_ID="ak", ALIBABA_CLOUD_ACCESS_KEY_SECRET="sk",
                  NESTBACKUP_CLOUD_ENDPOINT="http://127.0.0.1:9")
spec = importlib.util.spec_from_file_location("index", {str(ROOT / 'functions/nestbackup-backup-steps/index.py')!r})
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
from nestbackup.handlers import operation, wiring
operation(module.OPERATIONS["Poll"])      # the poll step's operation, imported on its first invocation
w = wiring()
w.ecs, w.rds, w.flows, w.records          # what the first invocation builds (no call is made)
"""
HANDLER_MODULE = HANDLER_COLD.split("from nestbackup.handlers")[0]



def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    ok = True
    per_round = {}
    for n in [int(x) for x in args.sizes.split(",")]:
        describes, transitions, final = poll_round_costs(n, args.rounds)
        goal = math.ceil(n / 100)
        per_round[n] = transitions
        ok &= abs(describes - goal) < 0.5 and final == "Created"
        print(f"N={n:>5}: DescribeSnapshots calls per poll round {describes:.1f} (goal {goal}); "
              f"flow transitions per poll round {transitions:.1f}; backup ended {final}")
    spread = max(per_round.values()) - min(per_round.values())
    ok &= spread < 0.5
    print(f"flow transitions per poll round, spread across N: {spread:.1f} (goal: 0, independent of N)")
    bare, sdks = best_of("pass"), best_of(SDK_CLIENTS)
    module_only, cold, floor = best_of(HANDLER_MODULE), best_of(HANDLER_COLD), best_of("import tablestore")
    scale = sdks - bare
    print(f"poll handler module import / SDK clients import: {(module_only - bare) / scale:.2f} "
          f"(SDKs are imported on first use)")
    print(f"poll handler cold start (module + first invocation's imports and clients) / SDK clients import: "
          f"{(cold - bare) / scale:.2f} (goal <= 0.4; `import tablestore` alone: {(floor - bare) / scale:.2f}; "
          f"interpreter start-up {bare * 1000:.0f} ms subtracted)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
