"""ECS CopySnapshot: a snapshot copied into another region the local cloud serves (state.COPY_REGIONS), listed there
only (DescribeSnapshots with that RegionId; ListTagResources of the source region does not list it). Its content is
the source's: its manifest is the source's, block for block."""
from __future__ import annotations

import logging

from ..core.rpc import RpcRequest
from . import errors, rules
from .jobs import Job
from .snapshots import Snapshots
from .state import SNAPSHOT

log = logging.getLogger("localcloud.ecs")


class SnapshotCopies(Snapshots):
    """CopySnapshot of `models.Ecs`."""

    def CopySnapshot(self, req: RpcRequest) -> dict:
        """Codes: the CopySnapshot reference's error table where it lists one; an encrypted source without KMSKeyId
        and a source not accomplished are UNCONFIRMED codes (docs/cloud-fidelity.md)."""
        rules.require_region(req, self.region)
        sid, dest = req.require("SnapshotId"), req.require("DestinationRegionId")
        if dest not in self.snapshot_regions or dest == self.region:
            raise errors.error("InvalidDestinationRegionId.Malformed",
                               f"The specified DestinationRegionId {dest!r} is not valid.", 400)
        name, description = req.get("DestinationSnapshotName"), req.get("DestinationSnapshotDescription")
        rules.check_name(name, "InvalidSnapshotName.Malformed", "snapshot name")
        rules.check_description(description)
        tags = rules.user_tags(req)
        token = rules.client_token(req)
        encrypted = str(req.get("Encrypted", "")).lower() == "true"
        key = req.get("KMSKeyId")
        with self.store.tx() as db:
            rid, previous = self._idempotent("CopySnapshot", token, req)
            if previous is not None:
                return previous
            source = self.store.get(SNAPSHOT, sid)
            if source is None or source.get("RegionId", self.region) != self.region:
                raise errors.not_found("snapshot", sid)
            self.cloud.faults.check_reject(sid)
            if source["Status"] != "accomplished":
                raise errors.error("IncorrectSnapshotStatus", f"The snapshot {sid} is {source['Status']}; only an "
                                                              "accomplished snapshot can be copied.", 403)
            if (source.get("Encrypted") or encrypted) and not key:
                raise errors.error("InvalidParameter.KMSKeyId", "An encrypted copy needs KMSKeyId, a key of the "
                                                                 "destination region.", 400)
            copy_id = self.cloud.new_id("s")
            now = self.cloud.iso()
            doc = {k: v for k, v in source.items() if k != "Frozen"} | {
                "SnapshotId": copy_id, "SnapshotName": name or "", "Description": description or "",
                "Status": "progressing", "ProgressPct": 0, "CreationTime": now, "LastModifiedTime": now,
                "RegionId": dest, "Tags": tags, "SnapshotGroupId": None, "SnapshotSN": copy_id[2:],
                "Encrypted": bool(source.get("Encrypted") or encrypted),
                "KMSKeyId": key if (source.get("Encrypted") or encrypted) else "", "CopiedFrom": sid}
            db.execute("INSERT INTO ecs_manifests (snapshot_id, disk_id, size, block_size, digests, reused, "
                       "blocks_written) SELECT ?, disk_id, size, block_size, digests, 1, 0 FROM ecs_manifests "
                       "WHERE snapshot_id = ?", (copy_id, sid))
            self.store.put(SNAPSHOT, copy_id, doc)
            self._jobs[copy_id] = Job()
            result = {"SnapshotId": copy_id}
            self._remember(rid, req, result)
        self.cloud.submit(self._copy_job, copy_id)
        return result

    def _job_of(self, snap: dict):
        return self._copy_job if snap.get("CopiedFrom") else super()._job_of(snap)

    def _copy_job(self, copy_id: str) -> None:
        """The copy is accomplished after its pace (faults: pace_ms, op_delay_ms), or fails by an injected fault."""
        job = self._jobs.setdefault(copy_id, Job())
        try:
            doc = self.store.get(SNAPSHOT, copy_id)
            if doc is None or doc["Status"] != "progressing":
                return
            ids = (copy_id, doc["CopiedFrom"], doc["SourceDiskId"])
            if self.cloud.wait_while_stuck(*ids) or job.cancel.is_set():
                return
            self.cloud.pace(job.started, *ids)
            job.set_work(1.0)
            if job.cancel.is_set() or self.cloud.stopping:
                return
            if self.cloud.faults.fails(copy_id, doc["RegionId"]):
                self._end_snapshot_failed(copy_id, job, "injected fault")
                return

            def done(d: dict) -> None:
                if d["Status"] == "progressing":
                    d.update(Status="accomplished", ProgressPct=100, LastModifiedTime=self.cloud.iso())
            self.store.update(SNAPSHOT, copy_id, done)
        except Exception as err:  # noqa: BLE001 - a broken job must end failed, not hang progressing
            log.exception("copy %s failed", copy_id)
            self._end_snapshot_failed(copy_id, job, f"{type(err).__name__}: {err}")
        finally:
            self._jobs.pop(copy_id, None)
