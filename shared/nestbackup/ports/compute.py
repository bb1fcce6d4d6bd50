"""The compute port: what the product needs of ECS (disks, instances, snapshots, snapshot groups, Cloud Assistant
commands), and the plain
values it answers with. `adapters/ecs.py` implements it over the ECS API; tests/support/memory has an in-memory one."""
from __future__ import annotations

from typing import Iterable, NamedTuple, Protocol

from ..errors import CloudError

# Ids one describe call takes (what a poll round's calls are counted by, operations/kinds): the references' maxima.
SNAPSHOT_IDS_PER_CALL = 100      # DescribeSnapshots.SnapshotIds
GROUP_IDS_PER_CALL = 10          # DescribeSnapshotGroups.SnapshotGroupId.N


class Disk(NamedTuple):
    """An ECS disk (DescribeDisks)."""
    disk_id: str
    instance_id: str | None
    status: str               # In_use | Available | ReIniting | ... (DescribeDisks Status)
    category: str
    size_gib: int
    disk_type: str
    multi_attach: bool = False
    zone_id: str = ""         # ZoneId: where a disk made from its snapshot must be created
    encrypted: bool | None = None       # Encrypted (None: not said)
    kms_key_id: str | None = None       # KMSKeyId, of an encrypted disk

    @property
    def creating(self) -> bool:
        """Creating: CreateDisk accepted, the disk not usable yet (Available once made)."""
        return self.status == "Creating"

    @property
    def settled(self) -> bool:
        """Attached or free again: a ResetDisk is over (ReIniting while it runs)."""
        return self.status in ("In_use", "Available")

    @property
    def resetting(self) -> bool:
        """ReIniting: ECS is rolling the disk back (ResetDisk accepted, not over)."""
        return self.status == "ReIniting"


class Instance(NamedTuple):
    """An ECS instance (DescribeInstances)."""
    instance_id: str
    status: str               # Pending | Running | Starting | Stopping | Stopped

    @property
    def running(self) -> bool:
        return self.status == "Running"

    @property
    def stopped(self) -> bool:
        return self.status == "Stopped"


class Snapshot(NamedTuple):
    """An ECS snapshot (DescribeSnapshots)."""
    snapshot_id: str
    disk_id: str | None
    status: str               # progressing | accomplished | failed
    progress: int             # 0-100
    available: bool
    remain_seconds: int | None = None   # RemainTime: the cloud's estimate of the time left while progressing
    size_bytes: int | None = None       # FullSnapshotSizeInBytes: the snapshot's full size (billing is incremental)
    created_epoch: float | None = None  # CreationTime (the sweeper leaves younger artifacts to their create)
    encrypted: bool | None = None       # Encrypted (None: not said)
    kms_key_id: str | None = None       # KMSKeyId

    @property
    def accomplished(self) -> bool:
        return self.status == "accomplished"

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class SnapshotGroup(NamedTuple):
    """An ECS snapshot-consistent group (DescribeSnapshotGroups)."""
    group_id: str
    status: str               # progressing | accomplished | failed
    snapshots: tuple[Snapshot, ...]
    created_epoch: float | None = None  # CreationTime

    @property
    def failed(self) -> bool:
        return self.status == "failed"


class CommandRun(NamedTuple):
    """One instance's run of a Cloud Assistant command (DescribeInvocationResults, InvocationResult)."""
    instance_id: str
    status: str               # InvocationStatus: Pending | Running | Success | Failed | Timeout | Invalid | Error ...
    exit_code: int | None
    output: str               # as the cloud keeps it (its tail), plain text
    start_time: str | None    # ISO 8601 UTC
    finished_time: str | None
    error_code: str = ""      # e.g. ExitCodeNonzero, ExecutionTimeout, InstanceNotRunning
    error_info: str = ""

    @property
    def finished(self) -> bool:
        """Ended one way or another: nothing runs on the instance any more."""
        return self.status not in ("Pending", "Scheduled", "Running", "Stopping", "")

    @property
    def succeeded(self) -> bool:
        return self.status == "Success"

    @property
    def timed_out(self) -> bool:
        return self.status == "Timeout"


class Refused(NamedTuple):
    """An instance a batch call (Stop/StartInstances with BatchOptimization=SuccessFirst) did not act on: the call
    succeeds and its InstanceResponses row carries ECS's code."""
    instance_id: str
    code: str
    message: str


