"""The state every ECS resource shares: kinds of stored documents, the disk images directory, the block store,
the in-memory jobs, lookups by id and snapshot progress."""
from __future__ import annotations

import math
import threading
from pathlib import Path

from ..core.product import Product
from . import errors
from .blockstore import BlockStore
from .jobs import Job

INSTANCE, DISK, SNAPSHOT, GROUP, TOKEN = "ecs.instance", "ecs.disk", "ecs.snapshot", "ecs.snapshotgroup", "ecs.token"
ESSD_FAMILY = ("cloud_essd", "cloud_auto", "cloud_essd_entry")
# The regions besides its own a snapshot can be copied into and read in (CopySnapshot): one process serves them all,
# told apart by RegionId, as every region's SDK client reaches the same endpoint here.
COPY_REGIONS = ("cn-hangzhou", "cn-shanghai", "cn-beijing", "ap-southeast-1")


class EcsState(Product):
    """What the resource mixins of `models.Ecs` build on."""
    def __init__(self, cloud) -> None:
        super().__init__(cloud)
        self.root = Path(cloud.state_dir) / "ecs"
        self.disk_dir = self.root / "disks"
        self.disk_dir.mkdir(parents=True, exist_ok=True)
        self.frozen_dir = self.root / "frozen"       # disk images as a snapshot's creation found them
        self.assistant_dir = self.root / "assistant"  # one sandbox directory per instance (Cloud Assistant)
        self.blocks = BlockStore(self.root / "blocks")
        self._jobs: dict[str, Job] = {}
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
    def snapshot_regions(self) -> frozenset[str]:
        """Where snapshots are kept: this cloud's region, and those its snapshots can be copied into."""
        return frozenset({self.cloud.region, *COPY_REGIONS})

    def _snapshot_region(self, req) -> str:
        """The RegionId asked (an RpcRequest's): this cloud's, or another it keeps snapshot copies in."""
        region = req.require("RegionId")
        if region not in self.snapshot_regions:
            raise errors.unknown_region(region)
        return region

    @property
    def zone(self) -> str:
        return f"{self.cloud.region}-k"

    def _delay(self) -> float:
        return self.cloud.faults.op_delay_ms / 1000

    def _get(self, kind: str, label: str, rid: str | None) -> dict:
        doc = self.store.get(kind, rid) if rid else None
        if doc is None:
            raise errors.not_found(label, rid or "")
        return doc

    def _snapshot_progress(self, doc: dict) -> tuple[int, int]:
        """(percent, remaining seconds) of a snapshot."""
        if doc["Status"] != "progressing":
            return doc.get("ProgressPct", 0), 0
        job = self._jobs.get(doc["SnapshotId"])
        delay = self.cloud.faults.min_duration(doc["SnapshotId"], doc["SourceDiskId"])
        if job is None:
            return 0, max(1, math.ceil(delay))
        return min(99, int(job.fraction(delay) * 100)), job.remaining(delay)
