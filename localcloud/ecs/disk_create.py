"""ECS disks made from a snapshot and released: CreateDisk (with SnapshotId) and DeleteDisk.

CreateDisk answers at once with the new disk `Creating`; a background job builds its image from the snapshot's
manifest in the block store, checking every block against the digest recorded when the snapshot was taken (the
backup-time checksum), and the disk becomes `Available`, detached. A block that does not match (or is missing) ends
the creation: the disk is released and is no longer listed (UNCONFIRMED: the reference does not say how a disk whose
creation fails shows; DescribeDisks documents no failed status). DeleteDisk releases an `Available` disk (403
IncorrectDiskStatus otherwise) and ignores an id that does not exist, as documented.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ..core.rpc import RpcRequest
from . import errors, rules
from .blockstore import Cancelled
from .jobs import Job
from .state import DISK, SNAPSHOT, EcsState

log = logging.getLogger("localcloud.ecs")

GIB = 1 << 30
CATEGORIES = ("cloud", "cloud_efficiency", "cloud_ssd", "cloud_essd", "cloud_auto", "cloud_essd_entry")


class DiskCreation(EcsState):
    """CreateDisk / DeleteDisk of `models.Ecs`."""

    def CreateDisk(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        zone = req.get("ZoneId")
        if zone is None and req.get("InstanceId") is None:
            raise errors.missing("ZoneId")
        if zone is not None and zone != self.zone:
            raise errors.error("InvalidZoneId.NotFound", f"The specified zone {zone!r} does not exist.", 404)
        category = req.get("DiskCategory", "cloud_efficiency")
        if category not in CATEGORIES:
            raise errors.error("InvalidDiskCategory.ValueNotSupported",
                               "The specified disk category is not supported.", 400)
        snapshot_id = req.get("SnapshotId")
        size_gib = req.get_int("Size", None, lo=1, hi=65536)
        if snapshot_id is None and size_gib is None:
            raise errors.missing("Size")
        name = req.get("DiskName")
        rules.check_name(name, "InvalidDiskName.Malformed", "disk name")
        rules.check_description(req.get("Description"))
        tags = rules.user_tags(req)
        token = rules.client_token(req)
        with self.store.tx():
            rid, previous = self._idempotent("CreateDisk", token, req)  # type: ignore[attr-defined]
            if previous is not None:
                return previous
            snap = self._get(SNAPSHOT, "snapshot", snapshot_id) if snapshot_id else None
            if snap is not None and snap["Status"] != "accomplished":
                raise errors.error("InvalidSnapshotId.NotReady", f"The specified snapshot has not completed yet "
                                                                 f"({snapshot_id} is {snap['Status']}).", 403)
            size = int(snap["FullSnapshotSizeInBytes"]) if snap else 0
            if size_gib is not None and snap is not None and size_gib * GIB < size:
                raise errors.error("InvalidSize.ValueNotSupported", "The disk must be at least as large as the "
                                                                    "snapshot.", 400)
            size = max(size, (size_gib or 0) * GIB)
            rules.dry_run(req)
            did = self.cloud.new_id("d")
            path = self.disk_dir / f"{did}.img"
            now = self.cloud.iso()
            doc = {"DiskId": did, "DiskName": name or "", "Description": req.get("Description") or "",
                   "InstanceId": "", "Device": "", "Type": "data", "Category": category,
                   "Size": max(1, -(-size // GIB)), "Status": "Creating", "RegionId": self.region,
                   "ZoneId": self.zone, "PerformanceLevel": "PL1" if category == "cloud_essd" else "",
                   "CreationTime": now, "AttachedTime": "", "Tags": dict(tags), "Path": str(path.resolve()),
                   "SizeBytes": size, "CreateSnapshotId": snapshot_id}
            self.store.put(DISK, did, doc)
            result = {"DiskId": did, "OrderId": "", "RequestId": ""}
            self._remember(rid, req, {"DiskId": did})  # type: ignore[attr-defined]
        self._jobs[f"create:{did}"] = Job()
        self.cloud.submit(self._create_job, did)
        return result

    def _create_job(self, disk_id: str) -> None:
        key = f"create:{disk_id}"
        job = self._jobs.setdefault(key, Job())
        pinned: list[bytes] | None = None
        try:
            disk = self.store.get(DISK, disk_id)
            if self.cloud.stopping or disk is None or disk["Status"] != "Creating":
                return
            path = Path(disk["Path"])
            snapshot_id = disk.get("CreateSnapshotId")
            if not snapshot_id:                          # an empty disk
                with open(path, "wb") as f:
                    f.truncate(disk["SizeBytes"])
                self._end_create(disk_id)
                return
            self.cloud.pace(job.started, disk_id, snapshot_id)
            if self.cloud.wait_while_stuck(disk_id, snapshot_id) or self.cloud.stopping:
                return                                   # `resume` runs it again
            rows = self.store.query("SELECT digests, size FROM ecs_manifests WHERE snapshot_id = ?", (snapshot_id,))
            pinned = self.blocks.pin_if_complete(rows[0][0]) if rows else None
            if pinned is None or self.cloud.faults.fails(disk_id, snapshot_id):
                self._fail_create(disk_id, f"the data of {snapshot_id} is missing" if pinned is None
                                  else "injected fault")
                return
            self.blocks.restore(rows[0][0], rows[0][1], path, job.set_work, lambda: self.cloud.stopping)
            with open(path, "r+b") as f:                 # a larger disk than its snapshot: the rest is a hole
                f.truncate(max(rows[0][1], disk["SizeBytes"]))
            self._end_create(disk_id)
        except Cancelled:
            pass
        except OSError as err:                           # a block that does not match its backup-time digest
            self._fail_create(disk_id, str(err))
        except Exception as err:  # noqa: BLE001 - a broken job must end, not leave the disk Creating
            log.exception("creation of %s failed", disk_id)
            self._fail_create(disk_id, f"{type(err).__name__}: {err}")
        finally:
            self._jobs.pop(key, None)
            if pinned:
                self.blocks.unpin(pinned)

    def _end_create(self, disk_id: str) -> None:
        self.store.update(DISK, disk_id, lambda d: d.update(Status="Available"))

    def _fail_create(self, disk_id: str, reason: str) -> None:
        log.warning("creation of %s failed: %s; the disk is released", disk_id, reason)
        disk = self.store.get(DISK, disk_id)
        self.store.delete(DISK, disk_id)
        if disk is not None:
            Path(disk["Path"]).unlink(missing_ok=True)

    def DeleteDisk(self, req: RpcRequest) -> dict:
        disk_id = req.require("DiskId")
        self.cloud.faults.check_reject(disk_id)
        with self.store.tx():
            disk = self.store.get(DISK, disk_id)
            if disk is None:
                return {}                                # documented: an id that does not exist is ignored
            if disk["Status"] != "Available" or disk.get("InstanceId"):
                raise errors.error("IncorrectDiskStatus", "The current disk status does not support this "
                                                          "operation.", 403)
            rules.dry_run(req)
            self.store.delete(DISK, disk_id)
        Path(disk["Path"]).unlink(missing_ok=True)
        return {}

    def _resume_creations(self) -> None:
        """Re-run the creations a killed server left Creating."""
        for disk in self.store.find(DISK, lambda d: d["Status"] == "Creating"):
            self._jobs[f"create:{disk['DiskId']}"] = Job()
            self.cloud.submit(self._create_job, disk["DiskId"])
