"""CloudFlow's documented API rate limits hold on the local cloud (localcloud/fnf/ratelimits.py), and the product
backs off when they refuse it instead of failing: a cancel, whose DescribeExecution and StopExecution calls find
their buckets empty, still stops the execution and closes the record."""
import time

from alibabacloud_fnf20190315 import models as fnf_m
from alibabacloud_tea_openapi.exceptions import ClientException

from tests.support import make_fnf
from tests.support.executions import ended_execution


def drain(call) -> None:
    """Call until CloudFlow throttles: the operation's bucket is empty."""
    for _ in range(500):
        try:
            call()
        except ClientException as err:
            assert err.code == "Throttling", err
            return
    raise AssertionError("never throttled")


def test_a_cancel_backs_off_while_cloudflow_throttles_and_still_stops_the_flow(product, api, control, si):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    control.faults(stuck=[d["DiskId"] for d in seeded["Disks"]])
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    backup_id, deadline = record["BackupId"], time.monotonic() + 30
    while api.call("GET", f"/backups/{backup_id}")[1]["Resources"][0]["Status"] != "Running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    fnf = make_fnf(product.endpoint, patient=False)
    flow = "nestbackup-backup"
    drain(lambda: fnf.describe_execution(fnf_m.DescribeExecutionRequest(flow_name=flow, execution_name=backup_id)))
    drain(lambda: fnf.describe_flow(fnf_m.DescribeFlowRequest(name=flow)))     # "other operations": StopExecution's
    before = control.stats()
    try:
        status, cancelled = api.call("POST", f"/backups/{backup_id}/cancel")
    finally:
        control.clear_faults()
    assert status == 200 and cancelled["Status"] not in ("Creating", "Created"), cancelled     # closed as a cancel
    after = control.stats()
    calls = {k: after.get(k, 0) - before.get(k, 0) for k in ("fnf:DescribeExecution", "fnf:StopExecution")}
    assert calls["fnf:DescribeExecution"] > 4 or calls["fnf:StopExecution"] > 1, calls   # refused, asked again
    assert ended_execution(make_fnf(product.endpoint), flow, backup_id).status == "Stopped"
