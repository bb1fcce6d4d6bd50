"""Seeding a service instance: one Running ECS instance with data disks, and RDS instances, all carrying the tag,
registered with Compute Nest as the service instance's resources.

Spec keys beyond the resources: `Tagged` (default true: resources carry the tag), `ComputeNest` (default true:
register the service instance; `{"Status": ..., "ListResources": false, "ListsDisks": true}` refine it),
`ReadOnlyReplicas` (read-only replicas of the first RDS instance), `OtherResources` (resources of services the
product does not back up, e.g. `["oss:bucket/app-assets", "kvstore:instance/r-1"]`: `<service>:<type>/<id>`,
registered with Compute Nest only; nothing is created for them)."""
from __future__ import annotations

import re

from .cloud import LocalCloud

TAG_KEY = "acs:computenest:serviceInstanceId"
_OTHER = re.compile(r"^([a-z][a-z0-9-]{0,31}):([a-z][a-z0-9-]{0,31})/([A-Za-z0-9_.-]{1,128})$")
_SIZE = re.compile(r"^(\d+)\s*(B|KiB|MiB|GiB)?$")
_UNITS = {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


def parse_size(text: str | int) -> int:
    if isinstance(text, int):
        return text
    m = _SIZE.match(str(text).strip())
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 64MiB or 1GiB)")
    return int(m[1]) * _UNITS[m[2]]


def seed(cloud: LocalCloud, spec: dict) -> dict:
    """Create the resources of one service instance and describe them in the seed contract's shape."""
    si = spec.get("ServiceInstanceId")
    if not isinstance(si, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,128}", si):
        raise ValueError("ServiceInstanceId is required: 1-128 letters, digits or _.:-")
    disks = spec.get("Disks", 2)
    if not isinstance(disks, int) or not 0 <= disks <= 2000:
        raise ValueError("Disks must be an integer from 0 to 2000")
    size = parse_size(spec.get("DiskSize", "64MiB"))
    if not (1 << 20) <= size <= (64 << 30) or size % (1 << 20):
        raise ValueError("DiskSize must be a whole number of MiB between 1 MiB and 64 GiB")
    tag_key = spec.get("TagKey") or TAG_KEY
    tags = {tag_key: si} if spec.get("Tagged", True) else {}
    nest = spec.get("ComputeNest", True)
    if nest is True:
        nest = {}
    if nest is not False and not isinstance(nest, dict):
        raise ValueError("ComputeNest must be true, false or an object")
    replicas = spec.get("ReadOnlyReplicas", 0)
    if not isinstance(replicas, int) or not 0 <= replicas <= 5:
        raise ValueError("ReadOnlyReplicas must be an integer from 0 to 5")
    others = spec.get("OtherResources", [])
    matches = [_OTHER.match(o) if isinstance(o, str) else None for o in others] if isinstance(others, list) else [None]
    if len(matches) > 100 or not all(matches):
        raise ValueError("OtherResources must be a list of at most 100 '<service>:<type>/<id>' strings, "
                         "e.g. oss:bucket/app-assets")
    out: dict = {"ServiceInstanceId": si, "InstanceIds": [], "Disks": [], "DBInstances": []}
    instance = cloud.ecs.create_instance(tags=tags)
    out["InstanceIds"].append(instance["InstanceId"])
    category = spec.get("Category", "cloud_essd")
    if category not in ("cloud", "cloud_efficiency", "cloud_ssd", "cloud_essd", "cloud_auto", "cloud_essd_entry"):
        raise ValueError(f"Category {category!r} is not a cloud disk category")
    kms_key = spec.get("DiskKMSKeyId")          # every seeded disk encrypted with this KMS key
    if kms_key is not None and (not isinstance(kms_key, str) or not kms_key):
        raise ValueError("DiskKMSKeyId must be a KMS key id")
    for _ in range(disks):
        disk = cloud.ecs.create_disk(instance["InstanceId"], size, tags=tags, fill=spec.get("Fill", True),
                                     category=category, kms_key_id=kms_key)
        out["Disks"].append({"DiskId": disk["DiskId"], "Path": disk["Path"], "InstanceId": instance["InstanceId"]})
    for engine, key in (("PostgreSQL", "Postgres"), ("MySQL", "MySQL")):
        if spec.get(key):
            db = cloud.rds.create_instance(engine, spec[key], tags=tags, policy=spec.get("RdsBackupPolicy"))
            out["DBInstances"].append({"DBInstanceId": db["DBInstanceId"], "Engine": engine})
    if spec.get("SQLServer"):
        db = cloud.rds.create_instance("SQLServer", None, tags=tags, policy=spec.get("RdsBackupPolicy"))
        # the local SQL Server stand-in's TDS endpoint (login sa, empty password), to put data in
        out["DBInstances"].append({"DBInstanceId": db["DBInstanceId"], "Engine": "SQLServer", "Host": "127.0.0.1",
                                   "Port": db["Port"]})
    if replicas:
        if not out["DBInstances"]:
            raise ValueError("ReadOnlyReplicas needs an RDS instance to replicate")
        primary = out["DBInstances"][0]
        dsn = spec.get("Postgres") if primary["Engine"] == "PostgreSQL" else spec.get("MySQL")
        for _ in range(replicas):
            db = cloud.rds.create_instance(primary["Engine"], dsn, tags=tags, db_type="Readonly",
                                           master_instance_id=primary["DBInstanceId"])
            out["DBInstances"].append({"DBInstanceId": db["DBInstanceId"], "Engine": primary["Engine"],
                                       "DBInstanceType": "Readonly", "MasterInstanceId": primary["DBInstanceId"]})
    if nest is not False:
        cn = cloud.computenest
        arns = [cn.resource_arn("ecs", "instance", i) for i in out["InstanceIds"]]
        arns += [cn.resource_arn("ecs", "disk", d["DiskId"]) for d in out["Disks"]]
        arns += [cn.resource_arn("rds", "dbinstance", d["DBInstanceId"]) for d in out["DBInstances"]]
        arns += [cn.resource_arn(m[1], m[2], m[3]) for m in matches if m]
        doc = cn.create_service_instance(si, arns if nest.get("ListResources", True) else [],
                                         status=nest.get("Status", "Deployed"),
                                         **({"lists_disks": bool(nest["ListsDisks"])} if "ListsDisks" in nest else {}))
        out["ComputeNest"] = {"Status": doc["Status"], "Resources": doc["Resources"]}
    return out
