"""A local cloud killed with SIGKILL mid-snapshot and started again on the same state dir loses nothing committed."""
import os
import signal

import pytest
from alibabacloud_ecs20140526 import models as m

from tests.support import Control, free_port, make_ecs, make_ots, sha256_of, spawn_local_cloud, wait_until


def _snapshot(ecs, sid):
    body = ecs.describe_snapshots(m.DescribeSnapshotsRequest(region_id="cn-hangzhou",
                                                             snapshot_ids=f'["{sid}"]')).body
    return body.snapshots.snapshot[0] if body.snapshots.snapshot else None


def _disk(ecs, did):
    return ecs.describe_disks(m.DescribeDisksRequest(region_id="cn-hangzhou", disk_ids=f'["{did}"]')).body.disks.disk[0]


def _instance_status(ecs, iid):
    return ecs.describe_instances(m.DescribeInstancesRequest(region_id="cn-hangzhou",
                                                             instance_ids=f'["{iid}"]')).body.instances.instance[0].status


@pytest.mark.timeout(600)
def test_sigkill_mid_snapshot_loses_no_committed_row_or_snapshot(tmp_path):
    from tablestore import (
        CapacityUnit,
        Condition,
        ReservedThroughput,
        Row,
        RowExistenceExpectation,
        TableMeta,
        TableOptions,
    )
    port, state = free_port(), tmp_path / "state"
    proc, endpoint = spawn_local_cloud(state, port)
    try:
        seeded = Control(endpoint).seed(ServiceInstanceId="si-restart", Disks=1, DiskSize="256MiB")
        disk, iid = seeded["Disks"][0], seeded["InstanceIds"][0]
        ecs, ots = make_ecs(endpoint), make_ots(endpoint)
        ots.create_table(TableMeta("records", [("pk", "STRING")]), TableOptions(),
                         ReservedThroughput(CapacityUnit(0, 0)))
        for i in range(50):
            ots.put_row("records", Row([("pk", f"row-{i:03d}")], [("n", i)]),
                        Condition(RowExistenceExpectation.EXPECT_NOT_EXIST))

        first = ecs.create_snapshot(m.CreateSnapshotRequest(disk_id=disk["DiskId"], snapshot_name="first")).body
        wait_until(lambda: _snapshot(ecs, first.snapshot_id).status == "accomplished")
        at_first = sha256_of(disk["Path"])
        with open(disk["Path"], "r+b") as f:      # change a third of the disk, so the second snapshot copies
            for offset in range(0, 256 << 20, 3 << 20):
                f.seek(offset)
                f.write(os.urandom(1 << 20))
        at_second = sha256_of(disk["Path"])
        second = ecs.create_snapshot(m.CreateSnapshotRequest(disk_id=disk["DiskId"], snapshot_name="second")).body
        proc.send_signal(signal.SIGKILL)            # mid-snapshot
        proc.wait(10)

        proc, _ = spawn_local_cloud(state, port)
        ecs, ots = make_ecs(endpoint), make_ots(endpoint)
        consumed, next_pk, rows, token = ots.get_range("records", "FORWARD", [("pk", "")], [("pk", "~")])
        assert [r.primary_key[0][1] for r in rows] == [f"row-{i:03d}" for i in range(50)]
        assert _snapshot(ecs, first.snapshot_id).status == "accomplished"
        assert _snapshot(ecs, second.snapshot_id) is not None, "the snapshot in progress was lost"
        wait_until(lambda: _snapshot(ecs, second.snapshot_id).status in ("accomplished", "failed"))
        assert _snapshot(ecs, second.snapshot_id).status == "accomplished"

        # Both snapshots hold exactly the data of their time.
        ecs.stop_instances(m.StopInstancesRequest(region_id="cn-hangzhou", instance_id=[iid]))
        wait_until(lambda: _instance_status(ecs, iid) == "Stopped")
        for sid, expected in ((first.snapshot_id, at_first), (second.snapshot_id, at_second)):
            ecs.reset_disk(m.ResetDiskRequest(disk_id=disk["DiskId"], snapshot_id=sid))
            wait_until(lambda: _disk(ecs, disk["DiskId"]).status == "In_use")
            assert sha256_of(disk["Path"]) == expected
    finally:
        proc.kill()
        proc.wait(10)


def test_a_server_started_beside_an_in_process_cloud_uses_its_own_table(tmp_path):
    """An in-process local cloud binds its functions' environment into this process (NESTBACKUP_OTS_ENDPOINT, …,
    LocalCloud.bind); a `local serve` started meanwhile must not inherit it: it would reach that cloud's table, which
    refuses anyone outside its functions' VPC, and exit at start (as a whole-suite run once showed)."""
    from localcloud.tablestore.network import NETWORK
    from nestbackup.cli.local import start_local_cloud
    beside = start_local_cloud(str(tmp_path / "beside"))
    # that cloud's table now answers no VPC: a server reaching it through the bound endpoint would be refused
    beside.cloud.store.put(NETWORK, "nestbackup", {"NetworkTypeACL": ["VPC", "CLASSIC"], "Vpcs": {}})
    try:
        proc, endpoint = spawn_local_cloud(tmp_path / "own")
        try:
            assert Control(endpoint).call("GET", "/_local/health")["StateDir"] == str(tmp_path / "own")
        finally:
            proc.kill()
            proc.wait(10)
    finally:
        beside.stop()
