"""ECS 2014-05-26: instances, disks as image files, real incremental snapshots, disk rollback.

State. Instances, disks, snapshots, snapshot groups and ClientTokens are JSON documents in the durable store
(kinds `ecs.instance`, `ecs.disk`, `ecs.snapshot`, `ecs.snapshotgroup`, `ecs.token`); snapshot manifests live in
the table `ecs_manifests`. A disk is a sparse image file under `<state>/ecs/disks/`; snapshot data is a
content-addressed block store under `<state>/ecs/blocks/` (see `blockstore.py`).

Snapshots. `CreateSnapshot` answers at once; a background job reads the image, stores the blocks that are not in the
store yet and, once every block is in place, commits the manifest and the status `accomplished` in one
transaction. An unchanged disk is not read again: when the image file's (size, mtime_ns, ctime_ns, inode) equal the
key recorded with the disk's last manifest (the previous accomplished snapshot, or a rollback), and the key was not
taken within the timestamp granularity of a write, the manifest is reused as is (restic's change detection).
Progress (`"40%"`) follows the work done and, when `op_delay_ms` is set, the time elapsed against that minimum
duration; it stays below 100 until the snapshot is accomplished.

Errors (HTTP status, code): from each action's error table in the API reference where it has one (see
docs/cloud-fidelity.md "ECS"); the UNCONFIRMED choices are named constants below and in `rules.py`.
- 400 MissingParameter: a required parameter is absent (DiskId, SnapshotId, InstanceId, RegionId where the
  reference marks it required, ResourceType, SnapshotGroupId, Disk.N.DiskId/SnapshotId).
- 403 InvalidDiskIds.Malformed / 403 InvalidSnapshotIds.Malformed: more than 100 DiskIds / SnapshotIds;
  400 InvalidInstanceIds.Malformed (UNCONFIRMED) for more than 100 InstanceIds.
- 400 InvalidParameter: other malformed or too many ids (ResourceId.N > 50, SnapshotGroupId.N > 10, Status.N > 3,
  Disk.N > 10), unknown enum values without a documented code, a group disk not attached to InstanceId.
- Unknown filter values: DescribeDisks 400 InvalidDiskType.ValueNotSupported / InvalidStatus.ValueNotSupported;
  DescribeSnapshots 404 InvalidStatus.NotFound / InvalidSnapshotType.NotFound / InvalidSourceDiskType;
  DescribeInstances 404 InvalidStatus.NotFound; DescribeSnapshotGroups 403 InvalidStatus.ValueNotSupported.
- 400 InvalidParameter.NextToken (UNCONFIRMED): a NextToken this cloud did not issue.
- Tag queries (Tag.N) of DescribeDisks/DescribeInstances/DescribeSnapshots return at most 1,000 resources.
- 400 InvalidSnapshotName.Malformed (snapshots and groups) / 404 InvalidDescription.Malformed: name 2-128
  characters starting with a letter, not `auto…` or a URL; description 2-256 characters.
- 400 InvalidTagKey.Malformed: a user tag key starting with `acs:` or `aliyun`, or longer than 128 characters;
  400 InvalidTagValue.Malformed: a value longer than 128 characters.
- 400 IdempotentParameterMismatch: a ClientToken reused with other parameters (tokens are durable).
- 400 InvalidParameter.DiskCount: CreateSnapshotGroup over more than 16 disks (the documented limit).
- 403 InvalidDiskCategory.NotSupported: CreateSnapshotGroup over a disk outside the ESSD family.
- 403 IncorrectDiskStatus.CreatingSnapshot: CreateSnapshot(Group) while a snapshot of the disk is progressing
  (documented), and ResetDisk(s) while one is being created (UNCONFIRMED code, RESET_WHILE_SNAPSHOTTING).
- 403 IncorrectDiskStatus: the disk is being re-initialised (ReIniting); StartInstance(s) while a disk of the
  instance is being re-initialised (UNCONFIRMED code).
- 403 InvalidParameter.Mismatch: ResetDisk(s) with a snapshot taken from another disk.
- 403 InvalidSnapshotId.NotReady: ResetDisk(s) from a snapshot that is not accomplished.
- 400 IncorrectInstanceStatus: CreateSnapshot(Group) when the instance is neither Running nor Stopped;
  403 IncorrectInstanceStatus: Stop from anything but Running, Start from anything but Stopped, ResetDisk(s) when
  the attached instance is not Stopped.
- 403 QuotaExceed.Snapshot: a disk already has 256 snapshots.
- 404 InvalidDiskId.NotFound / InvalidSnapshotId.NotFound / InvalidInstanceId.NotFound /
  InvalidSnapshotGroupId.NotFound: unknown ids. DeleteSnapshot of an unknown id is ignored, as documented.
- 404 InvalidRegionId.NotFound: a RegionId other than the cloud's.
- 400 DryRunOperation (DRYRUN.SUCCESS for Stop/StartInstances): DryRun=true and the request is valid.
ResetDisks and StopInstances/StartInstances with BatchOptimization=AllTogether are all or nothing: the first
refused item fails the call and nothing starts. StopInstances/StartInstances with SuccessFirst report each refused
instance in InstanceResponses with its error code.

Faults: `reject` refuses the starting call (CreateSnapshot/Group, ResetDisk(s), Stop/Start, DeleteSnapshot) with
the configured code; `fail` on a disk, snapshot or group id makes the snapshot end `failed` (or the rollback end
with the disk back In_use, its data untouched); `stuck` keeps the work in progress; `refuse_stop` lets a stop call
succeed while the instance goes back to Running.

Restart: `resume` re-runs snapshots left progressing and rollbacks left ReIniting, and settles Stopping → Stopped
and Starting → Running. Seeded instances have data disks only (no system disk).
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from pathlib import Path

from ..cloud import Product
from ..core.errors import ServiceError, invalid
from ..core.rpc import RpcRequest
from . import rules
from .blockstore import BlockStore, Cancelled, image_key, split_digests

log = logging.getLogger("localcloud.ecs")

INSTANCE, DISK, SNAPSHOT, GROUP, TOKEN = "ecs.instance", "ecs.disk", "ecs.snapshot", "ecs.snapshotgroup", "ecs.token"
ESSD_FAMILY = ("cloud_essd", "cloud_auto", "cloud_essd_entry")
GIB = 1 << 30
MAX_SNAPSHOTS_PER_DISK = 256
MAX_GROUP_DISKS = 16
SNAPSHOT_STATUSES = ("progressing", "accomplished", "failed")
# Too many ids in DescribeDisks/DescribeSnapshots: codes from those actions' error tables.
TOO_MANY_DISK_IDS = ServiceError("InvalidDiskIds.Malformed", "The amount of specified disk Ids exceeds the limit.", 403)
TOO_MANY_SNAPSHOT_IDS = ServiceError("InvalidSnapshotIds.Malformed",
                                     "The amount of specified specified snapshot Ids exceeds the limit.", 403)
# UNCONFIRMED: DescribeInstances' error table names no code for more than 100 InstanceIds; other ECS actions
# (e.g. DescribeInstanceRamRole) answer a malformed InstanceIds with this one.
TOO_MANY_INSTANCE_IDS = ServiceError("InvalidInstanceIds.Malformed", "The specified InstanceIds is not valid.", 400)
# UNCONFIRMED: the reference gives no code for more than 10 SnapshotGroupId.N.
TOO_MANY_GROUP_IDS_CODE = "InvalidParameter"
# UNCONFIRMED: DescribeSnapshots/DescribeSnapshotGroups document MaxResults "maximum 100, default 10" only; a value
# outside 1-100 is taken as the nearest bound, as DescribeDisks/DescribeInstances document for theirs.
SNAPSHOTS_MAX_RESULTS_LO = 1
# UNCONFIRMED: the user guide forbids a rollback while a snapshot of the disk is being created; ResetDisk's error
# table has no code for it, so the one CreateSnapshot uses for the same state is given.
RESET_WHILE_SNAPSHOTTING = "IncorrectDiskStatus.CreatingSnapshot"
# UNCONFIRMED: ListTagResources has no page-size parameter and the reference states no page size.
LIST_TAG_RESOURCES_PAGE = 50


class _Job:
    """In-memory progress of one asynchronous operation."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.work = 0.0
        self.cancel = threading.Event()
        self.pinned: list[bytes] = []  # block digests this job holds against garbage collection

    def set_work(self, fraction: float) -> None:
        self.work = max(self.work, min(fraction, 1.0))

    def fraction(self, delay_s: float) -> float:
        frac = self.work
        if delay_s > 0:
            frac = min(frac, (time.monotonic() - self.started) / delay_s)
        return frac

    def remaining(self, delay_s: float) -> int:
        elapsed = time.monotonic() - self.started
        left = max(delay_s - elapsed, 0.0)
        if 0 < self.work < 1:
            left = max(left, elapsed / self.work * (1 - self.work))
        elif self.work == 0:
            left = max(left, 1.0)
        return math.ceil(left)


