"""The service catalog port (Compute Nest) in memory: service instances with a status and their resources."""
from __future__ import annotations

from nestbackup.ports.catalog import Resource, ServiceInstance


class MemoryCatalog:
    def __init__(self) -> None:
        self.instances: dict[str, dict] = {}

    def add(self, service_instance_id: str, status: str = "Deployed") -> None:
        self.instances[service_instance_id] = {"status": status, "resources": []}

    def list_resource(self, service_instance_id: str, service: str, kind: str, resource_id: str) -> None:
        arn = f"acs:{service}:cn-hangzhou:1234567890:{kind}/{resource_id}"
        self.instances[service_instance_id]["resources"].append(Resource(arn, service, kind, resource_id))

    def service_instance(self, service_instance_id: str) -> ServiceInstance | None:
        found = self.instances.get(service_instance_id)
        return ServiceInstance(service_instance_id, found["status"]) if found else None

    def resources(self, service_instance_id: str) -> list[Resource]:
        return list(self.instances[service_instance_id]["resources"]) if service_instance_id in self.instances \
            else []
