"""Each function runs at most its s.yaml `timeout`, as on FC: a step past it ends with FC's timeout error, the flow's
Retry and Catch treat it as any error of the invocation, and the record is closed, not left running. The product is
deployed from a copy of s.yaml whose backup steps have a 3-second timeout (FC accepts 1-86,400); one ECS call is
slowed past it."""
import uuid
from pathlib import Path

import pytest
import yaml

from tests.support import Control
from tests.support.product import Api, start_product

ROOT = Path(__file__).resolve().parents[2]
STEP_TIMEOUT = 3


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    where = tmp_path_factory.mktemp("short-timeouts")
    doc = yaml.safe_load((ROOT / "s.yaml").read_text())
    doc["resources"]["backup-steps"]["props"]["timeout"] = STEP_TIMEOUT
    (where / "functions").symlink_to(ROOT / "functions")
    (where / "s.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    server = start_product(tmp_path_factory, s_yaml=str(where / "s.yaml"))
    yield server
    server.stop()


def test_the_deployed_timeout_is_the_one_enforced(product):
    functions = product.cloud.fnf.functions
    assert functions.timeout("nestbackup-backup-steps") == STEP_TIMEOUT
    assert functions.timeout("nestbackup-api") == 60                        # s.yaml's own


def test_a_step_past_its_timeout_fails_and_the_catch_closes_the_record(product):
    api, control, si = Api(product.endpoint), Control(product.endpoint), "si-" + uuid.uuid4().hex[:12]
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    slow = (STEP_TIMEOUT + 2) * 1000
    control.faults(action_latency_ms={"ecs:DescribeSnapshots": slow, "ecs:DescribeSnapshotGroups": slow})
    try:
        status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
        assert status == 202, record
        final = api.wait(record["BackupId"], timeout=180)
    finally:
        control.clear_faults()
    assert final["Status"] == "CreateFailed", final
    assert f"Function time out after {STEP_TIMEOUT} seconds" in final["StatusDetail"], final
    # nothing stuck: the lock is free and the next backup of the instance runs through
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    assert api.wait(record["BackupId"])["Status"] == "Created"
