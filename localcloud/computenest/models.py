"""Compute Nest (2021-06-01): service instances, their status and the cloud resources deployed for them.

Emulated: GetServiceInstance and ListServiceInstanceResources, the two calls the product discovers a service
instance's resources with. Service instances are created by seeding (localcloud/seed.py), never over the API.
Sources: SDK alibabacloud_computenest20210601 4.5.3 (GetServiceInstanceResponseBody,
ListServiceInstanceResourcesRequest/ResponseBody), the API reference pages, and the Terraform provider
(alicloud/service_alicloud_compute_nest.go) for the not-found code.
"""
from __future__ import annotations

import fnmatch
from typing import Any

from ..core.errors import ServiceError, invalid
from ..core.product import Product
from ..core.rpc import RpcRequest, offset_token_page

SERVICE_INSTANCE = "computenest.serviceinstance"
# The eight statuses GetServiceInstance/ListServiceInstances document (SDK GetServiceInstanceResponseBody.status).
STATUSES = frozenset({"Created", "Deploying", "DeployedFailed", "Deployed", "Upgrading", "Deleting", "Deleted",
                      "DeletedFailed"})
# ListServiceInstanceResources.MaxResults: "Maximum value: 100. Default value: 20." (SDK request docstring).
MAX_RESULTS_DEFAULT, MAX_RESULTS_MAX = 20, 100
# The code for an unknown service instance is what the Terraform provider expects from GetServiceInstance
# ("ServiceInstanceNotFound"). Its HTTP status is UNCONFIRMED (no API page lists it): 404 as other products do.
NOT_FOUND_CODE = "ServiceInstanceNotFound"
NOT_FOUND_STATUS = 404
# UNCONFIRMED: whether ListServiceInstanceResources lists the data disks of a deployed ECS instance, or only the
# instance itself (the docs' filter example names instances only). The local cloud lists instances and RDS
# instances by default; a service instance seeded with "ListsDisks": true lists its disks too.
LISTS_DISKS = False
# UNCONFIRMED: ProductCode/ProductType of a listed resource (the docs give no example values).
PRODUCT_FIELDS = {"ecs": ("Ecs", "ALIYUN::ECS::INSTANCE"), "rds": ("Rds", "ALIYUN::RDS::DBINSTANCE")}
# The user-side API's "Endpoints" page lists computenest.cn-hangzhou and computenest.ap-southeast-1 only: there is
# no Compute Nest to ask in another region (the real name does not resolve). A service instance whose resources are
# elsewhere is kept by one of the two (the domestic site's cn-hangzhou for the Chinese mainland; UNCONFIRMED).
SERVED_REGIONS = frozenset({"cn-hangzhou", "ap-southeast-1"})
# UNCONFIRMED: the local cloud's answer to a call naming another region (the real one has no endpoint to answer).
UNSERVED_REGION_CODE, UNSERVED_REGION_STATUS = "UnsupportedRegion", 404


def serving_region(resource_region: str) -> str:
    if resource_region in SERVED_REGIONS:
        return resource_region
    return "cn-hangzhou" if resource_region.startswith("cn-") and resource_region != "cn-hongkong" else \
        "ap-southeast-1"


def arn(product: str, region: str, account: str, kind: str, resource_id: str) -> str:
    """`acs:<service>:<region>:<account>:<type>/<id>`, the RAM resource form (e.g. acs:ecs:...:instance/i-...)."""
    return f"acs:{product}:{region}:{account}:{kind}/{resource_id}"


def not_found(service_instance_id: str) -> ServiceError:
    return ServiceError(NOT_FOUND_CODE, f"The specified service instance {service_instance_id} is not found.",
                        NOT_FOUND_STATUS)