class Compute(Protocol):
    def disks_tagged(self, key: str, value: str) -> list[Disk]: ...

    def describe_disks(self, disk_ids: list[str]) -> dict[str, Disk]: ...

    def disks_of_instance(self, instance_id: str) -> list[Disk]: ...

    def instances_tagged(self, key: str, value: str) -> list[Instance]: ...

    def describe_instances(self, instance_ids: list[str]) -> dict[str, Instance]: ...

    def create_snapshot(self, disk_id: str, *, name: str, description: str, client_token: str,
                        tags: dict[str, str] | None = None) -> str: ...

    def create_snapshot_group(self, instance_id: str, disk_ids: list[str], *, name: str, description: str,
                              client_token: str, tags: dict[str, str] | None = None) -> str: ...

    def snapshot_must_wait(self, err: CloudError) -> bool:
        """CreateSnapshot(Group) was refused before it was applied (e.g. another snapshot of the disk is being
        made) and may be asked again later."""
        ...

    def reset_must_wait(self, err: CloudError) -> bool:
        """ResetDisk was refused because the disk has not settled (e.g. still ReIniting) and may be asked again."""
        ...

    def describe_snapshots(self, snapshot_ids: Iterable[str]) -> dict[str, Snapshot]: ...

    def describe_snapshot_groups(self, group_ids: Iterable[str]) -> dict[str, SnapshotGroup]: ...

    def snapshots_tagged(self, key: str, value: str | None = None) -> list[tuple[str, str]]: ...

    def groups_tagged(self, key: str, value: str | None = None) -> list[tuple[str, str]]: ...

    def delete_snapshot(self, snapshot_id: str) -> None: ...

    def copy_snapshot(self, snapshot_id: str, region: str, *, name: str, description: str, client_token: str,
                      tags: dict[str, str] | None = None, kms_key_id: str | None = None) -> str:
        """CopySnapshot: copy an accomplished snapshot of this region into `region`; the copy's id there. An
        encrypted source needs `kms_key_id`, a key of the destination region (the copy is encrypted with it)."""
        ...

    def describe_snapshots_in(self, region: str, snapshot_ids: Iterable[str]) -> dict[str, Snapshot]:
        """DescribeSnapshots in another region (a copy is listed in its destination region only)."""
        ...

    def delete_snapshot_in(self, region: str, snapshot_id: str) -> None:
        """DeleteSnapshot in another region; an id that does not exist is ignored."""
        ...

    def lock_snapshot_in(self, region: str, snapshot_id: str, days: int) -> None:
        """LockSnapshot in another region (a copy), as `lock_snapshot`."""
        ...

    def snapshots_tagged_in(self, region: str, key: str) -> list[tuple[str, str]]:
        """(snapshot id, value of tag `key`) of every snapshot of another region carrying that tag key."""
        ...

    def delete_snapshot_group(self, group_id: str) -> None: ...

    def lock_snapshot(self, snapshot_id: str, days: int) -> None:
        """Lock the snapshot in compliance mode for `days` (no cool-off): nobody can delete it, nor shorten the
        lock, until it expires; locking again only extends it."""
        ...

    def stop_instances(self, instance_ids: list[str]) -> list[Refused]: ...

    def start_instances(self, instance_ids: list[str]) -> list[Refused]: ...

    def reset_disk(self, disk_id: str, snapshot_id: str) -> None: ...

    def create_disk_from_snapshot(self, snapshot_id: str, zone_id: str, category: str, *, name: str,
                                  client_token: str, tags: dict[str, str] | None = None) -> str:
        """CreateDisk with SnapshotId: a new pay-as-you-go data disk, detached, holding the snapshot's data; its id."""
        ...

    def delete_disk(self, disk_id: str) -> None:
        """DeleteDisk: release an Available (detached) pay-as-you-go disk; an id that does not exist is ignored."""
        ...

    def run_command(self, instance_ids: list[str], script: str, *, name: str, timeout_seconds: int,
                    client_token: str) -> str:
        """Run a shell script on the instances through Cloud Assistant (RunCommand); its InvokeId."""
        ...

    def invocation_results(self, invoke_id: str) -> dict[str, CommandRun]:
        """Each instance's run of an invocation (DescribeInvocationResults), by instance id."""
        ...
