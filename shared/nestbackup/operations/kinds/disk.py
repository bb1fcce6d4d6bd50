"""A disk backed up by its own ECS snapshot; the restore side (a disk reset to its snapshot) serves every disk,
a snapshot group's members too."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ... import logs
from ...decisions.backup import CloudProgress, client_token
from ...decisions.encryption import of_disk
from ...errors import CloudError
from ...model.ids import OWNER_TAG
from ...model.status import ItemStatus, snapshot_item_status
from ...ports.compute import SNAPSHOT_IDS_PER_CALL
from ..loading import save
from .action import CancelCleanup, still_listed

if TYPE_CHECKING:
    from ...model.records import BackupItem, BackupRecord
    from ...model.restores import RestoreItem, RestoreRecord
    from ...ports import Ports
    from ...ports.compute import Snapshot
    from ...ports.records import StoredRecord
    from ...settings import Settings
    from ..discovery import Discovered


class DiskSnapshot:
    restores_beside_live = False
    delete_may_be_refused = False

    def deadline_seconds(self, settings: Settings) -> int:
        return settings.disk_deadline_seconds

    def start(self, w: Ports, stored: StoredRecord, record: BackupRecord, unit: list[BackupItem]) -> None:
        first = unit[0]
        try:
            snapshot_id = w.ecs.create_snapshot(
                first.resource_id, name=f"nestbackup-{record.backup_id}",
                description=f"nestbackup {record.backup_id} of {record.service_instance_id}",
                client_token=client_token(record.backup_id, first.resource_id), tags={OWNER_TAG: record.backup_id})
        except CloudError as err:
            wait_out(w, stored, record, unit, err)
            return
        first.status, first.artifact_id, first.wait_reason = ItemStatus.RUNNING, snapshot_id, None

    def describe_calls(self, running: list[BackupItem]) -> dict[str, int]:
        return {"ecs:DescribeSnapshots": -(-len(running) // SNAPSHOT_IDS_PER_CALL)}

    def describe_batch(self, w: Ports, running: list[BackupItem]) -> dict[str, CloudProgress]:
        seen: dict[str, CloudProgress] = {}
        found = w.ecs.describe_snapshots([i.artifact_id for i in running if i.artifact_id])
        for item in running:
            snap = found.get(item.artifact_id or "")
            if snap:
                seen[item.resource_id] = CloudProgress(snapshot_item_status(snap.status), snap.progress,
                                                       snap.snapshot_id, *_snapshot_error(snap),
                                                       remain_seconds=snap.remain_seconds,
                                                       size_bytes=snap.size_bytes,
                                                       encryption=snapshot_encryption(snap))
        return seen

    def settle(self, w: Ports, item: BackupItem) -> None:
        """A snapshot says all there is to say while it runs."""

    def facts_pending(self, w: Ports, item: BackupItem) -> bool:
        return False

    def delete(self, w: Ports, item: BackupItem, groups_done: set[str], backup_set: str | None = None) -> None:
        if item.artifact_id:
            w.ecs.delete_snapshot(item.artifact_id)

    def cancel(self, w: Ports, stored: StoredRecord, record: BackupRecord, item: BackupItem,
               cleanup: CancelCleanup) -> None:
        """Deleting a progressing snapshot cancels it."""
        self.delete(w, item, cleanup.groups)
        self.check_gone(w, item)

    def discard(self, w: Ports, backup_id: str, item: BackupItem, groups_done: set[str]) -> str | None:
        self.delete(w, item, groups_done)
        self.check_gone(w, item)
        return None

    def check_gone(self, w: Ports, item: BackupItem) -> None:
        """A delete accepted is not yet a delete done: the snapshot must read back as gone."""
        if item.artifact_id and item.artifact_id in w.ecs.describe_snapshots([item.artifact_id]):
            raise still_listed("DeleteSnapshot", item.artifact_id)

    def check_restorable(self, w: Ports, items: list[BackupItem]) -> list[str]:
        problems = []
        found = w.ecs.describe_snapshots([i.artifact_id for i in items if i.artifact_id])
        for item in items:
            snap = found.get(item.artifact_id or "")
            if snap is None:
                problems.append(f"snapshot {item.artifact_id} of disk {item.resource_id} no longer exists")
            elif not snap.accomplished:
                problems.append(f"snapshot {item.artifact_id} of disk {item.resource_id} is {snap.status}")
        return problems

    def still_owned(self, item: RestoreItem, found: Discovered) -> bool:
        """The disk is listed, and attached to the same instance (or was attached to none)."""
        disk = next((d for d in found.disks if d.disk_id == item.resource_id), None)
        return disk is not None and item.instance_id in (None, disk.instance_id)

    def restore(self, w: Ports, record: RestoreRecord, item: RestoreItem, now: float) -> None:
        w.ecs.reset_disk(item.resource_id, item.source_artifact_id)
        item.status, item.restore_started_epoch = ItemStatus.RUNNING, now

    def restore_waits(self, w: Ports, err: CloudError) -> bool:
        """Throttling and server errors, and a disk that has not settled yet (ResetDisk's IncorrectDiskStatus)."""
        return err.transient or w.ecs.reset_must_wait(err)

    def follow(self, w: Ports, record: RestoreRecord, running: list[RestoreItem], now: float) -> None:
        """A reset is over when ECS shows the disk attached or free again after accepting the ResetDisk. That is all
        ECS reports of a rollback (ResetDisk answers only a RequestId; DescribeDisks shows ReIniting while it runs and
        no outcome after), so the item says what was seen and that the disk's content was not checked."""
        disks = w.ecs.describe_disks([i.resource_id for i in running])
        for item in running:
            disk = disks.get(item.resource_id)
            if disk is None:
                item.fail("InvalidDiskId.NotFound", f"disk {item.resource_id} no longer exists")
            elif disk.resetting:
                item.cloud_task_seen = True
            elif disk.settled:
                item.status, item.progress = ItemStatus.SUCCEEDED, 100
                item.verified, item.verification = None, _reset_evidence(item, disk.status)


def wait_out(w: Ports, stored: StoredRecord, record: BackupRecord, unit: list[BackupItem], err: CloudError) -> None:
    """A refusal that clears by itself (another snapshot of the disk is being made, e.g. by an automatic snapshot
    policy) leaves the unit Pending with the reason shown: the poll rounds ask again until the disk deadline, as
    RDS waits out BackupJobExists. Any other refusal is raised."""
    if not w.ecs.snapshot_must_wait(err):
        raise err
    for item in unit:
        item.wait_reason = f"{err.code}: {err.message}"
    save(w, stored, record)
    logs.event("snapshot waits", step="start", record_id=record.backup_id, resource_id=unit[0].resource_id,
               code=err.code, request_id=err.request_id)


def _reset_evidence(item: RestoreItem, status: str) -> str:
    """What ECS showed of the rollback, and no more: its content is never read back."""
    seen = "showed the disk ReIniting and then" if item.cloud_task_seen else \
        "was never seen re-initialising the disk (a rollback that fast is not confirmed); it shows the disk"
    return (f"not checked: ECS accepted the rollback to snapshot {item.source_artifact_id}, {seen} {status}; "
            f"the disk's content was not compared with the snapshot")


def _snapshot_error(snap: Snapshot) -> tuple[str | None, str | None]:
    if snap.failed:
        return "SnapshotFailed", "ECS reported the snapshot as failed"
    return None, None


def snapshot_encryption(snap: Snapshot) -> dict | None:
    """What DescribeSnapshots (or a group's member) says of the snapshot's encryption; None when it does not say."""
    return of_disk(snap.encrypted, snap.kms_key_id, "ECS snapshot (Encrypted, KMSKeyId)")
