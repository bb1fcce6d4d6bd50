"""The service catalog port: does Compute Nest know a service instance, in which status, and which cloud resources
it lists for it. `adapters/computenest.py` implements it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ServiceInstance:
    service_instance_id: str
    # Created | Deploying | DeployedFailed | Deployed | Upgrading | Deleting | Deleted | DeletedFailed
    status: str


@dataclass(frozen=True)
class Resource:
    arn: str
    service: str       # ecs | rds | ...
    kind: str          # instance | disk | dbinstance | ...
    resource_id: str


class ServiceCatalog(Protocol):
    def service_instance(self, service_instance_id: str) -> ServiceInstance | None:
        """The service instance, or None when Compute Nest does not know it."""
        ...

    def resources(self, service_instance_id: str) -> list[Resource]:
        """Every cloud resource listed for the service instance."""
        ...
