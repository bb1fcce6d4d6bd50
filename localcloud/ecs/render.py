"""How ECS resources look on the wire: stored documents rendered as DescribeInstances/DescribeDisks/
DescribeSnapshots/DescribeSnapshotGroups items (the state stays in the stored documents)."""
from __future__ import annotations

from typing import Callable

from . import rules


def instance(doc: dict) -> dict:
    out = {k: v for k, v in doc.items() if k != "Tags"}
    out["Tags"] = rules.tag_rows(doc["Tags"])
    out["OperationLocks"] = {"LockReason": []}
    out["HostName"] = doc["InstanceId"]
    out["SerialNumber"] = doc["InstanceId"][2:]
    return out


def disk(doc: dict) -> dict:
    out = {k: v for k, v in doc.items() if k not in ("Tags", "Path", "SizeBytes", "Baseline", "ResetSnapshotId",
                                                      "ResetError", "CreateSnapshotId")}
    out.update({"Tags": rules.tag_rows(doc["Tags"]), "Encrypted": bool(doc.get("Encrypted")),
                "KMSKeyId": doc.get("KMSKeyId") or "", "Portable": True,
                "DeleteWithInstance": False, "DeleteAutoSnapshot": True, "EnableAutoSnapshot": False,
                "SourceSnapshotId": doc.get("CreateSnapshotId") or "", "ImageId": "", "MultiAttach": "Disabled",
                "DiskChargeType": "PostPaid",
                "OperationLocks": {"OperationLock": []}})
    out["Attachments"] = {"Attachment": [{"InstanceId": doc["InstanceId"], "Device": doc["Device"],
                                          "AttachedTime": doc["AttachedTime"]}] if doc.get("InstanceId") else []}
    return out


def snapshot(doc: dict, pct: int, remain: int) -> dict:
    """A snapshot with its progress: `pct` percent done, about `remain` seconds left."""
    keep = ("SnapshotId", "SnapshotName", "Description", "Status", "SourceDiskId", "SourceDiskType",
            "SourceDiskSize", "CreationTime", "LastModifiedTime", "RetentionDays", "SnapshotType", "Usage",
            "Category", "InstantAccess", "SnapshotSN", "SnapshotLinkId", "RegionId", "ResourceGroupId",
            "FullSnapshotSizeInBytes", "SourceStorageType")
    out = {k: doc[k] for k in keep if k in doc}
    out.update({"Progress": f"{pct}%", "RemainTime": remain, "Available": doc["Status"] == "accomplished",
                "Encrypted": bool(doc.get("Encrypted")), "KMSKeyId": doc.get("KMSKeyId") or "",
                "Tags": rules.tag_rows(doc["Tags"])})
    return out


def group_status(members: list[dict]) -> str:
    statuses = {m["Status"] for m in members}
    if "failed" in statuses:
        return "failed"
    if "progressing" in statuses:
        return "progressing"
    return "accomplished"


def group(doc: dict, members: list[dict], progress: Callable[[dict], tuple[int, int]]) -> dict:
    """A snapshot group with its member snapshots (those still stored); `progress` gives a member's (percent, _)."""
    snaps = []
    for m in members:
        pct, _ = progress(m)
        snaps.append({"SnapshotId": m["SnapshotId"], "SourceDiskId": m["SourceDiskId"],
                      "SourceDiskType": m["SourceDiskType"], "Progress": f"{pct}%",
                      "Available": m["Status"] == "accomplished", "InstantAccess": True,
                      "Tags": rules.tag_rows(m["Tags"], "Key", "Value")})
    return {"SnapshotGroupId": doc["SnapshotGroupId"], "Name": doc.get("Name"),
            "Description": doc.get("Description"), "InstanceId": doc.get("InstanceId"),
            "Status": group_status(members), "CreationTime": doc["CreationTime"],
            "ResourceGroupId": "", "Tags": rules.tag_rows(doc["Tags"], "Key", "Value"),
            "Snapshots": {"Snapshot": snaps}}
