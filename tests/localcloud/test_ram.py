"""RAM on the local cloud: each function's role gets temporary credentials (passed in the function's context), and a
call signed with them is checked against the role's policy, answered with each product's documented refusal. The
unmodified SDKs make the calls."""
from __future__ import annotations

import pytest
from alibabacloud_ecs20140526 import models as ecs_m
from alibabacloud_kms20160120 import models as kms_m
from alibabacloud_rds20140815 import models as rds_m

from localcloud.cloud import LocalCloud
from localcloud.core.ram import allows
from localcloud.server import LocalCloudServer
from tests.support.clients import make_kms, openapi_config

ACCOUNT = "1234567890123456"
POLICY = {"Version": "1", "Statement": [
    {"Effect": "Allow", "Action": ["ecs:DescribeDisks"], "Resource": [f"acs:ecs:cn-hangzhou:{ACCOUNT}:*"]},
    {"Effect": "Allow", "Action": ["kms:GetSecretValue"], "Resource": [f"acs:kms:cn-hangzhou:{ACCOUNT}:secret/mine"]},
    {"Effect": "Allow", "Action": ["ots:GetRow"],
     "Resource": [f"acs:ots:cn-hangzhou:{ACCOUNT}:instance/nestbackup/table/mine"]},
    # scoped, though DescribeHistoryTasks is documented for All Resources: it allows nothing
    {"Effect": "Allow", "Action": ["rds:DescribeHistoryTasks"], "Resource": [f"acs:rds:cn-hangzhou:{ACCOUNT}:*"]}]}


def test_a_policy_allows_what_a_statement_allows_and_an_explicit_deny_wins():
    policy = {"Statement": [{"Effect": "Allow", "Action": ["ecs:Describe*"], "Resource": "*"},
                            {"Effect": "Deny", "Action": "ecs:DescribeDisks", "Resource": "acs:ecs:*:*:disk/d-2"}]}
    assert allows(policy, "ecs:describeinstances", "acs:ecs:cn-hangzhou:1:instance/i-1")     # actions: any case
    assert allows(policy, "ecs:DescribeDisks", "acs:ecs:cn-hangzhou:1:disk/d-1")
    assert not allows(policy, "ecs:DescribeDisks", "acs:ecs:cn-hangzhou:1:disk/d-2")       # Deny wins
    assert not allows(policy, "ecs:CreateSnapshot", "acs:ecs:cn-hangzhou:1:disk/d-1")      # nothing allows it
    assert not allows({"Statement": []}, "ecs:DescribeDisks", "*")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    server = LocalCloudServer(LocalCloud(tmp_path_factory.mktemp("ram"), s_yaml=None,
                                         role_policies={"nestbackup-test": POLICY}), port=0)
    server.start_in_thread()
    yield server
    server.stop()


def role_config(server, token: str | None = None):
    creds = server.cloud.ram.credentials_of("nestbackup-test")
    config = openapi_config(server.endpoint)
    config.access_key_id, config.access_key_secret = creds.access_key_id, creds.access_key_secret
    config.security_token = creds.security_token if token is None else token
    return config


def refusal(call):
    with pytest.raises(Exception) as caught:
        call()
    return caught.value.code, caught.value.statusCode


@pytest.mark.slow
def test_a_role_may_call_what_its_policy_allows_and_nothing_else(cloud):
    from alibabacloud_ecs20140526.client import Client as Ecs
    from alibabacloud_rds20140815.client import Client as Rds
    ecs, rds = Ecs(role_config(cloud)), Rds(role_config(cloud))
    assert ecs.describe_disks(ecs_m.DescribeDisksRequest(region_id="cn-hangzhou")).body.disks is not None
    assert refusal(lambda: ecs.describe_instances(ecs_m.DescribeInstancesRequest(region_id="cn-hangzhou"))) == \
        ("Forbidden.RAM", 403)
    # documented for All Resources: a statement scoped to the region allows it not
    assert refusal(lambda: rds.describe_history_tasks(rds_m.DescribeHistoryTasksRequest(region_id="cn-hangzhou"))) \
        == ("Forbidden.RAM", 403)


@pytest.mark.slow
def test_a_role_reads_only_the_secrets_its_policy_names(cloud):
    cloud.cloud.kms.put_secret("mine", "one")
    cloud.cloud.kms.put_secret("theirs", "two")
    creds = cloud.cloud.ram.credentials_of("nestbackup-test")
    kms = make_kms(cloud.endpoint, creds.access_key_secret, creds.access_key_id, creds.security_token)
    assert kms.get_secret_value(kms_m.GetSecretValueRequest(secret_name="mine")).body.secret_data == "one"
    assert refusal(lambda: kms.get_secret_value(kms_m.GetSecretValueRequest(secret_name="theirs"))) == \
        ("Forbidden.RAM", 403)
    # the account's own key may read every secret
    assert make_kms(cloud.endpoint).get_secret_value(kms_m.GetSecretValueRequest(secret_name="theirs")).body


@pytest.mark.slow
def test_a_role_key_needs_its_security_token(cloud):
    from alibabacloud_ecs20140526.client import Client as Ecs
    ecs = Ecs(role_config(cloud, token="not-the-token"))
    assert refusal(lambda: ecs.describe_disks(ecs_m.DescribeDisksRequest(region_id="cn-hangzhou")))[0] == \
        "InvalidSecurityToken.Mismatch"


@pytest.mark.slow
def test_tablestore_refuses_a_table_outside_the_policy_with_its_documented_code(cloud):
    import tablestore
    from tablestore.retry import NoRetryPolicy
    creds = cloud.cloud.ram.credentials_of("nestbackup-test")
    client = tablestore.OTSClient(cloud.endpoint, creds.access_key_id, creds.access_key_secret, "nestbackup",
                                  sts_token=creds.security_token, retry_policy=NoRetryPolicy())
    with pytest.raises(tablestore.OTSServiceError) as refused:
        client.get_row("theirs", [("p", "x")], max_version=1)
    assert (refused.value.code, refused.value.http_status) == ("OTSAuthFailed", 403)
    with pytest.raises(tablestore.OTSServiceError) as allowed_but_missing:    # allowed: past RAM, to the table
        client.get_row("mine", [("p", "x")], max_version=1)
    assert allowed_but_missing.value.code == "OTSObjectNotExist"


def test_a_function_gets_its_roles_credentials_in_its_context(tmp_path):
    cloud = LocalCloud(tmp_path, role_policies={"nestbackup-api": POLICY})
    try:
        context = cloud.fnf.functions.context("nestbackup-api")
        creds = cloud.ram.credentials_of("nestbackup-api")
        assert (context.credentials.access_key_id, context.credentials.security_token) == \
            (creds.access_key_id, creds.security_token)
        assert context.credentials.access_key_id.startswith("STS.")
        # a function whose role has no policy gets credentials that can call nothing
        assert cloud.fnf.functions.context("nestbackup-timer").credentials.access_key_id == ""
    finally:
        cloud.close()