class Ecs(Product):
    name = "ecs"
    version = "2014-05-26"
    ACTIONS = frozenset({
        "DescribeInstances", "DescribeInstanceStatus", "DescribeDisks", "ListTagResources",
        "CreateSnapshot", "CreateSnapshotGroup", "DescribeSnapshots", "DescribeSnapshotGroups",
        "DeleteSnapshot", "DeleteSnapshotGroup", "ResetDisk", "ResetDisks",
        "StopInstance", "StopInstances", "StartInstance", "StartInstances",
    })

    def __init__(self, cloud) -> None:
        super().__init__(cloud)
        self.root = Path(cloud.state_dir) / "ecs"
        self.disk_dir = self.root / "disks"
        self.disk_dir.mkdir(parents=True, exist_ok=True)
        self.blocks = BlockStore(self.root / "blocks")
        self._jobs: dict[str, _Job] = {}
        self._gc_lock = threading.Lock()
        with cloud.store.tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS ecs_manifests (snapshot_id TEXT PRIMARY KEY, disk_id TEXT NOT NULL,"
                       " size INTEGER NOT NULL, block_size INTEGER NOT NULL, digests BLOB NOT NULL,"
                       " reused INTEGER NOT NULL DEFAULT 0, blocks_written INTEGER NOT NULL DEFAULT 0)")

    @property
    def store(self):
        return self.cloud.store

    @property
    def region(self) -> str:
        return self.cloud.region

    @property
    def zone(self) -> str:
        return f"{self.cloud.region}-k"

    def _delay(self) -> float:
        return self.cloud.faults.op_delay_ms / 1000

    # ------------------------------------------------------------------ seeding
    def create_instance(self, tags: dict[str, str]) -> dict:
        iid = self.cloud.new_id("i")
        doc = {"InstanceId": iid, "InstanceName": f"localcloud-{iid[2:10]}", "Status": "Running",
               "StoppedMode": "Not-applicable", "RegionId": self.region, "ZoneId": self.zone,
               "InstanceType": "ecs.g7.large", "Cpu": 2, "Memory": 8192, "OSType": "linux",
               "ImageId": "aliyun_3_x64_20G_alibase_20240101.vhd", "InstanceChargeType": "PostPaid",
               "CreationTime": self.cloud.iso(minutes=True), "StartTime": self.cloud.iso(minutes=True),
               "Tags": dict(tags)}
        self.store.put(INSTANCE, iid, doc)
        return doc

    def create_disk(self, instance_id: str, size: int, tags: dict[str, str], fill: bool = True,
                    category: str = "cloud_essd") -> dict:
        """A data disk attached to the instance: a sparse image file of `size` bytes, In_use."""
        if self.store.get(INSTANCE, instance_id) is None:
            raise rules.not_found("instance", instance_id)
        did = self.cloud.new_id("d")
        path = self.disk_dir / f"{did}.img"
        with open(path, "wb") as f:
            f.truncate(size)
            if fill:
                self._fill(f, did, size)
        attached = len(self.store.find(DISK, lambda d: d.get("InstanceId") == instance_id))
        now = self.cloud.iso()
        doc = {"DiskId": did, "DiskName": f"data-{did[2:10]}", "Description": "", "InstanceId": instance_id,
               "Device": f"/dev/vd{chr(ord('b') + attached % 24)}", "Type": "data", "Category": category,
               "Size": max(1, -(-size // GIB)), "Status": "In_use", "RegionId": self.region, "ZoneId": self.zone,
               "PerformanceLevel": "PL1" if category == "cloud_essd" else "", "CreationTime": now,
               "AttachedTime": now, "Tags": dict(tags), "Path": str(path.resolve()), "SizeBytes": size}
        self.store.put(DISK, did, doc)
        return doc

    @staticmethod
    def _fill(f, disk_id: str, size: int) -> None:
        """A recognisable header, then random data at a few offsets; the rest stays a hole."""
        header = f"localcloud ECS data disk {disk_id}\n".encode()
        head = header + os.urandom(max(0, min(4096, size) - len(header)))
        f.seek(0)
        f.write(head[:size])
        chunk = min(1 << 20, max(4096, size // 8))
        for i in (1, 2, 3):
            offset = (size * i // 4) // 4096 * 4096
            length = min(chunk, size - offset)
            if length > 0:
                f.seek(offset)
                f.write(os.urandom(length))

    # ------------------------------------------------------------------ lookups and rendering
    def _get(self, kind: str, label: str, rid: str | None) -> dict:
        doc = self.store.get(kind, rid) if rid else None
        if doc is None:
            raise rules.not_found(label, rid or "")
        return doc

    def _render_instance(self, doc: dict) -> dict:
        out = {k: v for k, v in doc.items() if k != "Tags"}
        out["Tags"] = rules.tag_rows(doc["Tags"])
        out["OperationLocks"] = {"LockReason": []}
        out["HostName"] = doc["InstanceId"]
        out["SerialNumber"] = doc["InstanceId"][2:]
        return out

    def _render_disk(self, doc: dict) -> dict:
        out = {k: v for k, v in doc.items() if k not in ("Tags", "Path", "SizeBytes", "Baseline", "ResetSnapshotId",
                                                          "ResetError")}
        out.update({"Tags": rules.tag_rows(doc["Tags"]), "Encrypted": False, "KMSKeyId": "", "Portable": True,
                    "DeleteWithInstance": False, "DeleteAutoSnapshot": True, "EnableAutoSnapshot": False,
                    "SourceSnapshotId": "", "ImageId": "", "MultiAttach": "Disabled", "DiskChargeType": "PostPaid",
                    "OperationLocks": {"OperationLock": []}})
        out["Attachments"] = {"Attachment": [{"InstanceId": doc["InstanceId"], "Device": doc["Device"],
                                              "AttachedTime": doc["AttachedTime"]}] if doc.get("InstanceId") else []}
        return out

    def _snapshot_progress(self, doc: dict) -> tuple[int, int]:
        """(percent, remaining seconds) of a snapshot."""
        if doc["Status"] != "progressing":
            return doc.get("ProgressPct", 0), 0
        job = self._jobs.get(doc["SnapshotId"])
        if job is None:
            return 0, max(1, math.ceil(self._delay()))
        delay = self._delay()
        return min(99, int(job.fraction(delay) * 100)), job.remaining(delay)

    def _render_snapshot(self, doc: dict) -> dict:
        pct, remain = self._snapshot_progress(doc)
        keep = ("SnapshotId", "SnapshotName", "Description", "Status", "SourceDiskId", "SourceDiskType",
                "SourceDiskSize", "CreationTime", "LastModifiedTime", "RetentionDays", "SnapshotType", "Usage",
                "Category", "InstantAccess", "SnapshotSN", "SnapshotLinkId", "RegionId", "ResourceGroupId",
                "FullSnapshotSizeInBytes", "SourceStorageType")
        out = {k: doc[k] for k in keep if k in doc}
        out.update({"Progress": f"{pct}%", "RemainTime": remain, "Available": doc["Status"] == "accomplished",
                    "Encrypted": False, "Tags": rules.tag_rows(doc["Tags"])})
        return out

    # ------------------------------------------------------------------ describe
    def DescribeInstances(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        ids = rules.id_list(req, "InstanceIds", 100, TOO_MANY_INSTANCE_IDS)
        wanted = rules.tag_filter(req)
        status = req.get("Status")
        if status is not None and status not in ("Pending", "Running", "Starting", "Stopping", "Stopped"):
            raise rules.error("InvalidStatus.NotFound", "The specified Status is not found", 404)
        docs = self.store.find(INSTANCE, lambda d: (ids is None or d["InstanceId"] in ids)
                               and rules.tags_match(d["Tags"], wanted) and (status is None or d["Status"] == status))
        docs = rules.cap_tag_query(docs, wanted)
        chunk, paging = rules.page(req, docs, max_lo=10, max_hi=100, max_default=10, size_hi=100)
        return {**paging, "Instances": {"Instance": [self._render_instance(d) for d in chunk]}}

    def DescribeInstanceStatus(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        ids = rules.repeated(req, "InstanceId", 100)
        docs = self.store.find(INSTANCE, lambda d: not ids or d["InstanceId"] in ids)
        number = req.get_int("PageNumber", 1, lo=1, hi=1_000_000)
        size = req.get_int("PageSize", 10, lo=1, hi=50)
        chunk = docs[(number - 1) * size:number * size]
        return {"TotalCount": len(docs), "PageNumber": number, "PageSize": size,
                "InstanceStatuses": {"InstanceStatus": [{"InstanceId": d["InstanceId"], "Status": d["Status"]}
                                                        for d in chunk]}}

    def DescribeDisks(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        ids = rules.id_list(req, "DiskIds", 100, TOO_MANY_DISK_IDS)
        instance_id = req.get("InstanceId")
        wanted = rules.tag_filter(req)
        disk_type = req.get("DiskType", "all").lower()
        if disk_type not in ("all", "system", "data"):
            raise rules.error("InvalidDiskType.ValueNotSupported", "The specified disk type is not supported.", 400)
        status = req.get("Status", "All")
        if status not in ("In_use", "Available", "Attaching", "Detaching", "Creating", "ReIniting", "All"):
            raise rules.error("InvalidStatus.ValueNotSupported", "The specified disk status is not supported.", 400)
        category = req.get("Category", "all")
        rules.dry_run(req)
        docs = self.store.find(DISK, lambda d: (ids is None or d["DiskId"] in ids)
                               and (instance_id is None or d.get("InstanceId") == instance_id)
                               and rules.tags_match(d["Tags"], wanted)
                               and disk_type in ("all", d["Type"])
                               and status in ("All", d["Status"])
                               and category in ("all", d["Category"]))
        docs = rules.cap_tag_query(docs, wanted)
        chunk, paging = rules.page(req, docs, max_lo=10, max_hi=500, max_default=10, size_hi=100)
        paging.pop("MaxResults", None)
        paging.setdefault("PageNumber", 1)
        paging.setdefault("PageSize", len(chunk))
        return {**paging, "Disks": {"Disk": [self._render_disk(d) for d in chunk]}}

    def ListTagResources(self, req: RpcRequest) -> dict:
        """Codes from ListTagResources' error table (404 for missing parameters, as documented)."""
        region = req.get("RegionId")
        if region is None:
            raise rules.error("MissingParameter.RegionId", "The parameter - RegionId should not be null", 404)
        rules.check_region(req, self.region)
        rtype = req.get("ResourceType")
        if rtype is None:
            raise rules.error("MissingParameter.ResourceType", "The parameter - ResourceType should not be null", 404)
        kinds = {"instance": (INSTANCE, "InstanceId"), "disk": (DISK, "DiskId"), "snapshot": (SNAPSHOT, "SnapshotId")}
        if rtype.lower() not in kinds:  # the real list is longer; this cloud has these three taggable types
            raise rules.error("InvalidResourceType.NotFound",
                              "The ResourceType provided does not exist in our records.", 404)
        rtype = rtype.lower()
        ids = req.get_list("ResourceId")
        if len(ids) > 50:
            raise rules.error("NumberExceed.ResourceIds", "The ResourceIds parameter's number is exceed , Valid : 50",
                              400)
        wanted = rules.tag_filter(req, rules.error("NumberExceed.Tags",
                                                   "The Tags parameter's number is exceed , Valid : 20", 400))
        if not ids and not wanted:
            raise rules.error("MissingParameter.Tags", "The parameter - Tags should not be null", 404)
        kind, id_key = kinds[rtype]
        docs = self.store.find(kind, lambda d: (not ids or d[id_key] in ids) and rules.tags_match(d["Tags"], wanted))
        rows = [{"ResourceId": d[id_key], "ResourceType": rtype, "TagKey": k, "TagValue": v}
                for d in docs for k, v in d["Tags"].items()]
        chunk, token = rules.token_page(req, rows, LIST_TAG_RESOURCES_PAGE)
        return {"NextToken": token, "TagResources": {"TagResource": chunk}}

    def DescribeSnapshots(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        ids = rules.id_list(req, "SnapshotIds", 100, TOO_MANY_SNAPSHOT_IDS)
        disk_id, instance_id, name = req.get("DiskId"), req.get("InstanceId"), req.get("SnapshotName")
        status = req.get("Status", "all")
        if status not in (*SNAPSHOT_STATUSES, "all"):
            raise rules.error("InvalidStatus.NotFound", "The specified Status is not found", 404)
        snapshot_type = req.get("SnapshotType", "all")
        if snapshot_type not in ("auto", "user", "all"):
            raise rules.error("InvalidSnapshotType.NotFound", "The specfied SnapshotType is not found", 404)
        source_type = (req.get("SourceDiskType") or "").lower() or None
        if source_type not in (None, "system", "data"):
            raise rules.error("InvalidSourceDiskType", "The specifed SourceDiskType is not valid", 404)
        wanted = rules.tag_filter(req)
        docs = self.store.find(SNAPSHOT, lambda d: (ids is None or d["SnapshotId"] in ids)
                               and (disk_id is None or d["SourceDiskId"] == disk_id)
                               and (instance_id is None or d.get("InstanceId") == instance_id)
                               and (name is None or d.get("SnapshotName") == name)
                               and status in ("all", d["Status"])
                               and snapshot_type in ("all", d["SnapshotType"])
                               and (source_type is None or d["SourceDiskType"] == source_type)
                               and rules.tags_match(d["Tags"], wanted))
        docs = rules.cap_tag_query(docs, wanted)
        chunk, paging = rules.page(req, docs, max_lo=SNAPSHOTS_MAX_RESULTS_LO, max_hi=100, max_default=10,
                                   size_hi=100)
        paging.pop("MaxResults", None)
        return {**paging, "Snapshots": {"Snapshot": [self._render_snapshot(d) for d in chunk]}}

    def _group_status(self, members: list[dict]) -> str:
        statuses = {m["Status"] for m in members}
        if "failed" in statuses:
            return "failed"
        if "progressing" in statuses:
            return "progressing"
        return "accomplished"

    def _render_group(self, doc: dict) -> dict:
        members = [m for m in (self.store.get(SNAPSHOT, sid) for sid in doc["SnapshotIds"]) if m is not None]
        snaps = []
        for m in members:
            pct, _ = self._snapshot_progress(m)
            snaps.append({"SnapshotId": m["SnapshotId"], "SourceDiskId": m["SourceDiskId"],
                          "SourceDiskType": m["SourceDiskType"], "Progress": f"{pct}%",
                          "Available": m["Status"] == "accomplished", "InstantAccess": True,
                          "Tags": rules.tag_rows(m["Tags"], "Key", "Value")})
        return {"SnapshotGroupId": doc["SnapshotGroupId"], "Name": doc.get("Name"),
                "Description": doc.get("Description"), "InstanceId": doc.get("InstanceId"),
                "Status": self._group_status(members), "CreationTime": doc["CreationTime"],
                "ResourceGroupId": "", "Tags": rules.tag_rows(doc["Tags"], "Key", "Value"),
                "Snapshots": {"Snapshot": snaps}}

    def DescribeSnapshotGroups(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        ids = req.get_list("SnapshotGroupId")
        if len(ids) > 10:
            raise rules.error(TOO_MANY_GROUP_IDS_CODE, f"At most 10 SnapshotGroupId.N are allowed, got {len(ids)}.",
                              400)
        statuses = rules.repeated(req, "Status", 3)
        if any(s not in SNAPSHOT_STATUSES for s in statuses):
            raise rules.error("InvalidStatus.ValueNotSupported", f"The specified Status.N {statuses} is not "
                                                                 "supported.", 403)
        instance_id, name = req.get("InstanceId"), req.get("Name")
        wanted = rules.tag_filter(req)
        docs = self.store.find(GROUP, lambda d: (not ids or d["SnapshotGroupId"] in ids)
                               and (instance_id is None or d.get("InstanceId") == instance_id)
                               and (name is None or d.get("Name") == name)
                               and rules.tags_match(d["Tags"], wanted))
        rendered = [self._render_group(d) for d in docs]
        rendered = [g for g in rendered if not statuses or g["Status"] in statuses]
        size = req.get_int("MaxResults", 10, lo=SNAPSHOTS_MAX_RESULTS_LO, hi=100, clamp=True)
        chunk, token = rules.token_page(req, rendered, size)
        return {"NextToken": token, "SnapshotGroups": {"SnapshotGroup": chunk}}

    # ------------------------------------------------------------------ snapshots
    def _idempotent(self, action: str, token: str | None, req: RpcRequest) -> tuple[str | None, dict | None]:
        """Look a ClientToken up: (record id, previous result) or (record id, None) when new."""
        if token is None:
            return None, None
        params = {k: v for k, v in req.params.items() if k != "ClientToken"}
        rid = f"{action}:{token}"
        seen = self.store.get(TOKEN, rid)
        if seen is None:
            return rid, None
        if seen["Params"] != params:
            raise rules.error("IdempotentParameterMismatch",
                              "The ClientToken was used before with different parameters.", 400)
        return rid, seen["Result"]

    def _remember(self, rid: str | None, req: RpcRequest, result: dict) -> None:
        if rid is not None:
            params = {k: v for k, v in req.params.items() if k != "ClientToken"}
            self.store.put(TOKEN, rid, {"Params": params, "Result": result, "CreatedAt": self.cloud.iso()})

    def _check_snapshottable(self, disk: dict) -> None:
        did = disk["DiskId"]
        if disk["Status"] not in ("In_use", "Available"):
            raise rules.error("IncorrectDiskStatus", f"The disk {did} is {disk['Status']}; a snapshot needs it "
                                                     "In_use or Available.", 403)
        if disk.get("InstanceId"):
            inst = self.store.get(INSTANCE, disk["InstanceId"])
            if inst is not None and inst["Status"] not in ("Running", "Stopped"):
                raise rules.error("IncorrectInstanceStatus", f"The instance {inst['InstanceId']} is "
                                                             f"{inst['Status']}; it must be Running or Stopped.", 400)
        existing = self.store.find(SNAPSHOT, lambda s: s["SourceDiskId"] == did)
        if any(s["Status"] == "progressing" for s in existing):
            raise rules.error("IncorrectDiskStatus.CreatingSnapshot",
                              f"A snapshot of the disk {did} is still being created.", 403)
        if len(existing) >= MAX_SNAPSHOTS_PER_DISK:
            raise rules.error("QuotaExceed.Snapshot", f"The disk {did} already has {len(existing)} snapshots.", 403)

    def _new_snapshot(self, disk: dict, name: str | None, description: str | None, tags: dict,
                      retention: int | None, group_id: str | None = None) -> dict:
        sid = self.cloud.new_id("s")
        now = self.cloud.iso()
        doc = {"SnapshotId": sid, "SnapshotName": name or "", "Description": description or "",
               "Status": "progressing", "ProgressPct": 0, "SourceDiskId": disk["DiskId"],
               "SourceDiskType": disk["Type"], "SourceDiskSize": str(disk["Size"]), "SourceStorageType": "disk",
               "InstanceId": disk.get("InstanceId") or "", "CreationTime": now, "LastModifiedTime": now,
               "RetentionDays": retention, "SnapshotType": "user", "Usage": "none", "Category": "standard",
               "InstantAccess": disk["Category"] in ESSD_FAMILY, "SnapshotSN": sid[2:], "SnapshotLinkId": "sl-"
               + disk["DiskId"][2:], "RegionId": self.region, "ResourceGroupId": "", "Tags": tags,
               "SnapshotGroupId": group_id, "FullSnapshotSizeInBytes": disk["SizeBytes"]}
        self.store.put(SNAPSHOT, sid, doc)
        self._jobs[sid] = _Job()
        return doc

    def CreateSnapshot(self, req: RpcRequest) -> dict:
        disk_id = req.require("DiskId")
        name, description = req.get("SnapshotName"), req.get("Description")
        rules.check_name(name, "InvalidSnapshotName.Malformed", "snapshot name")
        rules.check_description(description)
        retention = req.get_int("RetentionDays", None, lo=1, hi=65536)
        tags = rules.user_tags(req)
        token = rules.client_token(req)
        with self.store.tx():
            rid, previous = self._idempotent("CreateSnapshot", token, req)
            if previous is not None:
                return previous
            disk = self._get(DISK, "disk", disk_id)
            self.cloud.faults.check_reject(disk_id)
            self._check_snapshottable(disk)
            snap = self._new_snapshot(disk, name, description, tags, retention)
            result = {"SnapshotId": snap["SnapshotId"]}
            self._remember(rid, req, result)
        self.cloud.submit(self._snapshot_job, snap["SnapshotId"])
        return result

    def CreateSnapshotGroup(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        instance_id = req.get("InstanceId")
        disk_ids = rules.repeated(req, "DiskId", 128)
        excluded = set(rules.repeated(req, "ExcludeDiskId", 128))
        name, description = req.get("Name"), req.get("Description")
        rules.check_name(name, "InvalidSnapshotName.Malformed", "snapshot group name")
        rules.check_description(description)
        tags = rules.user_tags(req)
        token = rules.client_token(req)
        if instance_id is None and not disk_ids:
            raise rules.error("MissingParameter", "Either InstanceId or DiskId.N is required.", 400)
        with self.store.tx():
            rid, previous = self._idempotent("CreateSnapshotGroup", token, req)
            if previous is not None:
                return previous
            if instance_id is not None:
                self._get(INSTANCE, "instance", instance_id)
                self.cloud.faults.check_reject(instance_id)
            if disk_ids:
                disks = [self._get(DISK, "disk", d) for d in dict.fromkeys(disk_ids)]
                if instance_id is not None:
                    for d in disks:
                        if d.get("InstanceId") != instance_id:
                            raise invalid("DiskId.N", f"The disk {d['DiskId']} is not attached to {instance_id}.")
            else:
                disks = self.store.find(DISK, lambda d: d.get("InstanceId") == instance_id)
            disks = [d for d in disks if d["DiskId"] not in excluded]
            if not disks:
                raise invalid("DiskId.N", "No disk is left to snapshot.")
            if len(disks) > MAX_GROUP_DISKS:
                raise rules.error("InvalidParameter.DiskCount",
                                  f"A snapshot group covers at most {MAX_GROUP_DISKS} disks, got {len(disks)}.", 400)
            for d in disks:
                if d["Category"] not in ESSD_FAMILY:
                    raise rules.error("InvalidDiskCategory.NotSupported",
                                      f"The disk {d['DiskId']} is {d['Category']}; snapshot groups take ESSD-family "
                                      "disks only.", 403)
                self.cloud.faults.check_reject(d["DiskId"])
                self._check_snapshottable(d)
            gid = self.cloud.new_id("ssg")
            snaps = [self._new_snapshot(d, None, None, {}, None, group_id=gid) for d in disks]
            owners = {d.get("InstanceId") for d in disks}
            self.store.put(GROUP, gid, {"SnapshotGroupId": gid, "Name": name or "", "Description": description or "",
                                        "InstanceId": owners.pop() if len(owners) == 1 else "",
                                        "CreationTime": self.cloud.iso(), "Tags": tags,
                                        "SnapshotIds": [s["SnapshotId"] for s in snaps]})
            result = {"SnapshotGroupId": gid}
            self._remember(rid, req, result)
        for s in snaps:
            self.cloud.submit(self._snapshot_job, s["SnapshotId"])
        return result

    def _drop_snapshot(self, sid: str) -> None:
        """Delete a snapshot (cancelling it if progressing) and its manifest, in one transaction."""
        job = self._jobs.get(sid)
        if job is not None:
            job.cancel.set()
        with self.store.tx() as db:
            self.store.delete(SNAPSHOT, sid)
            db.execute("DELETE FROM ecs_manifests WHERE snapshot_id = ?", (sid,))

    def DeleteSnapshot(self, req: RpcRequest) -> dict:
        sid = req.require("SnapshotId")
        self.cloud.faults.check_reject(sid)
        if self.store.get(SNAPSHOT, sid) is None:
            return {}  # documented: a non-existent snapshot id is ignored
        self._drop_snapshot(sid)
        self._collect_later()
        return {}

    def DeleteSnapshotGroup(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        gid = req.require("SnapshotGroupId")
        group = self._get(GROUP, "group", gid)
        self.cloud.faults.check_reject(gid)
        items = []
        for sid in group["SnapshotIds"]:
            if self.store.get(SNAPSHOT, sid) is not None:
                self._drop_snapshot(sid)
            items.append({"OperationStatus": "Success", "ErrorCode": "", "ErrorMsg": "",
                          "RelatedItemSet": {"RelatedItem": [{"Name": "SnapshotId", "Value": sid}]}})
        self.store.delete(GROUP, gid)
        self._collect_later()
        return {"OperationProgressSet": {"OperationProgress": items}}

    def _collect_later(self) -> None:
        if not self.cloud.stopping:
            try:
                self.cloud.submit(self.collect_garbage)
            except RuntimeError:  # the job pool is shutting down
                pass

    def collect_garbage(self) -> int:
        """Remove blocks that no committed manifest and no running job references."""
        def referenced() -> set[bytes]:
            out: set[bytes] = set()
            for (blob,) in self.store.query("SELECT digests FROM ecs_manifests"):
                out.update(split_digests(blob))
            return out
        with self._gc_lock:
            return self.blocks.collect_garbage(referenced)

    def _baseline(self, disk: dict) -> tuple[list[int], int, bytes] | None:
        base = disk.get("Baseline")
        if not base:
            return None
        rows = self.store.query("SELECT digests, size FROM ecs_manifests WHERE snapshot_id = ?", (base["SnapshotId"],))
        if not rows:
            return None
        return base["Key"], base["Taken"], rows[0][0]

    def _snapshot_job(self, sid: str) -> None:
        job = self._jobs.setdefault(sid, _Job())
        try:
            self._run_snapshot(sid, job)
        except Cancelled:
            pass
        except Exception as err:  # noqa: BLE001 - a broken job must end failed, not hang progressing
            log.exception("snapshot %s failed", sid)
            self._end_snapshot_failed(sid, job, f"{type(err).__name__}: {err}")
        finally:
            self._jobs.pop(sid, None)
            self.blocks.unpin(job.pinned)
            done = self.store.get(SNAPSHOT, sid) if not self.cloud.stopping else None
            if job.cancel.is_set() or (done is not None and done["Status"] == "failed"):
                self._collect_later()  # blocks of a cancelled or failed snapshot belong to no manifest

    def _run_snapshot(self, sid: str, job: _Job) -> None:
        snap = self.store.get(SNAPSHOT, sid)
        if snap is None or snap["Status"] != "progressing":
            return
        did, gid = snap["SourceDiskId"], snap.get("SnapshotGroupId")
        disk = self.store.get(DISK, did)
        if disk is None:
            self._end_snapshot_failed(sid, job, "the source disk no longer exists")
            return

        def should_stop() -> bool:
            return job.cancel.is_set() or self.cloud.stopping

        cap = self.blocks.capture(Path(disk["Path"]), self._baseline(disk), job.set_work, should_stop)
        job.pinned = cap.pinned
        self.cloud.pace(job.started)
        ids = [i for i in (did, sid, gid) if i]
        if self.cloud.wait_while_stuck(*ids) or should_stop():
            return  # cancelled, or the cloud stops: `resume` runs it again
        if self.cloud.faults.fails(*ids):
            self._end_snapshot_failed(sid, job, "injected fault")
            return
        with self.store.tx() as db:
            snap = self.store.get(SNAPSHOT, sid)
            if snap is None or snap["Status"] != "progressing":
                return
            db.execute("INSERT OR REPLACE INTO ecs_manifests (snapshot_id, disk_id, size, block_size, digests, reused,"
                       " blocks_written) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (sid, did, cap.size, self.blocks.block_size, cap.digests, int(cap.reused), cap.blocks_written))
            snap.update({"Status": "accomplished", "ProgressPct": 100, "LastModifiedTime": self.cloud.iso(),
                         "FullSnapshotSizeInBytes": cap.size})
            self.store.put(SNAPSHOT, sid, snap)
            self.store.update(DISK, did, lambda d: d.update(
                Baseline={"Key": list(cap.key), "Taken": cap.key_taken_ns, "SnapshotId": sid}))

    def _end_snapshot_failed(self, sid: str, job: _Job, reason: str) -> None:
        pct = min(99, int(job.fraction(self._delay()) * 100))

        def change(doc: dict) -> None:
            if doc["Status"] == "progressing":
                doc.update(Status="failed", ProgressPct=pct, FailReason=reason, LastModifiedTime=self.cloud.iso())
        self.store.update(SNAPSHOT, sid, change)

    # ------------------------------------------------------------------ rollback
    def _check_reset(self, disk_id: str | None, snapshot_id: str | None) -> tuple[dict, dict]:
        if disk_id is None:
            raise rules.error("MissingParameter", "The input parameter \"DiskId\" is mandatory.", 400)
        if snapshot_id is None:
            raise rules.error("MissingParameter", "The input parameter \"SnapshotId\" is mandatory.", 400)
        disk = self._get(DISK, "disk", disk_id)
        snap = self._get(SNAPSHOT, "snapshot", snapshot_id)
        self.cloud.faults.check_reject(disk_id)
        if snap["SourceDiskId"] != disk_id:
            raise rules.error("InvalidParameter.Mismatch", "The specified snapshot is not created from the specified "
                                                           f"disk ({snapshot_id} is not a snapshot of {disk_id}).", 403)
        if snap["Status"] != "accomplished":
            raise rules.error("InvalidSnapshotId.NotReady", f"The specified snapshot has not completed yet "
                                                            f"({snapshot_id} is {snap['Status']}).", 403)
        if disk["Status"] not in ("In_use", "Available"):
            raise rules.error("IncorrectDiskStatus", f"The disk {disk_id} is {disk['Status']}.", 403)
        if disk.get("InstanceId"):
            inst = self.store.get(INSTANCE, disk["InstanceId"])
            if inst is not None and inst["Status"] != "Stopped":
                raise rules.error("IncorrectInstanceStatus", f"The instance {inst['InstanceId']} is "
                                                             f"{inst['Status']}; it must be Stopped.", 403)
        if self.store.find(SNAPSHOT, lambda s: s["SourceDiskId"] == disk_id and s["Status"] == "progressing"):
            raise rules.error(RESET_WHILE_SNAPSHOTTING, f"A snapshot of the disk {disk_id} is being created.", 403)
        return disk, snap

    def _start_reset(self, disk_id: str, snapshot_id: str) -> None:
        self.store.update(DISK, disk_id, lambda d: d.update(Status="ReIniting", ResetSnapshotId=snapshot_id))
        self._jobs[f"reset:{disk_id}"] = _Job()

    def ResetDisk(self, req: RpcRequest) -> dict:
        disk_id, snapshot_id = req.get("DiskId"), req.get("SnapshotId")
        with self.store.tx():
            self._check_reset(disk_id, snapshot_id)
            rules.dry_run(req)
            self._start_reset(disk_id, snapshot_id)
        self.cloud.submit(self._reset_job, disk_id, snapshot_id)
        return {}

    def ResetDisks(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        pairs = req.get_objects("Disk")
        if not pairs:
            raise rules.error("MissingParameter", "The input parameter \"Disk.N\" is mandatory.", 400)
        if len(pairs) > 10:
            raise invalid("Disk.N", f"At most 10 disks per call, got {len(pairs)}.")
        seen = [p.get("DiskId") for p in pairs]
        if len(set(seen)) != len(seen):
            raise invalid("Disk.N.DiskId", "A disk appears twice.")
        with self.store.tx():
            for p in pairs:
                self._check_reset(p.get("DiskId"), p.get("SnapshotId"))
            rules.dry_run(req)
            for p in pairs:
                self._start_reset(p["DiskId"], p["SnapshotId"])
        for p in pairs:
            self.cloud.submit(self._reset_job, p["DiskId"], p["SnapshotId"])
        return {"OperationProgressSet": {"OperationProgress": [
            {"OperationStatus": "Success", "ErrorCode": "", "ErrorMsg": "",
             "RelatedItemSet": {"RelatedItem": [{"Name": "DiskId", "Value": p["DiskId"]},
                                                {"Name": "SnapshotId", "Value": p["SnapshotId"]}]}}
            for p in pairs]}}

    def _reset_job(self, disk_id: str, snapshot_id: str) -> None:
        key = f"reset:{disk_id}"
        job = self._jobs.setdefault(key, _Job())
        pinned: list[bytes] | None = None
        try:
            if self.cloud.stopping:
                return
            disk = self.store.get(DISK, disk_id)
            if disk is None or disk["Status"] != "ReIniting":
                return
            self.cloud.pace(job.started)
            if self.cloud.wait_while_stuck(disk_id, snapshot_id) or self.cloud.stopping:
                return  # `resume` runs it again
            rows = self.store.query("SELECT digests, size FROM ecs_manifests WHERE snapshot_id = ?", (snapshot_id,))
            if self.cloud.faults.fails(disk_id, snapshot_id):
                self._end_reset(disk_id, error="injected fault")
                return
            if not rows:
                self._end_reset(disk_id, error=f"the snapshot {snapshot_id} is gone")
                return
            digests, size = rows[0]
            pinned = self.blocks.pin_if_complete(digests)
            if pinned is None:
                self._end_reset(disk_id, error=f"blocks of the snapshot {snapshot_id} are missing")
                return
            path = Path(disk["Path"])
            self.blocks.restore(digests, size, path, job.set_work, lambda: self.cloud.stopping)
            taken = time.time_ns()
            key_now = list(image_key(os.stat(path)))
            self._end_reset(disk_id, baseline={"Key": key_now, "Taken": taken, "SnapshotId": snapshot_id})
        except Cancelled:
            pass
        except Exception as err:  # noqa: BLE001
            log.exception("reset of %s failed", disk_id)
            self._end_reset(disk_id, error=f"{type(err).__name__}: {err}")
        finally:
            self._jobs.pop(key, None)
            if pinned:
                self.blocks.unpin(pinned)

    def _end_reset(self, disk_id: str, error: str | None = None, baseline: dict | None = None) -> None:
        def change(d: dict) -> None:
            d["Status"] = "In_use" if d.get("InstanceId") else "Available"
            d.pop("ResetSnapshotId", None)
            if error:
                d["ResetError"] = error
            else:
                d.pop("ResetError", None)
                d["Baseline"] = baseline
        self.store.update(DISK, disk_id, change)

    # ------------------------------------------------------------------ instances
    def _transition(self, iid: str, want: str, to: str) -> dict:
        """Validate and apply the first half of a stop/start; returns the InstanceResponse row."""
        inst = self._get(INSTANCE, "instance", iid)
        self.cloud.faults.check_reject(iid)
        if inst["Status"] != want:
            raise rules.error("IncorrectInstanceStatus", f"The instance {iid} is {inst['Status']}; "
                                                         f"this needs it {want}.", 403)
        if to == "Starting":
            busy = self.store.find(DISK, lambda d: d.get("InstanceId") == iid and d["Status"] == "ReIniting")
            if busy:
                raise rules.error("IncorrectDiskStatus", f"The disk {busy[0]['DiskId']} of {iid} is being "
                                                         "re-initialised.", 403)
        return {"InstanceId": iid, "Code": "200", "Message": "success", "PreviousStatus": inst["Status"],
                "CurrentStatus": to}

    def _apply(self, iid: str, to: str, stopped_mode: str | None) -> None:
        def change(d: dict) -> None:
            d["Status"] = to
            if to == "Stopping":
                d["StoppedMode"] = stopped_mode
        self.store.update(INSTANCE, iid, change)
        self.cloud.submit(self._instance_job, iid, to, time.monotonic())

    def _instance_job(self, iid: str, transitional: str, started: float) -> None:
        self.cloud.pace(started)
        if self.cloud.wait_while_stuck(iid) or self.cloud.stopping:
            return
        faults = self.cloud.faults
        if transitional == "Stopping":
            final = "Running" if faults.refuses_stop(iid) or faults.fails(iid) else "Stopped"
        else:
            final = "Stopped" if faults.fails(iid) else "Running"

        def change(d: dict) -> None:
            if d["Status"] == transitional:
                d["Status"] = final
                if final == "Running":
                    d["StoppedMode"] = "Not-applicable"
                    if transitional == "Starting":
                        d["StartTime"] = self.cloud.iso(minutes=True)
        self.store.update(INSTANCE, iid, change)

    @staticmethod
    def _stopped_mode(req: RpcRequest) -> str:
        mode = req.get("StoppedMode", "KeepCharging")
        if mode not in ("KeepCharging", "StopCharging"):
            raise invalid("StoppedMode", "Use KeepCharging or StopCharging.")
        return mode

    def StopInstance(self, req: RpcRequest) -> dict:
        iid = req.require("InstanceId")
        mode = self._stopped_mode(req)
        req.get_bool("ForceStop")
        with self.store.tx():
            self._transition(iid, "Running", "Stopping")
            rules.dry_run(req)
            self._apply(iid, "Stopping", mode)
        return {}

    def StartInstance(self, req: RpcRequest) -> dict:
        iid = req.require("InstanceId")
        with self.store.tx():
            self._transition(iid, "Stopped", "Starting")
            rules.dry_run(req)
            self._apply(iid, "Starting", None)
        return {}

    def _batch(self, req: RpcRequest, want: str, to: str, mode: str | None) -> dict:
        rules.require_region(req, self.region)
        ids = rules.repeated(req, "InstanceId", 100)
        if not ids:
            raise rules.error("MissingParameter", "The input parameter \"InstanceId.N\" is mandatory.", 400)
        batch = req.get("BatchOptimization", "AllTogether")
        if batch not in ("AllTogether", "SuccessFirst"):
            raise invalid("BatchOptimization", "Use AllTogether or SuccessFirst.")
        rows: list[dict] = []
        with self.store.tx():
            for iid in dict.fromkeys(ids):
                try:
                    rows.append(self._transition(iid, want, to))
                except ServiceError as err:
                    if batch == "AllTogether":
                        raise
                    inst = self.store.get(INSTANCE, iid)
                    status = inst["Status"] if inst else ""
                    rows.append({"InstanceId": iid, "Code": err.code, "Message": err.message,
                                 "PreviousStatus": status, "CurrentStatus": status})
            rules.dry_run(req, "DRYRUN.SUCCESS")
            for row in rows:
                if row["Code"] == "200":
                    self._apply(row["InstanceId"], to, mode)
        return {"InstanceResponses": {"InstanceResponse": rows}}

    def StopInstances(self, req: RpcRequest) -> dict:
        mode = self._stopped_mode(req)
        req.get_bool("ForceStop")
        return self._batch(req, "Running", "Stopping", mode)

    def StartInstances(self, req: RpcRequest) -> dict:
        return self._batch(req, "Stopped", "Starting", None)

    # ------------------------------------------------------------------ restart
    def resume(self) -> None:
        """Re-run what a killed server left in progress; settle instance transitions."""
        self.blocks.remove_temporaries()
        for p in self.disk_dir.glob("*.reset-tmp"):
            p.unlink(missing_ok=True)
        for inst in self.store.find(INSTANCE, lambda d: d["Status"] in ("Stopping", "Starting")):
            final = "Stopped" if inst["Status"] == "Stopping" else "Running"
            self.store.update(INSTANCE, inst["InstanceId"], lambda d, f=final: d.update(Status=f))
        for snap in self.store.find(SNAPSHOT, lambda s: s["Status"] == "progressing"):
            self._jobs[snap["SnapshotId"]] = _Job()
            self.cloud.submit(self._snapshot_job, snap["SnapshotId"])
        for disk in self.store.find(DISK, lambda d: d["Status"] == "ReIniting"):
            sid = disk.get("ResetSnapshotId")
            if sid:
                self._jobs[f"reset:{disk['DiskId']}"] = _Job()
                self.cloud.submit(self._reset_job, disk["DiskId"], sid)
            else:
                self._end_reset(disk["DiskId"], error="the rollback was interrupted")
