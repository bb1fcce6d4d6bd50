"""The service catalog port: does Compute Nest know a service instance, in which status, and which cloud resources
it lists for it. `adapters/computenest.py` implements it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# What a service instance's Compute Nest status means for a backup (statuses: alibaba-apis.md §2.3).
# Created/Deploying: nothing (or not everything) is deployed yet. DeployedFailed: the deployment stopped part way;
# its resources are incomplete and about to be retried or deleted. Deleting/Deleted/DeletedFailed: the instance is
# going or gone. Any other status (Deployed, Upgrading, and the unenumerated Stopped/Starting/... ones) is backed up.
NOT_BACKED_UP = {
    "Created": "is not deployed yet",
    "Deploying": "is still being deployed",
    "DeployedFailed": "failed to deploy, so its resources are incomplete",
    "Deleting": "is being deleted",
    "Deleted": "has been deleted",
    "DeletedFailed": "failed to be deleted",
}


@dataclass(frozen=True)
class ServiceInstance:
    """A Compute Nest service instance."""
    service_instance_id: str
    # Created | Deploying | DeployedFailed | Deployed | Upgrading | Deleting | Deleted | DeletedFailed
    status: str

    @property
    def not_backed_up(self) -> str | None:
        """Why its status rules a backup out (completing "service instance X …"), or None."""
        return NOT_BACKED_UP.get(self.status)


@dataclass(frozen=True)
class Resource:
    """A resource a service instance lists, from its ARN."""
    arn: str
    service: str       # ecs | rds | ... ("" when the ARN is not of the documented form)
    kind: str          # instance | disk | dbinstance | ... ("" when the ARN names none)
    resource_id: str


class ServiceCatalog(Protocol):
    def service_instance(self, service_instance_id: str) -> ServiceInstance | None:
        """The service instance, or None when Compute Nest does not know it."""
        ...

    def resources(self, service_instance_id: str) -> list[Resource]:
        """Every cloud resource listed for the service instance."""
        ...
