"""Soak: 200 service instances scheduled every minute for 10 simulated minutes, 5 % of them hostile, with injected
throttling, a slow webhook and restores that fail: every other schedule fires on time, every record ends final, no
instance is left stopped, and no webhook is delivered twice.

Time is simulated for the schedules (each tick is given its minute) while the backups run for real on the local
cloud; a tick starts once the previous minute's backups are final, as they would be long before the next minute.
"""
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nestbackup.handlers import wiring
from nestbackup.operations import notify, schedules
from tests.support import Control, make_ecs, wait_until
from tests.support.product import Api, start_product

INSTANCES, MINUTES = 200, 10
pytestmark = pytest.mark.timeout(1800)


class Hook:
    """A webhook receiver that takes `delay` seconds to answer, counting deliveries by id."""

    def __init__(self, delay: float) -> None:
        self.ids: Counter = Counter()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["content-length"]))
                outer.ids[self.headers["webhook-id"]] += 1
                time.sleep(delay)
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    server = start_product(tmp_path_factory, NESTBACKUP_SCHEDULE_MIN_INTERVAL_MINUTES="1",
                           NESTBACKUP_WEBHOOK_ALLOW_PRIVATE="1", NESTBACKUP_WEBHOOK_DEADLINE_SECONDS="5")
    yield server
    server.stop()


def test_200_instances_for_10_minutes_with_hostile_neighbours(product, monkeypatch):
    api, control, w = Api(product.endpoint), Control(product.endpoint), wiring()
    # the tick's pacing over its minute is bench/scale_10k.py's and tests/operations/test_scale.py's subject; here
    # 200 starts a tick are spread over 5 s, not 40, so ten ticks do not add six minutes of waiting
    monkeypatch.setattr(schedules, "SPREAD_SECONDS", 5)
    run = f"{int(time.time()) % 100000:05d}"
    names = [f"si-soak{run}-{n:03d}" for n in range(INSTANCES)]
    never_fires, failing_disk, unknown, redirecting = names[:3], names[3:6], names[6:8], names[8:10]
    hostile = set(never_fires + failing_disk + unknown + redirecting)
    slow, fast = Hook(delay=2.0), Hook(delay=0.0)

    seeded = {si: control.seed(ServiceInstanceId=si, Disks=1, DiskSize="1MiB", Fill=False)
              for si in names if si not in unknown}
    t0 = (int(time.time()) // 60) * 60
    for si in names:
        if si in never_fires:       # stored before crons were checked: a tick cannot evaluate it
            w.documents.put_doc(schedules.SCHEDULES, si, {"Cron": "0 0 30 2 *", "LastFire": t0 - 60})
        elif si in unknown:         # stored before unknown instances were refused: Compute Nest does not know it
            w.documents.put_doc(schedules.SCHEDULES, si, {"Cron": "* * * * *", "KeepLast": 3, "LastFire": t0 - 60})
        else:
            schedules.set_schedule(w, si, "* * * * *", keep_last=3, now=t0 - 60)
    for n, (group, url) in enumerate(((names[10:20], slow.url), (names[20:30], fast.url), (redirecting, None))):
        if url is None:           # a receiver that redirects to the fast one: never followed
            url = f"{product.endpoint}/_local/health"
        status, body = api.call("POST", "/tenants", {"Name": f"soak{run}-{n}", "Instances": group, "Webhook": url})
        assert status == 201, body
    control.faults(throttle=0.05, fail=[seeded[si]["Disks"][0]["DiskId"] for si in failing_disk],
                   products=["ecs", "rds", "fnf"], seed=11)

    fired_per_minute = []
    for minute in range(MINUTES):
        now = t0 + 60 * minute + 1
        out = schedules.tick(w, now=now)
        fired = {r["ServiceInstanceId"]: r["BackupId"] for r in out["Results"] if r.get("BackupId")}
        errors = {r["ServiceInstanceId"] for r in out["Results"] if r.get("Error")}
        fired_per_minute.append(fired)
        assert set(names) - hostile <= set(fired), f"minute {minute}: {sorted(set(names) - hostile - set(fired))}"
        assert set(never_fires) <= errors                        # each fails alone, on its own schedule
        wait_until(lambda: all(api.call("GET", f"/backups/{b}")[1]["Status"] != "Creating"
                               for b in fired.values()), timeout=600)
        notify.deliver_due(w, now=time.time())
    control.clear_faults()

    for minute, fired in enumerate(fired_per_minute):
        for si, backup_id in fired.items():
            record = api.call("GET", f"/backups/{backup_id}")[1]
            assert record["Status"] in ("Created", "PartiallyCreated", "CreateFailed", "Deleting", "Deleted"), (
                minute, record)
            if si in failing_disk:
                assert record["Status"] in ("PartiallyCreated", "CreateFailed", "Deleted") and \
                    "SnapshotFailed" in record["StatusDetail"]
    for si in never_fires:
        assert api.call("GET", f"/service-instances/{si}/schedule")[1]["LastError"]

    # restores of a few instances, two of them failing mid-way: every instance ends Running
    targets = names[30:36]
    broken = targets[:2]          # their disks refuse the reset for good (IncorrectDiskStatus is waited out since
    #                               adapters/ecs.RESET_WAIT_CODES): the restore fails mid-way
    control.faults(reject={seeded[si]["Disks"][0]["DiskId"]: "InvalidParameter.Mismatch" for si in broken},
                   throttle=0.05, products=["ecs"], seed=5)
    restores = []
    for si in targets:
        latest = fired_per_minute[-1][si]
        status, restore = api.call("POST", "/restores", {"BackupId": latest, "SafetyBackup": False})
        assert status == 202, restore
        restores.append(restore["RestoreId"])
    ended = [api.wait(restore_id, timeout=600)["Status"] for restore_id in restores]
    assert ended == ["RestoreFailed"] * 2 + ["Restored"] * 4, ended
    control.clear_faults()
    ecs = make_ecs(product.endpoint)
    from alibabacloud_ecs20140526 import models as ecs_m
    instance_ids = [iid for si in seeded for iid in seeded[si]["InstanceIds"]]
    statuses = {}
    for start in range(0, len(instance_ids), 100):
        body = ecs.describe_instances(ecs_m.DescribeInstancesRequest(
            region_id="cn-hangzhou", instance_ids=json.dumps(instance_ids[start:start + 100]), max_results=100)).body
        statuses.update({i.instance_id: i.status for i in body.instances.instance})
    assert set(statuses.values()) == {"Running"}, Counter(statuses.values())

    wait_until(lambda: sum(slow.ids.values()) >= 10 * MINUTES and sum(fast.ids.values()) >= 10 * MINUTES,
               timeout=120)
    for hook in (slow, fast):
        assert max(hook.ids.values()) == 1, [k for k, v in hook.ids.items() if v > 1]
    assert len(fast.ids) == 10 * MINUTES and len(slow.ids) == 10 * MINUTES
