"""ECS disks: sparse image files attached to instances (seeding), DescribeDisks, and rollback from a snapshot
(ResetDisk/ResetDisks and the worker that restores the image from the block store)."""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from ..core.rpc import RpcRequest
from . import errors, render, rules
from .blockstore import Cancelled, image_key
from .jobs import Job
from .state import DISK, INSTANCE, SNAPSHOT, EcsState

log = logging.getLogger("localcloud.ecs")

GIB = 1 << 30


class Disks(EcsState):
    """The disk actions of `models.Ecs`."""

    def create_disk(self, instance_id: str, size: int, tags: dict[str, str], fill: bool = True,
                    category: str = "cloud_essd", kms_key_id: str | None = None) -> dict:
        """A data disk attached to the instance: a sparse image file of `size` bytes, In_use."""
        if self.store.get(INSTANCE, instance_id) is None:
            raise errors.not_found("instance", instance_id)
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
               "AttachedTime": now, "Tags": dict(tags), "Path": str(path.resolve()), "SizeBytes": size,
               "Encrypted": kms_key_id is not None, "KMSKeyId": kms_key_id or ""}
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

    def DescribeDisks(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        ids = rules.id_list(req, "DiskIds", 100, errors.TOO_MANY_DISK_IDS)
        instance_id = req.get("InstanceId")
        wanted = rules.tag_filter(req)
        disk_type = req.get("DiskType", "all").lower()
        if disk_type not in ("all", "system", "data"):
            raise errors.error("InvalidDiskType.ValueNotSupported", "The specified disk type is not supported.", 400)
        status = req.get("Status", "All")
        if status not in ("In_use", "Available", "Attaching", "Detaching", "Creating", "ReIniting", "All"):
            raise errors.error("InvalidStatus.ValueNotSupported", "The specified disk status is not supported.", 400)
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
        return {**paging, "Disks": {"Disk": [render.disk(d) for d in chunk]}}

    def _check_reset(self, disk_id: str | None, snapshot_id: str | None) -> tuple[dict, dict]:
        if disk_id is None:
            raise errors.missing("DiskId")
        if snapshot_id is None:
            raise errors.missing("SnapshotId")
        disk = self._get(DISK, "disk", disk_id)
        snap = self._get(SNAPSHOT, "snapshot", snapshot_id)
        self.cloud.faults.check_reject(disk_id)
        self.cloud.faults.check_reject(snapshot_id)     # a refusal of the rollback to that snapshot only
        if snap["SourceDiskId"] != disk_id:
            raise errors.error("InvalidParameter.Mismatch",
                               "The specified snapshot is not created from the specified "
                               f"disk ({snapshot_id} is not a snapshot of {disk_id}).", 403)
        if snap["Status"] != "accomplished":
            raise errors.error("InvalidSnapshotId.NotReady", f"The specified snapshot has not completed yet "
                                                             f"({snapshot_id} is {snap['Status']}).", 403)
        if disk["Status"] not in ("In_use", "Available"):
            raise errors.error("IncorrectDiskStatus", f"The disk {disk_id} is {disk['Status']}.", 403)
        if disk.get("InstanceId"):
            inst = self.store.get(INSTANCE, disk["InstanceId"])
            if inst is not None and inst["Status"] != "Stopped":
                raise errors.error("IncorrectInstanceStatus", f"The instance {inst['InstanceId']} is "
                                                              f"{inst['Status']}; it must be Stopped.", 403)
        if self.store.find(SNAPSHOT, lambda s: s["SourceDiskId"] == disk_id and s["Status"] == "progressing"):
            raise errors.error(errors.RESET_WHILE_SNAPSHOTTING, f"A snapshot of the disk {disk_id} is being created.",
                               403)
        return disk, snap

    def _start_reset(self, disk_id: str, snapshot_id: str) -> None:
        self.store.update(DISK, disk_id, lambda d: d.update(Status="ReIniting", ResetSnapshotId=snapshot_id))
        self._jobs[f"reset:{disk_id}"] = Job()

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
            raise errors.missing("Disk.N")
        if len(pairs) > 10:
            raise errors.invalid("Disk.N", f"At most 10 disks per call, got {len(pairs)}.")
        seen = [p.get("DiskId") for p in pairs]
        if len(set(seen)) != len(seen):
            raise errors.invalid("Disk.N.DiskId", "A disk appears twice.")
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
        job = self._jobs.setdefault(key, Job())
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
        """The rollback is over: the disk settles as ECS shows it, and nothing on the wire says whether it rolled back
        (ECS documents no such field); a failure stays in the stored document and this server's log."""
        if error:
            log.warning("rollback of %s ended without rolling back: %s", disk_id, error)

        def change(d: dict) -> None:
            d["Status"] = "In_use" if d.get("InstanceId") else "Available"
            d.pop("ResetSnapshotId", None)
            if error:
                d["ResetError"] = error
            else:
                d.pop("ResetError", None)
                d["Baseline"] = baseline
        self.store.update(DISK, disk_id, change)

    def _resume_rollbacks(self) -> None:
        """Re-run the rollbacks a killed server left ReIniting (or end those that cannot be re-run)."""
        for disk in self.store.find(DISK, lambda d: d["Status"] == "ReIniting"):
            sid = disk.get("ResetSnapshotId")
            if sid:
                self._jobs[f"reset:{disk['DiskId']}"] = Job()
                self.cloud.submit(self._reset_job, disk["DiskId"], sid)
            else:
                self._end_reset(disk["DiskId"], error="the rollback was interrupted")
