"""What a backup leaves unprotected: the resources Compute Nest lists for a service instance that nestbackup does
not back up (OSS buckets, NAS, PolarDB, Redis, load balancers, ...). A backup still ends Created; the record lists
them so nobody mistakes it for a backup of the whole service instance, and `plan` warns about them."""
from __future__ import annotations

from typing import Any, NamedTuple

MAX_NAMED = 5                # resources named in a StatusDetail; the rest are counted


class NotProtected(NamedTuple):
    """A resource of the service instance that nestbackup does not back up, and why."""
    resource_id: str
    resource_type: str       # "<service>:<kind>", e.g. oss:bucket, kvstore:instance
    reason: str

    @classmethod
    def of(cls, service: str, kind: str, resource_id: str) -> NotProtected:
        """A listed resource nestbackup does not back up (`kind`, even `service`, empty: its ARN did not say)."""
        if not service:
            return cls(resource_id, "unknown", "nestbackup cannot tell which service this resource's ARN names")
        return cls(resource_id, f"{service}:{kind}" if kind else service,
                   f"nestbackup does not back up {service} resources")

    def to_api(self) -> dict[str, Any]:
        return {"ResourceId": self.resource_id, "ResourceType": self.resource_type, "Reason": self.reason}

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> NotProtected:
        return cls(str(raw["ResourceId"]), str(raw["ResourceType"]), str(raw["Reason"]))


def coverage_note(not_protected: list[NotProtected]) -> str:
    """'2 resources not protected (oss:bucket app-assets, kvstore:instance r-1)'; empty when every one is."""
    if not not_protected:
        return ""
    named = [f"{n.resource_type} {n.resource_id}" for n in not_protected[:MAX_NAMED]]
    if len(not_protected) > MAX_NAMED:
        named.append(f"… and {len(not_protected) - MAX_NAMED} more")
    count = len(not_protected)
    return f"{count} resource{'s' if count != 1 else ''} not protected ({', '.join(named)})"
