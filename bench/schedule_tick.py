"""One schedule tick that backs up N service instances on the local cloud (zero latency).

Prints the tick's time per instance as a ratio to the same for a single instance measured first in this run, the
time until every backup is final, and whether every record is final and none is lost.

Usage: .venv/bin/python bench/schedule_tick.py [--instances 1000]
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
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run(n: int) -> dict:
    from localcloud.seed import seed
    from nestbackup.cli.local import start_local_cloud
    from nestbackup.handlers import wiring
    from nestbackup.operations import backup, schedules

    server = start_local_cloud(tempfile.mkdtemp(prefix="bench-tick-"), admin_token="bench", flow_wait_scale=0.01)
    try:
        instances = [f"si-tick-{n}-{i:05d}" for i in range(n)]
        for si in instances:
            seed(server.cloud, {"ServiceInstanceId": si, "Disks": 1, "DiskSize": "1MiB", "Fill": False})
        w = wiring()
        now = time.time()
        for si in instances:
            schedules.set_schedule(w, si, "0 */2 * * *", keep_last=3, now=now - 3 * 3600)
        started = time.perf_counter()
        out = schedules.tick(w)
        tick_seconds = time.perf_counter() - started
        ids = [r["BackupId"] for r in out["Results"] if r.get("BackupId")]
        deadline = time.monotonic() + 1800
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline:
            statuses = {bid: backup.get_backup(w, bid)["Status"] for bid in ids}
            if all(s != "Creating" for s in statuses.values()):
                break
            time.sleep(1)
        all_final = time.perf_counter() - started
        listed = sum(len(backup.list_backups(w, si, 10)["Backups"]) for si in instances)
        return {"n": n, "tick": tick_seconds, "final": all_final, "fired": out["Fired"], "created": sum(
            s == "Created" for s in statuses.values()), "not_final": sum(s == "Creating" for s in statuses.values()),
                "listed": listed}
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    args = parser.parse_args()
    one = run(1)
    many = run(args.instances)
    ratio = (many["tick"] / many["n"]) / (one["tick"] / one["n"])
    print(f"tick for {many['n']} instances: {many['tick'] / many['n'] * 1000:.1f} ms per instance "
          f"({ratio:.2f} x the time per instance of a tick for 1)")
    print(f"every backup final after {many['final']:.0f} s: {many['not_final'] == 0}; fired {many['fired']}, "
          f"Created {many['created']}, records listed {many['listed']}; none lost: "
          f"{many['fired'] == many['n'] == many['created'] == many['listed']}")
    return 0 if many["not_final"] == 0 and many["fired"] == many["n"] == many["listed"] else 1


if __name__ == "__main__":
    sys.exit(main())
