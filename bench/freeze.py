"""How long quiesce hooks keep an instance frozen, against the snapshot group's whole creation time, in one run on
the local cloud (goal: the freeze ends when the group is created, a small fraction of the whole).

One hooked backup of an ECS instance with DISKS disks holding MIB_PER_DISK MiB of written data each, through the
product's API, flow and functions. The hooks run for real in the instance's sandbox: the pre hook's last act and the
post hook's first are timestamps, so the freeze is measured on the "instance": from the end of the pre hook to the
start of the post hook. The whole is measured from that same end of the pre hook (the group is created right after
it) to the moment DescribeSnapshotGroups first reports the group accomplished (polled every 10 ms).

Two things of the local cloud are not the real cloud's, and the bench says which figure each moves. Its snapshots
complete as fast as it hashes the data (a second or two here), where the real cloud's take minutes for a first full
snapshot: `--pace` holds each snapshot's completion that long (faults pace_ms), standing for the real duration
(PACE_DEFAULT, 20 s, is short of it). And it fixes a snapshot's content at creation by copying the disk's written
data in the kernel, so its CreateSnapshotGroup takes time in proportion to the data, where the real cloud's
copy-on-write answers in constant time: that copy is inside the freeze, and printed apart (`create`), so the ratio
here is an upper bound of the real one for the same data. Printed: the freeze, the whole, their ratio, the record's
own FrozenSeconds and the CreateSnapshotGroup call's time.

Usage: .venv/bin/python bench/freeze.py [--disks 4] [--mib 32] [--pace 20]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
    os.environ.pop(_var, None)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "shared"))

PRE = "sync; date +%s.%N > pre-ended"
POST = "date +%s.%N > post-started"


def write_data(path: str, mib: int) -> None:
    """The application's data: `mib` MiB of random bytes from the start of the disk."""
    block = os.urandom(1 << 20)
    with open(path, "r+b") as f:
        # every block differs (no dedup in the block store)
        f.writelines(block[i % 7:] + block[:i % 7] for i in range(mib))
        f.flush()
        os.fsync(f.fileno())


PACE_DEFAULT = 20.0


def run(disks: int, mib: int, pace: float) -> dict:
    from alibabacloud_ecs20140526 import models as m

    from localcloud.seed import seed
    from nestbackup.cli.client import ApiClient
    from nestbackup.cli.local import start_local_cloud
    from tests.support import make_ecs

    server = start_local_cloud(tempfile.mkdtemp(prefix="bench-freeze-"), admin_token="bench", flow_wait_scale=0.01)
    try:
        si = "si-bench-freeze"
        seeded = seed(server.cloud, {"ServiceInstanceId": si, "Disks": disks, "DiskSize": f"{mib + 8}MiB"})
        for d in seeded["Disks"]:
            write_data(d["Path"], mib)
        iid = seeded["InstanceIds"][0]
        if pace:
            server.cloud.faults.configure({"pace_ms": {d["DiskId"]: int(pace * 1000) for d in seeded["Disks"]}})
        create = _time_creates(server.cloud.ecs)
        api = ApiClient(server.endpoint + "/api", "bench", timeout=600)
        api.call("PUT", f"/service-instances/{si}/backup-settings",
                 {"Hooks": {"Pre": PRE, "Post": POST, "TimeoutSeconds": 60}})
        ecs = make_ecs(server.endpoint)
        record = api.call("POST", "/backups", {"ServiceInstanceId": si})
        accomplished = None
        while accomplished is None:
            groups = ecs.describe_snapshot_groups(m.DescribeSnapshotGroupsRequest(
                region_id="cn-hangzhou", instance_id=iid)).body.snapshot_groups.snapshot_group or []
            if groups and groups[0].status == "accomplished":
                accomplished = time.time()
            elif groups and groups[0].status == "failed":
                raise SystemExit(f"the snapshot group failed: {groups[0]}")
            time.sleep(0.01)
        while (final := api.call("GET", f"/backups/{record['BackupId']}"))["Status"] == "Creating":
            time.sleep(0.05)
        box = Path(server.cloud.state_dir) / "ecs" / "assistant" / iid
        pre_ended = float((box / "pre-ended").read_text())
        post_started = float((box / "post-started").read_text())
        return {"status": final["Status"], "frozen": post_started - pre_ended, "whole": accomplished - pre_ended,
                "record_frozen": final.get("FrozenSeconds"), "consistency": final.get("Consistency"),
                "create": create[0] if create else None}
    finally:
        server.stop()


def _time_creates(ecs) -> list[float]:
    """How long each CreateSnapshotGroup takes in the local cloud (its content copy at creation)."""
    took: list[float] = []
    create = ecs.CreateSnapshotGroup

    def timed(req):
        started = time.perf_counter()
        try:
            return create(req)
        finally:
            took.append(time.perf_counter() - started)
    ecs.CreateSnapshotGroup = timed
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--disks", type=int, default=4)
    parser.add_argument("--mib", type=int, default=32, help="MiB of written data per disk")
    parser.add_argument("--pace", type=float, default=PACE_DEFAULT,
                        help="seconds each snapshot takes to complete (0: as fast as the local cloud hashes)")
    args = parser.parse_args()
    out = run(args.disks, args.mib, args.pace)
    ratio = out["frozen"] / out["whole"]
    print(f"one snapshot group of {args.disks} disks x {args.mib} MiB written, each snapshot completing in "
          f"{args.pace or 'as fast as hashed'} s; backup {out['status']} ({out['consistency']})")
    print(f"CreateSnapshotGroup in the local cloud (its content copy, inside the freeze): {out['create']:.3f} s")
    print(f"frozen (pre hook end -> post hook start, on the instance): {out['frozen']:.3f} s "
          f"(the record's FrozenSeconds: {out['record_frozen']})")
    print(f"the group's whole creation (pre hook end -> accomplished): {out['whole']:.3f} s")
    print(f"ratio frozen / whole: {ratio:.3f} (goal: a small fraction)")
    print(json.dumps({"frozen_s": round(out["frozen"], 3), "whole_s": round(out["whole"], 3),
                      "ratio": round(ratio, 3), "create_s": round(out["create"], 3), "pace_s": args.pace}))


if __name__ == "__main__":
    main()
