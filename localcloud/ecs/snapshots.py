"""ECS snapshots: CreateSnapshot/DescribeSnapshots/DeleteSnapshot, ClientToken idempotency, the disk's content fixed
when the create answers (`_freeze_image`), the worker that captures it into the block store and commits its manifest,
and garbage collection of unused blocks."""
from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path

from ..core.rpc import RpcRequest
from . import errors, render, rules
from .blockstore import Cancelled, copy_sparse, image_key, key_is_trustworthy, split_digests
from .jobs import Job
from .locks import SnapshotLocks
from .state import DISK, ESSD_FAMILY, INSTANCE, SNAPSHOT, TOKEN

log = logging.getLogger("localcloud.ecs")

MAX_SNAPSHOTS_PER_DISK = 256
SNAPSHOT_STATUSES = ("progressing", "accomplished", "failed")
# UNCONFIRMED: DescribeSnapshots/DescribeSnapshotGroups document MaxResults "maximum 100, default 10" only; a value
# outside 1-100 is taken as the nearest bound, as DescribeDisks/DescribeInstances document for theirs.
SNAPSHOTS_MAX_RESULTS_LO = 1


class Snapshots(SnapshotLocks):
    """The snapshot actions of `models.Ecs`."""

    def _render_snapshot(self, doc: dict) -> dict:
        return render.snapshot(doc, *self._snapshot_progress(doc))

    def DescribeSnapshots(self, req: RpcRequest) -> dict:
        region = self._snapshot_region(req)
        ids = rules.id_list(req, "SnapshotIds", 100, errors.TOO_MANY_SNAPSHOT_IDS)
        disk_id, instance_id, name = req.get("DiskId"), req.get("InstanceId"), req.get("SnapshotName")
        status = req.get("Status", "all")
        if status not in (*SNAPSHOT_STATUSES, "all"):
            raise errors.error("InvalidStatus.NotFound", "The specified Status is not found", 404)
        snapshot_type = req.get("SnapshotType", "all")
        if snapshot_type not in ("auto", "user", "all"):
            raise errors.error("InvalidSnapshotType.NotFound", "The specfied SnapshotType is not found", 404)
        source_type = (req.get("SourceDiskType") or "").lower() or None
        if source_type not in (None, "system", "data"):
            raise errors.error("InvalidSourceDiskType", "The specifed SourceDiskType is not valid", 404)
        wanted = rules.tag_filter(req)
        docs = self.store.find(SNAPSHOT, lambda d: d.get("RegionId", self.region) == region
                               and (ids is None or d["SnapshotId"] in ids)
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
            raise errors.error("IdempotentParameterMismatch",
                               "The ClientToken was used before with different parameters.", 400)
        return rid, seen["Result"]

    def _remember(self, rid: str | None, req: RpcRequest, result: dict) -> None:
        if rid is not None:
            params = {k: v for k, v in req.params.items() if k != "ClientToken"}
            self.store.put(TOKEN, rid, {"Params": params, "Result": result, "CreatedAt": self.cloud.iso()})

    def _check_snapshottable(self, disk: dict) -> None:
        did = disk["DiskId"]
        if disk["Status"] not in ("In_use", "Available"):
            raise errors.error("IncorrectDiskStatus", f"The disk {did} is {disk['Status']}; a snapshot needs it "
                                                      "In_use or Available.", 403)
        if disk.get("InstanceId"):
            inst = self.store.get(INSTANCE, disk["InstanceId"])
            if inst is not None and inst["Status"] not in ("Running", "Stopped"):
                raise errors.error("IncorrectInstanceStatus", f"The instance {inst['InstanceId']} is "
                                                              f"{inst['Status']}; it must be Running or Stopped.", 400)
        existing = self.store.find(SNAPSHOT, lambda s: s["SourceDiskId"] == did
                                   and s.get("RegionId", self.region) == self.region)   # its copies aside
        if any(s["Status"] == "progressing" for s in existing):
            raise errors.error("IncorrectDiskStatus.CreatingSnapshot",
                               f"A snapshot of the disk {did} is still being created.", 403)
        if len(existing) >= MAX_SNAPSHOTS_PER_DISK:
            raise errors.error("QuotaExceed.Snapshot", f"The disk {did} already has {len(existing)} snapshots.", 403)

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
               "SnapshotGroupId": group_id, "FullSnapshotSizeInBytes": disk["SizeBytes"],
               "Encrypted": bool(disk.get("Encrypted")), "KMSKeyId": disk.get("KMSKeyId") or ""}
        doc["Frozen"] = self._freeze_image(disk, sid)
        self.store.put(SNAPSHOT, sid, doc)
        self._jobs[sid] = Job()
        return doc

    def _freeze_image(self, disk: dict, sid: str) -> dict | None:
        """The disk's content at this moment, as the real cloud's copy-on-write fixes it when CreateSnapshot(Group)
        answers: an unchanged disk (its key equals its last manifest's, trustworthy) needs nothing; otherwise the
        image's data ranges are copied, in the kernel, beside it. The job captures that copy later, so writes made
        after the answer (a thaw, the application) are not in the snapshot. What the snapshot will read and the key
        it will record as the disk's baseline."""
        source = Path(disk["Path"])
        taken = time.time_ns()
        key = list(image_key(os.stat(source)))
        base = disk.get("Baseline")
        if base and base["Key"] == key and key_is_trustworthy(key, base["Taken"]):
            return None
        frozen = self.frozen_dir / f"{sid}.img"
        self.frozen_dir.mkdir(parents=True, exist_ok=True)
        copy_sparse(source, frozen)
        return {"Path": str(frozen), "Key": key, "Taken": taken}

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

    def _drop_snapshot(self, sid: str) -> None:
        """Delete a snapshot (cancelling it if progressing) and its manifest, in one transaction."""
        job = self._jobs.get(sid)
        if job is not None:
            job.cancel.set()
        with self.store.tx() as db:
            self.store.delete(SNAPSHOT, sid)
            db.execute("DELETE FROM ecs_manifests WHERE snapshot_id = ?", (sid,))
        self._drop_frozen(sid)

    def DeleteSnapshot(self, req: RpcRequest) -> dict:
        sid = req.require("SnapshotId")
        self.cloud.faults.check_reject(sid)
        if self.store.get(SNAPSHOT, sid) is None:
            return {}  # documented: a non-existent snapshot id is ignored
        self._refuse_locked([sid])
        self._drop_snapshot(sid)
        self._collect_later()
        return {}

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
        job = self._jobs.setdefault(sid, Job())
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

    def _run_snapshot(self, sid: str, job: Job) -> None:
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

        ids = [i for i in (did, sid, gid) if i]
        # held before it reads anything: what it reads was fixed at creation (`_freeze_image`), whatever the disk
        # received since
        if self.cloud.wait_while_stuck(*ids) or should_stop():
            return  # cancelled, or the cloud stops: `resume` runs it again
        frozen = snap.get("Frozen")
        if frozen is None:          # unchanged at creation: its last manifest is its content
            cap = self.blocks.capture(Path(disk["Path"]), self._baseline(disk), job.set_work, should_stop)
        else:
            cap = self.blocks.capture(Path(frozen["Path"]), None, job.set_work, should_stop)
            cap = replace(cap, key=tuple(frozen["Key"]), key_taken_ns=frozen["Taken"])
        job.pinned = cap.pinned
        self.cloud.pace(job.started, sid, did)
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
        self._drop_frozen(sid)

    def _drop_frozen(self, sid: str) -> None:
        (self.frozen_dir / f"{sid}.img").unlink(missing_ok=True)

    def _end_snapshot_failed(self, sid: str, job: Job, reason: str) -> None:
        pct = min(99, int(job.fraction(self.cloud.faults.min_duration(sid)) * 100))

        def change(doc: dict) -> None:
            if doc["Status"] == "progressing":
                doc.update(Status="failed", ProgressPct=pct, FailReason=reason, LastModifiedTime=self.cloud.iso())
        self.store.update(SNAPSHOT, sid, change)
        self._drop_frozen(sid)

    def _job_of(self, snap: dict):
        """The worker that makes this snapshot (a copy's: `copies.SnapshotCopies._copy_job`)."""
        return self._snapshot_job

    def _resume_snapshots(self) -> None:
        """Re-run the snapshots a killed server left progressing."""
        for snap in self.store.find(SNAPSHOT, lambda s: s["Status"] == "progressing"):
            self._jobs[snap["SnapshotId"]] = Job()
            self.cloud.submit(self._job_of(snap), snap["SnapshotId"])
