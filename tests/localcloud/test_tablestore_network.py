"""Tablestore's networks: an instance refuses the Internet by default and answers a VPC only once it is bound
(OTSAuthFailed, 403, the troubleshooting pages' messages); the instance API (Ots 2016-06-20) binds and lists VPCs.
Through the unmodified `tablestore` SDK and the generic OpenAPI client."""
from __future__ import annotations

import pytest
from tablestore import OTSServiceError

from tests.support import make_ots

INSTANCE = "netcheck"


def instance_api(endpoint: str):
    from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
    from nestbackup.adapters.openapi import Credentials, RpcClient
    return RpcClient(endpoint, "2016-06-20", Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET),
                     "cn-hangzhou")


def refusal(endpoint: str) -> OTSServiceError:
    with pytest.raises(OTSServiceError) as err:
        make_ots(endpoint, instance=INSTANCE).list_table()
    return err.value


def test_the_public_endpoint_is_refused_and_a_vpc_is_answered_once_bound(endpoint):
    public = refusal(endpoint + "/_net/internet")
    assert (public.get_http_status(), public.get_error_code(), public.get_error_message()) == (
        403, "OTSAuthFailed", "Request denied by instance ACL policies.")
    unbound = refusal(endpoint + "/_net/vpc/vpc-app")
    assert (unbound.get_http_status(), unbound.get_error_code(), unbound.get_error_message()) == (
        403, "OTSAuthFailed", "Request denied because this instance can only be accessed from the binded VPC.")

    api = instance_api(endpoint)
    bound = api.call("BindInstance2Vpc", {"InstanceName": INSTANCE, "VpcId": "vpc-app", "VirtualSwitchId": "vsw-1",
                                          "InstanceVpcName": "app", "Network": "VPC"})
    assert bound["Domain"] == f"{INSTANCE}.cn-hangzhou.vpc.tablestore.aliyuncs.com"
    listed = api.call("ListVpcInfoByInstance", {"InstanceName": INSTANCE})
    assert listed["TotalCount"] == 1 and [v["VpcId"] for v in listed["VpcInfos"]["VpcInfo"]] == ["vpc-app"]
    assert make_ots(endpoint + "/_net/vpc/vpc-app", instance=INSTANCE).list_table() == ()
    assert refusal(endpoint + "/_net/vpc/vpc-other").get_error_code() == "OTSAuthFailed"
    assert refusal(endpoint + "/_net/internet").get_error_code() == "OTSAuthFailed"
