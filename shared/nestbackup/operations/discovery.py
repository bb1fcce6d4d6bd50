"""Which resources a service instance has: Compute Nest's own list first, the tag where it lists nothing of a kind.

Compute Nest's ListServiceInstanceResources is the documented list of what a service instance deployed
(alibaba-apis.md §2.2); the `acs:computenest:serviceInstanceId` tag is not documented (§2.1), so it only fills in
a kind (ECS, RDS) Compute Nest lists nothing of. ECS instances are expanded to every disk attached to them; disks
Compute Nest lists themselves (if it does: UNCONFIRMED) are added. RDS instances carry their DBInstanceType, so
replicas are recorded and skipped rather than backed up. Whatever else Compute Nest lists (OSS buckets, Redis,
PolarDB, load balancers, ...) nestbackup does not back up: it is kept as `unprotected`, for the record and the plan
to name, never dropped silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import Conflict, NotFound
from ..model.coverage import NotProtected
from ..ports import Ports


@dataclass
class Discovered:
    """The resources of a service instance, and where each list came from."""
    disks: list = field(default_factory=list)          # ports.compute.Disk
    databases: list = field(default_factory=list)      # ports.databases.DBInstance, replicas included
    sources: dict[str, str] = field(default_factory=dict)   # "ecs"/"rds" -> "computenest" | "tag"
    unprotected: list[NotProtected] = field(default_factory=list)   # listed, of a kind nestbackup does not back up


def check_service_instance(w: Ports, service_instance_id: str) -> None:
    """NotFound when Compute Nest does not know the service instance, Conflict when its status rules a backup out."""
    instance = w.computenest.service_instance(service_instance_id)
    if instance is None:
        raise NotFound(f"Compute Nest has no service instance {service_instance_id} in region "
                       f"{w.settings.region}")
    why = instance.not_backed_up
    if why:
        raise Conflict(f"service instance {service_instance_id} {why} (Compute Nest status {instance.status}): "
                       f"nothing to back up")


def discover(w: Ports, service_instance_id: str) -> Discovered:
    """The disks and RDS instances of a service instance Compute Nest knows (check_service_instance first)."""
    s = w.settings
    listed = w.computenest.resources(service_instance_id)
    instance_ids = _ids(listed, "ecs", "instance")
    disk_ids = _ids(listed, "ecs", "disk")
    db_ids = _ids(listed, "rds", "dbinstance")
    out = Discovered(unprotected=_unprotected(listed))
    if instance_ids or disk_ids:
        disks = {}
        for instance_id in instance_ids:
            disks.update({d.disk_id: d for d in w.ecs.disks_of_instance(instance_id)})
        missing = [d for d in disk_ids if d not in disks]
        if missing:
            disks.update(w.ecs.describe_disks(missing))
        out.disks, out.sources["ecs"] = list(disks.values()), "computenest"
    else:
        out.disks, out.sources["ecs"] = w.ecs.disks_tagged(s.tag_key, service_instance_id), "tag"
    out.databases, out.sources["rds"] = _rds_instances(w, service_instance_id, db_ids)
    return out


def rds_instances(w: Ports, service_instance_id: str) -> list:
    """Only the RDS instances of a service instance Compute Nest knows, found as `discover` finds them."""
    return _rds_instances(w, service_instance_id, _ids(w.computenest.resources(service_instance_id), "rds",
                                                       "dbinstance"))[0]


def _rds_instances(w: Ports, service_instance_id: str, db_ids: list[str]) -> tuple[list, str]:
    if db_ids:
        found = w.rds.describe_instances(db_ids)
        return [found[i] for i in db_ids if i in found], "computenest"
    return w.rds.instances_tagged(w.settings.tag_key, service_instance_id), "tag"


BACKED_UP = {("ecs", "instance"), ("ecs", "disk"), ("rds", "dbinstance")}


def _unprotected(resources) -> list[NotProtected]:
    out: list[NotProtected] = []
    for r in resources:
        entry = NotProtected.of(r.service, r.kind, r.resource_id)
        if (r.service, r.kind) not in BACKED_UP and entry not in out:
            out.append(entry)
    return out


def _ids(resources, service: str, kind: str) -> list[str]:
    seen: list[str] = []
    for r in resources:
        if r.service == service and r.kind == kind and r.resource_id not in seen:
            seen.append(r.resource_id)
    return seen
