"""ECS, the compute port (`ports.compute.Compute`): find disks and instances by tag, snapshot, roll back, stop and
start, run Cloud Assistant commands (quiesce hooks). Plain records out, CloudError on failure."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Iterable, Iterator

from ..errors import CloudError
from ..ports.compute import (
    GROUP_IDS_PER_CALL,
    SNAPSHOT_IDS_PER_CALL,
    CommandRun,
    Disk,
    Instance,
    Refused,
    Snapshot,
    SnapshotGroup,
)
from .openapi import RpcClient

VERSION = "2014-05-26"
DISK_IDS_PER_CALL = 100          # DescribeDisks.DiskIds
INSTANCE_IDS_PER_CALL = 100      # Stop/StartInstances, DescribeInstances
# Page sizes: the documented maxima of MaxResults (DescribeDisks 500; the others 100). Every list call still follows
# NextToken to the end: the reference answers with a NextToken whenever more may follow.
DISKS_PAGE = 500
PAGE = 100
INVOCATION_RESULTS_PAGE = 50     # DescribeInvocationResults MaxResults: at most 50
# CreateSnapshot / CreateSnapshotGroup refusals that clear by themselves: nothing was applied, so the backup asks again
# a poll round later until the disk deadline. 403 IncorrectDiskStatus.CreatingSnapshot: "A previous snapshot creation
# is in process" (an automatic snapshot policy may be taking one; both references' error tables: try again later).
SNAPSHOT_WAIT_CODES = frozenset({"IncorrectDiskStatus.CreatingSnapshot"})
# ResetDisk refusals of a disk that has not settled (ResetDisk reference: 403 IncorrectDiskStatus when the disk is not
# In_use/Available, e.g. still ReIniting after an earlier reset, Attaching, Creating; a snapshot of it being made):
# nothing was applied, and the restore asks again a round later until its deadline. The Terraform provider retries
# disk operations refused with these codes until its timeout (alicloud/errors.go DiskInvalidOperation,
# alicloud/resource_alicloud_ecs_disk_attachment.go AttachDisk/DetachDisk; resource_alicloud_ecs_disk.go DeleteDisk on
# IncorrectDiskStatus.Initializing); it never calls ResetDisk itself.
RESET_WAIT_CODES = frozenset({"IncorrectDiskStatus", "IncorrectDiskStatus.Initializing",
                              "IncorrectDiskStatus.CreatingSnapshot", "OperationConflict", "InvalidOperation.Conflict"})

# What DeleteSnapshot / DeleteSnapshotGroup answer for a snapshot under a compliance lock, and LockSnapshot for a
# shorter lock than the one held: UNCONFIRMED (docs/cloud-fidelity.md): the LockSnapshot and DeleteSnapshot
# references state the rules (no delete while locked; only extend after the cool-off) but list no code for them.
SNAPSHOT_LOCKED_CODE = "OperationDenied.SnapshotLocked"
LOCK_SHORTENED_CODE = "InvalidLockDuration.Shortened"


def snapshot_must_wait(err: CloudError) -> bool:
    """CreateSnapshot(Group) was refused before it was applied and may be asked again later."""
    return err.code in SNAPSHOT_WAIT_CODES


def reset_must_wait(err: CloudError) -> bool:
    """ResetDisk was refused because the disk has not settled; it may be asked again later."""
    return err.code in RESET_WAIT_CODES


def chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _percent(text) -> int:
    try:
        return int(str(text or "0").rstrip("%") or 0)
    except ValueError:
        return 0


def _seconds(value) -> int | None:
    """A whole number the API may leave out (RemainTime, FullSnapshotSizeInBytes): None when absent or not one."""
    try:
        return int(value) if value is not None and str(value) != "" else None
    except (TypeError, ValueError):
        return None


def _tags(tags: dict[str, str] | None) -> list[dict[str, str]] | None:
    return [{"Key": k, "Value": v} for k, v in tags.items()] if tags else None


def regional_endpoint(endpoint: str, region: str, other: str) -> str:
    """ECS's endpoint for `other` given the one for `region`: the cloud's regional endpoints are named by region
    (ecs.<region>.aliyuncs.com; cn-hangzhou's ecs-cn-hangzhou.aliyuncs.com); any other endpoint (a private or local
    one) serves every region, told apart by RegionId."""
    host = endpoint.split("://", 1)[-1].rstrip("/")
    if host in (f"ecs.{region}.aliyuncs.com", f"ecs-{region}.aliyuncs.com"):
        return endpoint.replace(host, "ecs-cn-hangzhou.aliyuncs.com" if other == "cn-hangzhou"
                                else f"ecs.{other}.aliyuncs.com")
    return endpoint


class Ecs:
    def __init__(self, rpc: RpcClient) -> None:
        self.rpc = rpc
        self.region = rpc.region
        self._regions: dict[str, Ecs] = {}

    def _in(self, region: str) -> Ecs:
        """This adapter for another region (built once)."""
        if region == self.region:
            return self
        if region not in self._regions:
            self._regions[region] = Ecs(self.rpc.in_region(
                region, regional_endpoint(self.rpc.endpoint, self.region, region)))
        return self._regions[region]

    # -- discovery
    # A Tag.N query of DescribeDisks/DescribeInstances/DescribeSnapshots returns at most 1,000 resources, and the
    # reference sends larger queries to ListTagResources: resources are found there (no cap), then described by id.
    def disks_tagged(self, key: str, value: str) -> list[Disk]:
        ids = [rid for rid, _ in self._tagged("disk", key, value)]
        found = self.describe_disks(ids)
        return [found[i] for i in ids if i in found]

    def describe_disks(self, disk_ids: list[str]) -> dict[str, Disk]:
        found: dict[str, Disk] = {}
        for batch in chunks(list(disk_ids), DISK_IDS_PER_CALL):
            for disk in self._pages("DescribeDisks", {"RegionId": self.region, "DiskIds": json.dumps(batch),
                                                      "MaxResults": DISKS_PAGE}, "Disks", "Disk", _disk):
                found[disk.disk_id] = disk
        return found

    def disks_of_instance(self, instance_id: str) -> list[Disk]:
        """Every disk attached to an ECS instance (DescribeDisks.InstanceId)."""
        return list(self._pages("DescribeDisks", {"RegionId": self.region, "InstanceId": instance_id,
                                                  "MaxResults": 500}, "Disks", "Disk", _disk))

    def instances_tagged(self, key: str, value: str) -> list[Instance]:
        ids = [rid for rid, _ in self._tagged("instance", key, value)]
        found = self.describe_instances(ids)
        return [found[i] for i in ids if i in found]

    def describe_instances(self, instance_ids: list[str]) -> dict[str, Instance]:
        found: dict[str, Instance] = {}
        for batch in chunks(list(instance_ids), INSTANCE_IDS_PER_CALL):
            for inst in self._pages("DescribeInstances", {"RegionId": self.region, "InstanceIds": json.dumps(batch),
                                                          "MaxResults": PAGE}, "Instances", "Instance", _instance):
                found[inst.instance_id] = inst
        return found

    def _tagged(self, resource_type: str, key: str, value: str | None = None) -> list[tuple[str, str]]:
        """(resource id, value of tag `key`) of every resource of the type carrying the tag, in the order listed.
        ListTagResources answers one row per tag of each matching resource: only the rows of `key` count."""
        tag = {"Key": key, "Value": value} if value is not None else {"Key": key}
        seen: dict[str, str] = {}
        for row in self._pages("ListTagResources", {"RegionId": self.region, "ResourceType": resource_type,
                                                    "Tag": [tag]}, "TagResources", "TagResource", lambda r: r):
            if row.get("TagKey") == key:
                seen.setdefault(row["ResourceId"], row.get("TagValue") or "")
        return list(seen.items())

    # -- snapshots
    snapshot_must_wait = staticmethod(snapshot_must_wait)
    reset_must_wait = staticmethod(reset_must_wait)

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
        """Up to 100 ids per call, every page read; ids the cloud no longer knows are absent from the result."""
        found: dict[str, Snapshot] = {}
        for batch in chunks(list(snapshot_ids), SNAPSHOT_IDS_PER_CALL):
            for snap in self._pages("DescribeSnapshots", {"RegionId": self.region, "SnapshotIds": json.dumps(batch),
                                                          "MaxResults": PAGE}, "Snapshots", "Snapshot", _snapshot):
                found[snap.snapshot_id] = snap
        return found

    def describe_snapshot_groups(self, group_ids: Iterable[str]) -> dict[str, SnapshotGroup]:
        found: dict[str, SnapshotGroup] = {}
        for batch in chunks(list(group_ids), GROUP_IDS_PER_CALL):
            for group in self._pages("DescribeSnapshotGroups", {"RegionId": self.region, "SnapshotGroupId": batch,
                                                                "MaxResults": PAGE}, "SnapshotGroups",
                                     "SnapshotGroup", _group):
                found[group.group_id] = group
        return found

    def snapshots_tagged(self, key: str, value: str | None = None) -> list[tuple[str, str]]:
        """(snapshot id, value of tag `key`) of every snapshot carrying that tag key (with that value, if given)."""
        return self._tagged("snapshot", key, value)

    def groups_tagged(self, key: str, value: str | None = None) -> list[tuple[str, str]]:
        """ListTagResources has no snapshot-group type, so groups are listed by DescribeSnapshotGroups' Tag.N
        (its reference states no 1,000 cap)."""
        tag = {"Key": key, "Value": value} if value is not None else {"Key": key}
        out = []
        for raw in self._pages("DescribeSnapshotGroups", {"RegionId": self.region, "Tag": [tag],
                                                          "MaxResults": PAGE}, "SnapshotGroups", "SnapshotGroup",
                               lambda r: r):
            tags = {t.get("Key"): t.get("Value") for t in (raw.get("Tags") or {}).get("Tag") or []}
            out.append((raw["SnapshotGroupId"], tags.get(key, "")))
        return out

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.rpc.call("DeleteSnapshot", {"SnapshotId": snapshot_id, "Force": False})

    def delete_snapshot_group(self, group_id: str) -> None:
        """The answer is per member snapshot (OperationProgressSet): a member the cloud kept (one a custom image was
        made from, DeleteSnapshotGroup reference) is a failure, not a success."""
        body = self.rpc.call("DeleteSnapshotGroup", {"RegionId": self.region, "SnapshotGroupId": group_id})
        for progress in ((body or {}).get("OperationProgressSet") or {}).get("OperationProgress") or []:
            if progress.get("OperationStatus", "Success") != "Success":
                kept = [i.get("Value") for i in (progress.get("RelatedItemSet") or {}).get("RelatedItem") or []]
                raise CloudError(progress.get("ErrorCode") or "SnapshotNotDeleted",
                                 f"{', '.join(filter(None, kept)) or 'a member'} of {group_id} was not deleted: "
                                 f"{progress.get('ErrorMsg') or progress.get('OperationStatus')}",
                                 action="DeleteSnapshotGroup", http_status=403)

    # -- copies in another region
    def copy_snapshot(self, snapshot_id: str, region: str, *, name: str, description: str, client_token: str,
                      tags: dict[str, str] | None = None, kms_key_id: str | None = None) -> str:
        """CopySnapshot, sent to the source's region; the answer's SnapshotId is the copy's, in `region`. With a key,
        Encrypted and KMSKeyId (a key of the destination region: an encrypted source's copy needs one)."""
        body = self.rpc.call("CopySnapshot", {
            "RegionId": self.region, "SnapshotId": snapshot_id, "DestinationRegionId": region,
            "DestinationSnapshotName": name, "DestinationSnapshotDescription": description,
            "ClientToken": client_token, "Tag": _tags(tags),
            **({"Encrypted": True, "KMSKeyId": kms_key_id} if kms_key_id else {})})
        return body["SnapshotId"]

    def describe_snapshots_in(self, region: str, snapshot_ids: Iterable[str]) -> dict[str, Snapshot]:
        return self._in(region).describe_snapshots(snapshot_ids)

    def delete_snapshot_in(self, region: str, snapshot_id: str) -> None:
        self._in(region).delete_snapshot(snapshot_id)

    def lock_snapshot_in(self, region: str, snapshot_id: str, days: int) -> None:
        self._in(region).lock_snapshot(snapshot_id, days)

    def snapshots_tagged_in(self, region: str, key: str) -> list[tuple[str, str]]:
        return self._in(region).snapshots_tagged(key)

    def lock_snapshot(self, snapshot_id: str, days: int) -> None:
        """LockSnapshot: compliance is the only LockMode; CoolOffPeriod 0 locks at once (and is what extending a
        lock past its cool-off requires), LockDuration in days (1-36500)."""
        self.rpc.call("LockSnapshot", {"RegionId": self.region, "SnapshotId": snapshot_id, "LockMode": "compliance",
                                       "LockDuration": days, "CoolOffPeriod": 0})

    # -- restore
    def stop_instances(self, instance_ids: list[str]) -> list[Refused]:
        """The instances ECS did not stop: with SuccessFirst the call succeeds and each refused instance has its own
        row in InstanceResponses, Code other than 200."""
        refused: list[Refused] = []
        for batch in chunks(instance_ids, INSTANCE_IDS_PER_CALL):
            body = self.rpc.call("StopInstances", {"RegionId": self.region, "InstanceId": batch,
                                                   "StoppedMode": "KeepCharging", "BatchOptimization": "SuccessFirst"})
            refused += _refused(body)
        return refused

    def start_instances(self, instance_ids: list[str]) -> list[Refused]:
        refused: list[Refused] = []
        for batch in chunks(instance_ids, INSTANCE_IDS_PER_CALL):
            body = self.rpc.call("StartInstances", {"RegionId": self.region, "InstanceId": batch,
                                                    "BatchOptimization": "SuccessFirst"})
            refused += _refused(body)
        return refused

    def reset_disk(self, disk_id: str, snapshot_id: str) -> None:
        self.rpc.call("ResetDisk", {"DiskId": disk_id, "SnapshotId": snapshot_id})

    # -- scratch disks (drills)
    def create_disk_from_snapshot(self, snapshot_id: str, zone_id: str, category: str, *, name: str,
                                  client_token: str, tags: dict[str, str] | None = None) -> str:
        body = self.rpc.call("CreateDisk", {"RegionId": self.region, "ZoneId": zone_id, "SnapshotId": snapshot_id,
                                            "DiskCategory": category, "DiskName": name, "ClientToken": client_token,
                                            "Tag": _tags(tags)})
        return body["DiskId"]

    def delete_disk(self, disk_id: str) -> None:
        self.rpc.call("DeleteDisk", {"DiskId": disk_id})

    # -- Cloud Assistant
    def run_command(self, instance_ids: list[str], script: str, *, name: str, timeout_seconds: int,
                    client_token: str) -> str:
        """RunCommand: create and run a shell script at once (KeepCommand false: nothing is left to delete)."""
        body = self.rpc.call("RunCommand", {"RegionId": self.region, "Type": "RunShellScript",
                                            "CommandContent": script, "ContentEncoding": "PlainText",
                                            "InstanceId": instance_ids, "Name": name, "Timeout": timeout_seconds,
                                            "ClientToken": client_token})
        return body["InvokeId"]

    def invocation_results(self, invoke_id: str) -> dict[str, CommandRun]:
        found: dict[str, CommandRun] = {}
        token = None
        while True:
            body = self.rpc.call("DescribeInvocationResults", {
                "RegionId": self.region, "InvokeId": invoke_id, "ContentEncoding": "PlainText",
                "MaxResults": INVOCATION_RESULTS_PAGE, "NextToken": token})
            invocation = body.get("Invocation") or {}
            for raw in (invocation.get("InvocationResults") or {}).get("InvocationResult") or []:
                run = _command_run(raw)
                found[run.instance_id] = run
            token = invocation.get("NextToken")
            if not token:
                return found

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


def _command_run(raw: dict) -> CommandRun:
    code = raw.get("ExitCode")
    return CommandRun(raw.get("InstanceId", ""), raw.get("InvocationStatus", ""),
                      int(code) if code is not None and str(code) != "" else None, raw.get("Output") or "",
                      raw.get("StartTime") or None, raw.get("FinishedTime") or None, raw.get("ErrorCode") or "",
                      raw.get("ErrorInfo") or "")


def _disk(raw: dict) -> Disk:
    return Disk(disk_id=raw["DiskId"], instance_id=raw.get("InstanceId") or None, status=raw.get("Status", ""),
                category=raw.get("Category", ""), size_gib=int(raw.get("Size") or 0), disk_type=raw.get("Type", ""),
                multi_attach=str(raw.get("MultiAttach", "")).lower() == "enabled",
                encrypted=_flag(raw.get("Encrypted")), kms_key_id=raw.get("KMSKeyId") or None,
                zone_id=raw.get("ZoneId") or "")


def _refused(body: dict) -> list[Refused]:
    rows = (body.get("InstanceResponses") or {}).get("InstanceResponse") or []
    return [Refused(r.get("InstanceId", ""), str(r.get("Code")), r.get("Message") or "") for r in rows
            if str(r.get("Code", "200")) != "200"]


def _instance(raw: dict) -> Instance:
    return Instance(instance_id=raw["InstanceId"], status=raw.get("Status", ""))


def _group(raw: dict) -> SnapshotGroup:
    """Members carry no Status of their own (DescribeSnapshotGroups' example response): the group's counts."""
    members = tuple(_snapshot(s) for s in (raw.get("Snapshots") or {}).get("Snapshot") or [])
    return SnapshotGroup(raw["SnapshotGroupId"], raw.get("Status", ""), members, _epoch(raw.get("CreationTime")))


def _snapshot(raw: dict) -> Snapshot:
    return Snapshot(snapshot_id=raw["SnapshotId"], disk_id=raw.get("SourceDiskId"), status=raw.get("Status", ""),
                    progress=_percent(raw.get("Progress")), available=bool(raw.get("Available")),
                    remain_seconds=_seconds(raw.get("RemainTime")),
                    size_bytes=_seconds(raw.get("FullSnapshotSizeInBytes")),
                    created_epoch=_epoch(raw.get("CreationTime")),
                    encrypted=_flag(raw.get("Encrypted")), kms_key_id=raw.get("KMSKeyId") or None)


def _flag(value) -> bool | None:
    """A boolean the API may leave out (Encrypted): None when absent."""
    if value is None or value == "":
        return None
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _epoch(text) -> float | None:
    """CreationTime: ISO 8601 UTC to the second (as the API references show it); to the minute also read."""
    for form in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ"):
        try:
            return datetime.strptime(str(text or ""), form).replace(tzinfo=timezone.utc).timestamp()
        except ValueError:
            continue
    return None
