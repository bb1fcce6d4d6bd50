"""ECS 2014-05-26: instances, disks as image files, real incremental snapshots, disk rollback.

This module assembles the product from one mixin per resource, as moto assembles EC2: `instances.py`, `disks.py`
(with rollback), `disk_create.py` (CreateDisk from a snapshot, DeleteDisk), `snapshots.py`, `snapshot_groups.py`,
`tags.py` and `assistant.py` (Cloud Assistant), over the shared state in `state.py`; wire rendering is in
`render.py`, request rules in `rules.py`, every error in `errors.py`, block storage in `blockstore.py`. What
follows describes the whole product.

State. Instances, disks, snapshots, snapshot groups and ClientTokens are JSON documents in the durable store
(kinds `ecs.instance`, `ecs.disk`, `ecs.snapshot`, `ecs.snapshotgroup`, `ecs.token`); snapshot manifests live in
the table `ecs_manifests`. A disk is a sparse image file under `<state>/ecs/disks/`; snapshot data is a
content-addressed block store under `<state>/ecs/blocks/` (see `blockstore.py`).

Snapshots. `CreateSnapshot` answers at once, the disk's content fixed at that moment as the real cloud's
copy-on-write fixes it (an unchanged disk needs nothing; else its data ranges are copied in the kernel, so creation
takes time proportional to the written data, where the real cloud's takes constant time); a background job reads that
content, stores the blocks that are not in the
store yet and, once every block is in place, commits the manifest and the status `accomplished` in one
transaction. An unchanged disk is not read again: when the image file's (size, mtime_ns, ctime_ns, inode) equal the
key recorded with the disk's last manifest (the previous accomplished snapshot, or a rollback), and the key was not
taken within the timestamp granularity of a write, the manifest is reused as is (restic's change detection).
Progress (`"40%"`) follows the work done and, when `op_delay_ms` is set, the time elapsed against that minimum
duration; it stays below 100 until the snapshot is accomplished.

Errors (HTTP status, code): from each action's error table in the API reference where it has one (see
docs/cloud-fidelity.md "ECS"); the UNCONFIRMED choices are named constants in `errors.py` and next to the actions.
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
the configured code (ResetDisk also when the id is its snapshot's); `fail` on a disk, snapshot or group id makes
the snapshot end `failed` (or the rollback end with the disk back In_use, its data untouched); `stuck` keeps the work
in progress; `refuse_stop` lets a stop call succeed while the instance goes back to Running.

Throttling: each API's calls a minute past `throttling.PER_MINUTE` (UNCONFIRMED) are refused `Throttling.User` when
the cloud is built with `ecs_calls_per_minute` (`throttling.py`).

Restart: `resume` re-runs snapshots left progressing and rollbacks left ReIniting, and settles Stopping → Stopped
and Starting → Running. Seeded instances have data disks only (no system disk).
"""
from __future__ import annotations

from typing import Any

from ..core.rpc import RpcRequest
from .assistant import Assistant
from .disk_create import DiskCreation
from .disks import Disks
from .instances import Instances
from .snapshot_groups import SnapshotGroups
from .tags import TagResources
from .throttling import MinuteThrottling


class Ecs(Instances, Disks, DiskCreation, SnapshotGroups, TagResources, Assistant):
    name = "ecs"
    version = "2014-05-26"
    ACTIONS = frozenset({
        "DescribeInstances", "DescribeInstanceStatus", "DescribeDisks", "ListTagResources",
        "CreateSnapshot", "CreateSnapshotGroup", "DescribeSnapshots", "DescribeSnapshotGroups",
        "DeleteSnapshot", "DeleteSnapshotGroup", "LockSnapshot", "ResetDisk", "ResetDisks",
        "StopInstance", "StopInstances", "StartInstance", "StartInstances", "CreateDisk", "DeleteDisk",
        "RunCommand", "DescribeInvocationResults", "CopySnapshot",
    })

    def __init__(self, cloud, calls_per_minute: int | None = None) -> None:
        super().__init__(cloud)
        self.throttling = MinuteThrottling(calls_per_minute)

    def dispatch(self, req: RpcRequest) -> dict[str, Any]:
        if req.action in self.ACTIONS:
            self.throttling.take(req.action)
        return super().dispatch(req)

    def resume(self) -> None:
        """Re-run what a killed server left in progress; settle instance transitions."""
        self.blocks.remove_temporaries()
        for p in self.disk_dir.glob("*.reset-tmp"):
            p.unlink(missing_ok=True)
        self._resume_instances()
        self._resume_snapshots()
        self._resume_rollbacks()
        self._resume_creations()
        self._resume_invocations()
