"""Prompt records on the local cloud, as ratios measured in this run: a backup of disks whose snapshots take mixed
durations (the local cloud's per-resource `pace_ms`), polled with the adaptive schedule and, as the baseline, with the
doubling schedule (NESTBACKUP_POLL_SCHEDULE=doubling), each on its own local cloud with real-time flow waits.

For each: how long after its last snapshot finished the record became final, as a ratio to the goal
max(5 s, 5 % of the backup's elapsed time) (goal <= 1), and the DescribeSnapshots calls per resource-hour, adaptive
as a ratio to doubling (goal <= 1).

Usage: .venv/bin/python bench/prompt_records.py [--seconds 15,45,150]
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


def _snapshot_done(cloud, disk_id: str) -> bool:
    """Read from the local cloud's store, not through the API, so the watcher adds no DescribeSnapshots call."""
    return bool(cloud.store.find("ecs.snapshot", lambda s: s.get("SourceDiskId") == disk_id
                                 and s.get("Status") == "accomplished"))


def run(schedule: str, seconds: list[int]) -> dict:
    from localcloud.seed import seed
    from nestbackup.cli.client import ApiClient
    from nestbackup.cli.local import start_local_cloud

    server = start_local_cloud(tempfile.mkdtemp(prefix=f"bench-prompt-{schedule}-"), admin_token="bench",
                               NESTBACKUP_POLL_SCHEDULE=schedule)
    try:
        si = f"si-prompt-{schedule}"
        seeded = seed(server.cloud, {"ServiceInstanceId": si, "Disks": len(seconds), "DiskSize": "4MiB",
                                     "Category": "cloud_efficiency"})        # one snapshot per disk
        disks = [d["DiskId"] for d in seeded["Disks"]]
        server.cloud.faults.configure({"pace_ms": {d: s * 1000 for d, s in zip(disks, seconds)}})
        api = ApiClient(server.endpoint + "/api", "bench", timeout=600)
        before = server.cloud.stats.snapshot().get("ecs:DescribeSnapshots", 0)
        started = time.time()
        record = api.call("POST", "/backups", {"ServiceInstanceId": si})
        finished: dict[str, float] = {}
        while True:          # when each snapshot finished, as the cloud saw it (a 0.2 s watcher)
            now = time.time()
            for disk in disks:
                if disk not in finished and _snapshot_done(server.cloud, disk):
                    finished[disk] = now
            current = api.call("GET", f"/backups/{record['BackupId']}")
            if current["Status"] != "Creating":
                break
            time.sleep(0.2)
        final_at = time.time()
        describes = server.cloud.stats.snapshot().get("ecs:DescribeSnapshots", 0) - before
        last = max(finished.values()) if len(finished) == len(disks) else final_at
        elapsed = final_at - started
        late = max(0.0, final_at - last)
        goal = max(5.0, 0.05 * elapsed)
        hours = sum(seconds) / 3600
        out = {"status": current["Status"], "late": late, "goal": goal, "elapsed": elapsed,
               "describes_per_resource_hour": describes / hours}
        print(f"  {schedule}: {current['Status']} after {elapsed:.0f} s; final {late:.1f} s after the last snapshot "
              f"(goal {goal:.1f} s); DescribeSnapshots {describes} ({describes / hours:.0f} per resource-hour)",
              flush=True)
        return out
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", default="15,45,150", help="each snapshot's duration")
    args = parser.parse_args()
    seconds = [int(x) for x in args.seconds.split(",")]
    doubling = run("doubling", seconds)
    adaptive = run("adaptive", seconds)
    lateness = adaptive["late"] / adaptive["goal"]
    calls = adaptive["describes_per_resource_hour"] / doubling["describes_per_resource_hour"]
    print(f"adaptive: record final after its last resource / max(5 s, 5 % of elapsed): {lateness:.2f} (goal <= 1; "
          f"doubling: {doubling['late'] / doubling['goal']:.2f})")
    print(f"DescribeSnapshots per resource-hour, adaptive / doubling: {calls:.2f} (goal <= 1)")
    ok = adaptive["status"] == doubling["status"] == "Created" and lateness <= 1 and calls <= 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