class ComputeNest(Product):
    name = "computenest"
    version = "2021-06-01"
    ACTIONS = frozenset({"GetServiceInstance", "ListServiceInstanceResources"})

    # ------------------------------------------------------------------------------------------------ seeding API
    def create_service_instance(self, service_instance_id: str, resources: list[str], status: str = "Deployed",
                                lists_disks: bool = LISTS_DISKS) -> dict:
        if status not in STATUSES:
            raise ValueError(f"Status must be one of {sorted(STATUSES)}")
        now = self.cloud.iso()
        before = self.cloud.store.get(SERVICE_INSTANCE, service_instance_id) or {}
        # seeding an instance again adds to its resources, as a service-instance upgrade that deploys more would
        merged = [*before.get("Resources", []), *(r for r in resources if r not in before.get("Resources", []))]
        doc = {"ServiceInstanceId": service_instance_id, "Status": status,
               "RegionId": serving_region(self.cloud.region),
               "Resources": merged, "ListsDisks": bool(lists_disks), "CreateTime": before.get("CreateTime", now),
               "UpdateTime": now}
        self.cloud.store.put(SERVICE_INSTANCE, service_instance_id, doc)
        return doc

    def set_status(self, service_instance_id: str, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"Status must be one of {sorted(STATUSES)}")
        if self.cloud.store.update(SERVICE_INSTANCE, service_instance_id, lambda d: d.update(Status=status)) is None:
            raise ValueError(f"no service instance {service_instance_id}")

    def resource_arn(self, product: str, kind: str, resource_id: str) -> str:
        return arn(product, self.cloud.region, self.cloud.fnf.functions.account_id, kind, resource_id)

    # ------------------------------------------------------------------------------------------------ API
    def dispatch(self, req: RpcRequest) -> dict[str, Any]:
        region = req.get("RegionId")
        if region is not None and region not in SERVED_REGIONS:
            raise ServiceError(UNSERVED_REGION_CODE, f"Compute Nest is not served in {region}: use one of "
                                                     f"{', '.join(sorted(SERVED_REGIONS))}.", UNSERVED_REGION_STATUS)
        return super().dispatch(req)

    def _find(self, req: RpcRequest) -> dict:
        si = req.require("ServiceInstanceId")
        doc = self.cloud.store.get(SERVICE_INSTANCE, si)
        region = req.get("RegionId")
        if doc is None or (region is not None and doc["RegionId"] != region):
            raise not_found(si)
        return doc

    def GetServiceInstance(self, req: RpcRequest) -> dict:
        req.require("RegionId")
        doc = self._find(req)
        return {"ServiceInstanceId": doc["ServiceInstanceId"], "Status": doc["Status"], "StatusDetail": "",
                "Progress": 100 if doc["Status"] == "Deployed" else 0, "RegionId": doc["RegionId"],
                "CreateTime": doc["CreateTime"], "UpdateTime": doc["UpdateTime"], "BizStatus": "Normal",
                "ServiceType": "private", "Source": "User", "PayType": "Permanent",
                "UserId": int(self.cloud.fnf.functions.account_id),
                # a JSON string whose format the SDK does not document: the product does not read it
                "Resources": "[]", "Outputs": "{}", "Parameters": "{}", "Tags": []}

    def ListServiceInstanceResources(self, req: RpcRequest) -> dict:
        doc = self._find(req)
        size = req.get_int("MaxResults", MAX_RESULTS_DEFAULT, lo=1, hi=MAX_RESULTS_MAX)
        kind = req.get("ServiceInstanceResourceType")
        if kind not in (None, "AliyunResource", "ContainerResource"):
            raise invalid("ServiceInstanceResourceType", "Use AliyunResource or ContainerResource.")
        patterns: list[str] = []
        for flt in req.get_objects("Filters"):
            name = flt.get("Name")
            values = [v for k, v in sorted(flt.items()) if k.startswith("Values.")]
            if name == "ResourceARN":
                patterns += values
            elif name not in ("ExpireTimeStart", "ExpireTimeEnd", "PayType"):
                raise invalid("Filters", f"Unknown filter name {name!r}.")
        found = [] if kind == "ContainerResource" else [
            a for a in doc["Resources"]
            if doc.get("ListsDisks", LISTS_DISKS) or ":disk/" not in a]
        if patterns:
            # the docs' example value is "arn:acs:ecs:*:*:instance/*": accept the pattern with or without "arn:"
            found = [a for a in found if any(fnmatch.fnmatchcase(a, p.removeprefix("arn:")) for p in patterns)]
        page, next_token = offset_token_page(req, found, size)
        return {"Resources": [self._resource_view(doc, a) for a in page], "NextToken": next_token, "MaxResults": size}

    @staticmethod
    def _resource_view(doc: dict, resource_arn: str) -> dict[str, Any]:
        product = resource_arn.split(":")[1]
        code, kind = PRODUCT_FIELDS.get(product, (product, ""))
        return {"ResourceARN": resource_arn, "ProductCode": code, "ProductType": kind, "PayType": "PayAsYouGo",
                "CreateTime": doc["CreateTime"], "ExpireTime": "", "RenewStatus": "NotRenewal"}
