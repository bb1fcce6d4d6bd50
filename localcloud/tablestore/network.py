"""The networks a Tablestore instance answers on: its network ACL and the VPCs bound to it, and the instance API
(Ots 2016-06-20, RPC) that binds and lists them.

Each instance has a public endpoint `https://<instance>.<region>.ots.aliyuncs.com` and, for each VPC bound to it
(BindInstance2Vpc), a VPC endpoint (`<instance>.<region>.vpc.tablestore.aliyuncs.com`; the SDK's example Domain is
`….cn-hangzhou.vpc.ots.aliyuncs.com`). "By default, Internet access is disabled for an instance" (Tablestore,
"Troubleshoot the 'Request denied by instance ACL policies' error"): a request on the public endpoint answers 403
`OTSAuthFailed` "Request denied by instance ACL policies.", and one from a VPC not bound to the instance
"Request denied because this instance can only be accessed from the binded VPC." (the Tablestore FAQ of that name).

Where a request arrives from: the local cloud serves every endpoint on one address, so the network is in the path.
A deployed function's Tablestore endpoint is rewritten (localcloud/fc/models.py) to `/_net/internet` for the public
endpoint and `/_net/vpc/<vpcId of the function's vpcConfig>` for a VPC endpoint (`-` when the function has no VPC:
the VPC name does not resolve outside one). A request without `/_net/` is the test harness on the local address,
not a modelled network, and is let through.
"""
from __future__ import annotations

from typing import Any

from ..core.errors import ServiceError
from ..core.product import Product
from ..core.rpc import RpcRequest

NETWORK = "ots.instance.network"
NETWORK_TYPES = frozenset({"VPC", "CLASSIC", "INTERNET"})
# The ACL of an instance nobody configured: Internet access off (the troubleshooting page above, 2026). The
# Tablestore 2020-12-09 SDK's UpdateInstance docstring and the Terraform provider (alicloud_ots_instance
# network_type_acl, default ["VPC", "CLASSIC", "INTERNET"]) describe the older default: UNCONFIRMED which one a new
# instance gets today; the product does not rely on either (it uses a bound VPC).
DEFAULT_NETWORK_TYPE_ACL = ("VPC", "CLASSIC")
ACL_DENIED = "Request denied by instance ACL policies."
VPC_DENIED = "Request denied because this instance can only be accessed from the binded VPC."


def arrival(path: str) -> tuple[str | None, str]:
    """(network, api) of a Tablestore request path: network is None (the harness), "INTERNET", or "VPC:<vpc-id>"."""
    parts = path.strip("/").split("/")
    if parts[0] != "_net":
        return None, "/".join(parts)
    if len(parts) >= 3 and parts[1] == "internet":
        return "INTERNET", "/".join(parts[2:])
    if len(parts) >= 4 and parts[1] == "vpc":
        return f"VPC:{parts[2]}", "/".join(parts[3:])
    return "INTERNET", parts[-1]


class TablestoreInstances(Product):
    """The instance API: BindInstance2Vpc, UnbindInstance2Vpc, ListVpcInfoByInstance; the ACL is seeded
    (`configure`), and checked for every data request."""

    name = "ots-instance"
    version = "2016-06-20"
    ACTIONS = frozenset({"BindInstance2Vpc", "UnbindInstance2Vpc", "ListVpcInfoByInstance"})

    def network(self, instance: str) -> dict[str, Any]:
        return self.cloud.store.get(NETWORK, instance) or {"NetworkTypeACL": list(DEFAULT_NETWORK_TYPE_ACL),
                                                           "Vpcs": {}}

    def configure(self, instance: str, network_type_acl: list[str] | None = None,
                  vpcs: dict[str, str] | None = None) -> dict:
        """Seeding (and the API below): set the ACL, bind VPCs ({vpcId: instanceVpcName})."""
        doc = self.network(instance)
        if network_type_acl is not None:
            bad = set(network_type_acl) - NETWORK_TYPES
            if bad:
                raise ValueError(f"NetworkTypeACL values {sorted(bad)}: use {sorted(NETWORK_TYPES)}")
            doc["NetworkTypeACL"] = sorted(set(network_type_acl))
        for vpc_id, name in (vpcs or {}).items():
            doc["Vpcs"][vpc_id] = {"InstanceVpcName": name}
        self.cloud.store.put(NETWORK, instance, doc)
        return doc

    def check(self, instance: str, network: str | None) -> None:
        """Refuse a data request the instance's network would refuse."""
        if network is None:
            return
        doc = self.network(instance)
        if network == "INTERNET":
            if "INTERNET" not in doc["NetworkTypeACL"]:
                raise ServiceError("OTSAuthFailed", ACL_DENIED, 403)
            return
        vpc_id = network.split(":", 1)[1]
        if "VPC" not in doc["NetworkTypeACL"]:
            raise ServiceError("OTSAuthFailed", ACL_DENIED, 403)
        if vpc_id not in doc["Vpcs"]:
            raise ServiceError("OTSAuthFailed", VPC_DENIED, 403)

    def _endpoint(self, instance: str) -> str:
        return f"{instance}.{self.cloud.region}.vpc.tablestore.aliyuncs.com"

    # ------------------------------------------------------------------------------------------------ API
    def BindInstance2Vpc(self, req: RpcRequest) -> dict:
        instance = req.require("InstanceName")
        self.configure(instance, vpcs={req.require("VpcId"): req.require("InstanceVpcName")})
        req.require("VirtualSwitchId")
        return {"Domain": self._endpoint(instance), "Endpoint": self._endpoint(instance)}

    def UnbindInstance2Vpc(self, req: RpcRequest) -> dict:
        instance = req.require("InstanceName")
        name = req.require("InstanceVpcName")
        doc = self.network(instance)
        doc["Vpcs"] = {v: d for v, d in doc["Vpcs"].items() if d["InstanceVpcName"] != name}
        self.cloud.store.put(NETWORK, instance, doc)
        return {}

    def ListVpcInfoByInstance(self, req: RpcRequest) -> dict:
        instance = req.require("InstanceName")
        vpcs = self.network(instance)["Vpcs"]
        infos = [{"VpcId": vpc_id, "InstanceVpcName": d["InstanceVpcName"], "Domain": self._endpoint(instance),
                  "Endpoint": self._endpoint(instance), "RegionNo": self.cloud.region}
                 for vpc_id, d in sorted(vpcs.items())]
        return {"InstanceName": instance, "TotalCount": len(infos), "PageNum": 1, "PageSize": max(len(infos), 10),
                "VpcInfos": {"VpcInfo": infos}}
