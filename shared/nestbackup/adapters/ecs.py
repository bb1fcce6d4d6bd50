"""ECS: find disks and instances by tag, snapshot, roll back, stop and start. Plain records out, CloudError on failure."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Iterator

from .openapi import RpcClient

VERSION = "2014-05-26"
SNAPSHOT_IDS_PER_CALL = 100      # DescribeSnapshots.SnapshotIds
DISK_IDS_PER_CALL = 100          # DescribeDisks.DiskIds
GROUP_IDS_PER_CALL = 10          # DescribeSnapshotGroups.SnapshotGroupId.N
INSTANCE_IDS_PER_CALL = 100      # Stop/StartInstances, DescribeInstances


@dataclass(frozen=True)
class Disk:
    disk_id: str
    instance_id: str | None
    status: str
    category: str
    size_gib: int
    disk_type: str
    multi_attach: bool = False


@dataclass(frozen=True)
class Instance:
    instance_id: str
    status: str


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    disk_id: str | None
    status: str               # progressing | accomplished | failed
    progress: int             # 0-100
    available: bool


@dataclass(frozen=True)
class SnapshotGroup:
    group_id: str
    status: str
    snapshots: tuple[Snapshot, ...]


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _percent(text) -> int:
    try:
        return int(str(text or "0").rstrip("%") or 0)
    except ValueError:
        return 0


def _tags(tags: dict[str, str] | None) -> list[dict[str, str]] | None:
    return [{"Key": k, "Value": v} for k, v in tags.items()] if tags else None


class Ecs:
    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc
        self.region = rpc.region

    # -- discovery
    def disks_tagged(self, key: str, value: str) -> list[Disk]:
        return list(self._pages("DescribeDisks", {"RegionId": self.region, "Tag": [{"Key": key, "Value": value}],
                                                  "MaxResults": 500}, "Disks", "Disk", _disk))

    def describe_disks(self, disk_ids: list[str]) -> dict[str, Disk]:
        found: dict[str, Disk] = {}
        for batch in chunks(disk_ids, DISK_IDS_PER_CALL):
            for disk in self._pages("DescribeDisks", {"RegionId": self.region, "DiskIds": json.dumps(batch),
                                                      "MaxResults": 500}, "Disks", "Disk", _disk):
                found[disk.disk_id] = disk
        return found

    def disks_of_instance(self, instance_id: str) -> list[Disk]:
        """Every disk attached to an ECS instance (DescribeDisks.InstanceId)."""
        return list(self._pages("DescribeDisks", {"RegionId": self.region, "InstanceId": instance_id,
                                                  "MaxResults": 500}, "Disks", "Disk", _disk))

    def instances_tagged(self, key: str, value: str) -> list[Instance]:
        return list(self._pages("DescribeInstances", {"RegionId": self.region,
                                                      "Tag": [{"Key": key, "Value": value}], "MaxResults": 100},
                                "Instances", "Instance", _instance))

    def describe_instances(self, instance_ids: list[str]) -> dict[str, Instance]:
        found: dict[str, Instance] = {}
        for batch in chunks(instance_ids, INSTANCE_IDS_PER_CALL):
            for inst in self._pages("DescribeInstances", {"RegionId": self.region, "InstanceIds": json.dumps(batch),
                                                          "MaxResults": 100}, "Instances", "Instance", _instance):
                found[inst.instance_id] = inst
        return found

    # -- snapshots
    def create_snapshot(self, disk_id: str, *, name: str, description: str, client_token: str,
                        tags: dict[str, str] | None = None) -> str:
        body = self.rpc.call("CreateSnapshot", {"DiskId": disk_id, "SnapshotName": name, "Description": description,
                                                "ClientToken": client_token, "Tag": _tags(tags)})
        return body["SnapshotId"]

    def create_snapshot_group(self, instance_id: str, disk_ids: list[str], *, name: str, description: str,
                              client_token: str, tags: dict[str, str] | None = None) -> str:
        body = self.rpc.call("CreateSnapshotGroup", {"RegionId": self.region, "InstanceId": instance_id,
                                                     "DiskId": disk_ids, "Name": name, "Description": description,
                                                     "ClientToken": client_token, "Tag": _tags(tags)})
        return body["SnapshotGroupId"]

    def describe_snapshots(self, snapshot_ids: Iterable[str]) -> dict[str, Snapshot]:
        """One DescribeSnapshots call per 100 ids; ids the cloud no longer knows are absent from the result."""
        found: dict[str, Snapshot] = {}
        for batch in chunks(list(snapshot_ids), SNAPSHOT_IDS_PER_CALL):
            body = self.rpc.call("DescribeSnapshots", {"RegionId": self.region, "SnapshotIds": json.dumps(batch),
                                                       "MaxResults": SNAPSHOT_IDS_PER_CALL})
            for raw in (body.get("Snapshots") or {}).get("Snapshot") or []:
                snap = _snapshot(raw)
                found[snap.snapshot_id] = snap
        return found

    def describe_snapshot_groups(self, group_ids: Iterable[str]) -> dict[str, SnapshotGroup]:
        found: dict[str, SnapshotGroup] = {}
        for batch in chunks(list(group_ids), GROUP_IDS_PER_CALL):
            body = self.rpc.call("DescribeSnapshotGroups", {"RegionId": self.region, "SnapshotGroupId": batch,
                                                            "MaxResults": 100})
            for raw in (body.get("SnapshotGroups") or {}).get("SnapshotGroup") or []:
                members = tuple(_snapshot(s) for s in (raw.get("Snapshots") or {}).get("Snapshot") or [])
                found[raw["SnapshotGroupId"]] = SnapshotGroup(raw["SnapshotGroupId"], raw.get("Status", ""), members)
        return found

    def snapshots_tagged(self, key: str) -> list[tuple[str, str]]:
        """(snapshot id, value of tag `key`) of every snapshot carrying that tag key."""
        out = []
        for raw in self._pages("DescribeSnapshots", {"RegionId": self.region, "Tag": [{"Key": key}],
                                                     "MaxResults": 100}, "Snapshots", "Snapshot", lambda r: r):
            tags = {t.get("TagKey"): t.get("TagValue") for t in (raw.get("Tags") or {}).get("Tag") or []}
            out.append((raw["SnapshotId"], tags.get(key, "")))
        return out

    def groups_tagged(self, key: str) -> list[tuple[str, str]]:
        out = []
        for raw in self._pages("DescribeSnapshotGroups", {"RegionId": self.region, "Tag": [{"Key": key}],
                                                          "MaxResults": 100}, "SnapshotGroups", "SnapshotGroup",
                               lambda r: r):
            tags = {t.get("Key"): t.get("Value") for t in (raw.get("Tags") or {}).get("Tag") or []}
            out.append((raw["SnapshotGroupId"], tags.get(key, "")))
        return out

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.rpc.call("DeleteSnapshot", {"SnapshotId": snapshot_id, "Force": False})

    def delete_snapshot_group(self, group_id: str) -> None:
        self.rpc.call("DeleteSnapshotGroup", {"RegionId": self.region, "SnapshotGroupId": group_id})

    # -- restore
    def stop_instances(self, instance_ids: list[str]) -> None:
        for batch in chunks(instance_ids, INSTANCE_IDS_PER_CALL):
            self.rpc.call("StopInstances", {"RegionId": self.region, "InstanceId": batch,
                                            "StoppedMode": "KeepCharging", "BatchOptimization": "SuccessFirst"})

    def start_instances(self, instance_ids: list[str]) -> None:
        for batch in chunks(instance_ids, INSTANCE_IDS_PER_CALL):
            self.rpc.call("StartInstances", {"RegionId": self.region, "InstanceId": batch,
                                             "BatchOptimization": "SuccessFirst"})

    def reset_disk(self, disk_id: str, snapshot_id: str) -> None:
        self.rpc.call("ResetDisk", {"DiskId": disk_id, "SnapshotId": snapshot_id})

    # -- paging
    def _pages(self, action: str, params: dict, wrapper: str, item: str, convert) -> Iterator:
        token = None
        while True:
            body = self.rpc.call(action, {**params, "NextToken": token})
            for raw in (body.get(wrapper) or {}).get(item) or []:
                yield convert(raw)
            token = body.get("NextToken")
            if not token:
                return


def _disk(raw: dict) -> Disk:
    return Disk(disk_id=raw["DiskId"], instance_id=raw.get("InstanceId") or None, status=raw.get("Status", ""),
                category=raw.get("Category", ""), size_gib=int(raw.get("Size") or 0), disk_type=raw.get("Type", ""),
                multi_attach=str(raw.get("MultiAttach", "")).lower() == "enabled")


def _instance(raw: dict) -> Instance:
    return Instance(instance_id=raw["InstanceId"], status=raw.get("Status", ""))


def _snapshot(raw: dict) -> Snapshot:
    return Snapshot(snapshot_id=raw["SnapshotId"], disk_id=raw.get("SourceDiskId"), status=raw.get("Status", ""),
                    progress=_percent(raw.get("Progress")), available=bool(raw.get("Available")))
