"""ECS tag queries across resource types: ListTagResources over instances, disks and snapshots."""
from __future__ import annotations

from ..core.rpc import RpcRequest
from . import errors, rules
from .state import DISK, INSTANCE, SNAPSHOT, EcsState

# UNCONFIRMED: ListTagResources has no page-size parameter and the reference states no page size.
LIST_TAG_RESOURCES_PAGE = 50


class TagResources(EcsState):
    """ListTagResources of `models.Ecs`."""

    def ListTagResources(self, req: RpcRequest) -> dict:
        """Codes from ListTagResources' error table (404 for missing parameters, as documented)."""
        region = req.get("RegionId")
        if region is None:
            raise errors.error("MissingParameter.RegionId", "The parameter - RegionId should not be null", 404)
        if region not in self.snapshot_regions:
            raise errors.unknown_region(region)
        rtype = req.get("ResourceType")
        if rtype is None:
            raise errors.error("MissingParameter.ResourceType", "The parameter - ResourceType should not be null", 404)
        kinds = {"instance": (INSTANCE, "InstanceId"), "disk": (DISK, "DiskId"), "snapshot": (SNAPSHOT, "SnapshotId")}
        if rtype.lower() not in kinds:  # the real list is longer; this cloud has these three taggable types
            raise errors.error("InvalidResourceType.NotFound",
                               "The ResourceType provided does not exist in our records.", 404)
        rtype = rtype.lower()
        ids = req.get_list("ResourceId")
        if len(ids) > 50:
            raise errors.error("NumberExceed.ResourceIds", "The ResourceIds parameter's number is exceed , Valid : 50",
                               400)
        wanted = rules.tag_filter(req, errors.error("NumberExceed.Tags",
                                                    "The Tags parameter's number is exceed , Valid : 20", 400))
        if not ids and not wanted:
            raise errors.error("MissingParameter.Tags", "The parameter - Tags should not be null", 404)
        kind, id_key = kinds[rtype]
        docs = self.store.find(kind, lambda d: (not ids or d[id_key] in ids) and rules.tags_match(d["Tags"], wanted)
                               and d.get("RegionId", self.region) == region)   # a copy: its region's
        rows = [{"ResourceId": d[id_key], "ResourceType": rtype, "TagKey": k, "TagValue": v}
                for d in docs for k, v in d["Tags"].items()]
        chunk, token = rules.token_page(req, rows, LIST_TAG_RESOURCES_PAGE)
        return {"NextToken": token, "TagResources": {"TagResource": chunk}}
