"""The functions reach Tablestore the way s.yaml deploys them: on the instance's VPC endpoint, from the VPC bound to
it (vpcConfig). A deployment on the public endpoint, or without the VPC, is refused by the instance's network ACL
(localcloud/tablestore/network.py) on its first call, as a new real instance refuses it."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from localcloud.cloud import LocalCloud
from localcloud.server import LocalCloudServer
from nestbackup.adapters.tablestore import Tablestore
from nestbackup.cli.local import ADMIN_TOKEN_SECRET, OTS_INSTANCE, product_function_env
from tests.support.product import ADMIN, Api

ROOT = Path(__file__).resolve().parents[2]


def first_call(tmp_path: Path, doc: dict) -> tuple[int, dict]:
    """Deploy `doc` as s.yaml, bind vpc-nestbackup to the instance (the runbook's step), create the table from the
    operator's side, then list backups through the API function."""
    (tmp_path / "functions").symlink_to(ROOT / "functions")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    cloud = LocalCloud(tmp_path / "state", s_yaml=tmp_path / "s.yaml", function_env=product_function_env(),
                       http_triggers={"/api": "nestbackup-api"})
    cloud.kms.put_secret(ADMIN_TOKEN_SECRET, ADMIN)
    cloud.ots_instances.configure(OTS_INSTANCE, vpcs={"vpc-nestbackup": OTS_INSTANCE})
    server = LocalCloudServer(cloud, port=0)
    server.start_in_thread()
    try:
        Tablestore.connect(server.endpoint, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, OTS_INSTANCE,
                           table="nestbackup").ensure_table()
        status, body = Api(server.endpoint).call("GET", "/backups")          # every instance's: the admin's view
    finally:
        server.stop()
    return status, body


def s_yaml() -> dict:
    return yaml.safe_load((ROOT / "s.yaml").read_text())


def test_s_yaml_puts_the_functions_in_the_vpc_bound_to_the_tablestore_instance(tmp_path):
    status, body = first_call(tmp_path, s_yaml())
    assert status == 200, body


@pytest.mark.parametrize("change", ["public endpoint", "no vpcConfig"])
def test_a_deployment_outside_the_bound_vpc_is_refused_by_tablestore(tmp_path, change, caplog):
    doc = s_yaml()
    if change == "public endpoint":
        for key in ("environment", "dbEnvironment"):
            doc["vars"][key]["NESTBACKUP_OTS_ENDPOINT"] = "https://nestbackup.cn-hangzhou.ots.aliyuncs.com"
    else:
        for resource in doc["resources"].values():
            resource["props"].pop("vpcConfig", None)
    status, body = first_call(tmp_path, doc)
    assert status >= 500 and body["Code"] == "CloudError", body
    # the answer names the request; the function's log line under that id names the refusal
    logged = [getattr(r, "fields", {}) for r in caplog.records]
    assert any(f.get("request_id") == body["RequestId"] and f.get("code") == "OTSAuthFailed" for f in logged), logged
