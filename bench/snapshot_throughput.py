"""Snapshot throughput of the local cloud's ECS against `cp` of the same image file.

Starts a LocalCloud in-process, seeds one disk of --size, fills its image with random data, then times
1. `cp` of the image to a file in the same file system,
2. a first snapshot through the unmodified SDK (CreateSnapshot, then DescribeSnapshots every 20 ms until
   accomplished),
3. a re-snapshot of the unchanged image (reuses the manifest without reading, see localcloud/ecs/blockstore.py).
Prints ratios only; exits 0.

    .venv/bin/python bench/snapshot_throughput.py [--size 1GiB]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_var, None)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_REGION  # noqa: E402
from localcloud.cloud import LocalCloud  # noqa: E402
from localcloud.seed import parse_size, seed  # noqa: E402
from localcloud.server import LocalCloudServer  # noqa: E402

POLL_S = 0.02


def fill_random(path: str, size: int) -> None:
    chunk = 16 << 20
    with open(path, "r+b") as f:
        written = 0
        while written < size:
            n = min(chunk, size - written)
            f.write(os.urandom(n))
            written += n
        f.flush()
        os.fsync(f.fileno())


def snapshot(ecs, m, disk_id: str) -> float:
    started = time.perf_counter()
    sid = ecs.create_snapshot(m.CreateSnapshotRequest(disk_id=disk_id)).body.snapshot_id
    while True:
        snap = ecs.describe_snapshots(m.DescribeSnapshotsRequest(
            region_id=DEFAULT_REGION, snapshot_ids=json.dumps([sid]))).body.snapshots.snapshot[0]
        if snap.status == "accomplished":
            return time.perf_counter() - started
        if snap.status == "failed":
            raise SystemExit(f"snapshot {sid} failed")
        time.sleep(POLL_S)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1GiB", help="disk size, e.g. 256MiB or 1GiB")
    parser.add_argument("--dir", default=None, help="state directory (default: a temporary one, removed after)")
    args = parser.parse_args()
    size = parse_size(args.size)

    state = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="snapbench-"))
    cloud = LocalCloud(state)
    server = LocalCloudServer(cloud, port=0)
    server.start_in_thread()
    try:
        from alibabacloud_ecs20140526 import models as m
        from alibabacloud_ecs20140526.client import Client
        from alibabacloud_tea_openapi import models as oa
        ecs = Client(oa.Config(access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
                               region_id=DEFAULT_REGION, endpoint=server.endpoint.removeprefix("http://"),
                               protocol="http", read_timeout=60000))
        out = seed(cloud, {"ServiceInstanceId": "si-bench", "Disks": 1, "DiskSize": size, "Fill": False})
        disk = out["Disks"][0]
        fill_random(disk["Path"], size)
        ecs.describe_disks(m.DescribeDisksRequest(region_id=DEFAULT_REGION))  # warm the HTTP session

        copy = state / "cp-target.img"
        os.sync()  # each timed phase starts with no dirty pages of an earlier one being written back
        started = time.perf_counter()
        subprocess.run(["cp", disk["Path"], str(copy)], check=True)
        cp_s = time.perf_counter() - started
        copy.unlink()

        os.sync()
        time.sleep(0.2)  # let the image's timestamps age past the change-detection guard
        first_s = snapshot(ecs, m, disk["DiskId"])
        again_s = snapshot(ecs, m, disk["DiskId"])
        rows = cloud.store.query("SELECT reused, blocks_written FROM ecs_manifests ORDER BY rowid")
    finally:
        server.stop()
        if not args.dir:
            shutil.rmtree(state, ignore_errors=True)

    print(f"image {size / (1 << 20):.0f} MiB: cp {cp_s:.2f} s, first snapshot {first_s:.2f} s, "
          f"unchanged re-snapshot {again_s:.3f} s (blocks written {rows[0][1]} then {rows[1][1]}, "
          f"manifest reused: {bool(rows[1][0])})")
    print(f"snapshot throughput vs cp: {cp_s / first_s:.2f} (goal >= 0.7)")
    print(f"unchanged re-snapshot time / first snapshot time: {again_s / first_s:.2f} (goal <= 0.2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
