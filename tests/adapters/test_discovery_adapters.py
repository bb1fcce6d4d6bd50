"""The discovery adapters over the generic client against the local cloud: RDS paging by NextToken, types of
replicas, and Compute Nest's resource list across pages."""
from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from nestbackup.adapters.computenest import VERSION as CN_VERSION
from nestbackup.adapters.computenest import ComputeNest
from nestbackup.adapters.openapi import Credentials, RpcClient
from nestbackup.adapters.rds import VERSION as RDS_VERSION
from nestbackup.adapters.rds import Rds
from tests.support import PG_DSN


def client(endpoint, version):
    return RpcClient(endpoint, version, Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET), "cn-hangzhou")


def test_rds_instances_tagged_follow_next_token_past_one_page(cloud_server, endpoint):
    ids = {cloud_server.cloud.rds.create_instance("PostgreSQL", PG_DSN, tags={"k": "many"})["DBInstanceId"]
           for _ in range(103)}
    found = Rds(client(endpoint, RDS_VERSION)).instances_tagged("k", "many")
    assert {d.db_instance_id for d in found} == ids and len(found) == 103


def test_rds_describe_instances_reads_a_replicas_type_and_primary(cloud_server, endpoint):
    rds = cloud_server.cloud.rds
    primary = rds.create_instance("PostgreSQL", PG_DSN, tags={})["DBInstanceId"]
    replica = rds.create_instance("PostgreSQL", PG_DSN, tags={}, db_type="Readonly",
                                  master_instance_id=primary)["DBInstanceId"]
    found = Rds(client(endpoint, RDS_VERSION)).describe_instances([primary, replica, "rm-missing"])
    assert found[primary].primary and not found[replica].primary
    assert (found[replica].db_instance_type, found[replica].master_instance_id) == ("Readonly", primary)
    assert "rm-missing" not in found


def test_compute_nest_lists_every_resource_across_pages_and_knows_unknown_instances(cloud_server, endpoint):
    cn = cloud_server.cloud.computenest
    arns = [cn.resource_arn("ecs", "disk", f"d-{n:03}") for n in range(130)]
    cn.create_service_instance("si-pages", arns, lists_disks=True)
    adapter = ComputeNest(client(endpoint, CN_VERSION))
    listed = adapter.resources("si-pages")
    assert [r.resource_id for r in listed] == [f"d-{n:03}" for n in range(130)]
    assert adapter.service_instance("si-pages").status == "Deployed"
    assert adapter.service_instance("si-unknown") is None
