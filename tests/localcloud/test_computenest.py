"""Compute Nest through the unmodified official SDK (alibabacloud_computenest20210601): service instances, their
resources as ARNs, paging, the not-found code; and RDS read-only replicas as discovery sees them."""
import pytest
from alibabacloud_computenest20210601 import models as cn_m
from alibabacloud_rds20140815 import models as rds_m
from Tea.exceptions import TeaException

from tests.support import PG_DSN, openapi_config

ACCOUNT = "1234567890123456"


@pytest.fixture
def cn(endpoint):
    from alibabacloud_computenest20210601.client import Client
    return Client(openapi_config(endpoint))


def resources(cn, si, **kw):
    return cn.list_service_instance_resources(cn_m.ListServiceInstanceResourcesRequest(
        region_id="cn-hangzhou", service_instance_id=si, **kw)).body


def test_a_seeded_service_instance_is_deployed_and_lists_its_instance_and_rds_as_arns(cn, control):
    seeded = control.seed(ServiceInstanceId="si-cn1", Disks=2, DiskSize="1MiB", Postgres=PG_DSN)
    got = cn.get_service_instance(cn_m.GetServiceInstanceRequest(region_id="cn-hangzhou",
                                                                 service_instance_id="si-cn1")).body
    assert got.service_instance_id == "si-cn1" and got.status == "Deployed"
    body = resources(cn, "si-cn1")
    arns = [r.resource_arn for r in body.resources]
    # disks are not listed by default (LISTS_DISKS, UNCONFIRMED): the instance and the RDS instance are
    assert arns == [f"acs:ecs:cn-hangzhou:{ACCOUNT}:instance/{seeded['InstanceIds'][0]}",
                    f"acs:rds:cn-hangzhou:{ACCOUNT}:dbinstance/{seeded['DBInstances'][0]['DBInstanceId']}"]
    assert body.next_token == "" and body.max_results == 20


def test_paging_defaults_to_20_and_refuses_more_than_100(cn, control):
    seeded = control.seed(ServiceInstanceId="si-cn2", Disks=25, DiskSize="1MiB", Fill=False,
                          ComputeNest={"ListsDisks": True})
    first = resources(cn, "si-cn2")
    assert len(first.resources) == 20 and first.next_token
    rest = resources(cn, "si-cn2", next_token=first.next_token)
    assert len(rest.resources) == 6 and rest.next_token == ""
    disks = {a.resource_arn.rsplit("/", 1)[1] for a in first.resources + rest.resources if ":disk/" in a.resource_arn}
    assert disks == {d["DiskId"] for d in seeded["Disks"]}
    with pytest.raises(TeaException) as err:
        resources(cn, "si-cn2", max_results=101)
    assert err.value.code == "InvalidParameter"
    only = resources(cn, "si-cn2", filters=[cn_m.ListServiceInstanceResourcesRequestFilters(
        name="ResourceARN", values=["arn:acs:ecs:*:*:instance/*"])])
    assert [r.resource_arn.rsplit("/", 1)[1] for r in only.resources] == seeded["InstanceIds"]


def test_an_unknown_service_instance_is_service_instance_not_found(cn):
    for call in (lambda: cn.get_service_instance(cn_m.GetServiceInstanceRequest(
                     region_id="cn-hangzhou", service_instance_id="si-nope")),
                 lambda: resources(cn, "si-nope")):
        with pytest.raises(TeaException) as err:
            call()
        assert err.value.code == "ServiceInstanceNotFound" and err.value.statusCode == 404


def test_a_read_only_replica_reports_its_type_and_refuses_create_backup(rds, control):
    seeded = control.seed(ServiceInstanceId="si-cn3", Disks=0, Postgres=PG_DSN, ReadOnlyReplicas=1)
    primary, replica = (d["DBInstanceId"] for d in seeded["DBInstances"])
    items = rds.describe_dbinstances(rds_m.DescribeDBInstancesRequest(
        region_id="cn-hangzhou", dbinstance_id=replica)).body.items.dbinstance
    assert [(i.dbinstance_type, i.master_instance_id) for i in items] == [("Readonly", primary)]
    only_replicas = rds.describe_dbinstances(rds_m.DescribeDBInstancesRequest(
        region_id="cn-hangzhou", dbinstance_type="Readonly")).body.items.dbinstance
    assert replica in {i.dbinstance_id for i in only_replicas} and primary not in {i.dbinstance_id for i in only_replicas}
    with pytest.raises(TeaException) as err:
        rds.create_backup(rds_m.CreateBackupRequest(dbinstance_id=replica))
    assert err.value.code == "OperationDenied.DBInstanceType" and err.value.statusCode == 403
    assert rds.create_backup(rds_m.CreateBackupRequest(dbinstance_id=primary)).body.backup_job_id


def test_compute_nest_is_served_from_its_two_regions_only(cn, control):
    """The Endpoints page lists computenest.cn-hangzhou and computenest.ap-southeast-1 only."""
    control.seed(ServiceInstanceId="si-cn-region", Disks=1, DiskSize="1MiB", Fill=False)
    with pytest.raises(TeaException) as err:
        cn.get_service_instance(cn_m.GetServiceInstanceRequest(region_id="cn-beijing",
                                                               service_instance_id="si-cn-region"))
    assert err.value.code == "UnsupportedRegion"


def test_functions_outside_compute_nests_regions_ask_the_region_that_serves_their_service_instances(tmp_path):
    """Functions (and service instances' resources) in cn-beijing: the product asks Compute Nest in cn-hangzhou,
    the default of NESTBACKUP_COMPUTENEST_REGION, and finds the instance with its cn-beijing resources."""
    from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
    from localcloud.cloud import LocalCloud
    from localcloud.server import LocalCloudServer
    from nestbackup.settings import Settings
    from nestbackup.wiring import Wiring
    from tests.support import Control

    server = LocalCloudServer(LocalCloud(tmp_path / "state", region="cn-beijing"), port=0)
    server.start_in_thread()
    try:
        seeded = Control(server.endpoint).seed(ServiceInstanceId="si-beijing", Disks=1, DiskSize="1MiB", Fill=False)
        settings = Settings.from_env({"NESTBACKUP_REGION": "cn-beijing", "NESTBACKUP_CLOUD_ENDPOINT": server.endpoint,
                                      "ALIBABA_CLOUD_ACCESS_KEY_ID": DEFAULT_ACCESS_KEY_ID,
                                      "ALIBABA_CLOUD_ACCESS_KEY_SECRET": DEFAULT_ACCESS_KEY_SECRET})
        catalog = Wiring(settings).computenest
        assert catalog.service_instance("si-beijing") is not None
        assert settings.computenest_region == "cn-hangzhou"
        listed = catalog.resources("si-beijing")
        assert [r.resource_id for r in listed if r.kind == "instance"] == seeded["InstanceIds"]
        assert all(":cn-beijing:" in r.arn for r in listed)
    finally:
        server.stop()
