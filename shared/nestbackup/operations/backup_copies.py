"""A backup's copies in another region, followed by the backup's own poll rounds (the record stays Creating until
every copy is final): each disk item's snapshot, once accomplished, is copied (CopySnapshot, one ClientToken per
item, so a retry after a lost answer finds the same copy) and the copy is read in its destination region until it is
accomplished or failed. Deleting the backup deletes its copies (`delete_copy`), and so does a cancel."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import logs
from ..decisions.backup import client_token
from ..errors import CloudError
from ..model.ids import OWNER_TAG
from ..model.status import ITEM_FINAL, ItemStatus, snapshot_item_status
from .kinds.action import still_listed

if TYPE_CHECKING:
    from ..model.copies import SnapshotCopy
    from ..model.records import BackupItem, BackupRecord
    from ..ports import Ports

KEY_MISSING = ("an encrypted snapshot's copy needs a KMS key of the destination region: set "
               "NESTBACKUP_COPY_KMS_KEY_ID")


def copy_deadline(w: Ports, record: BackupRecord) -> float:
    """A copy not final by then fails (Timeout): twice a disk's own deadline from the backup's start."""
    return record.started_epoch + 2 * w.settings.disk_deadline_seconds


def follow_copies(w: Ports, record: BackupRecord, now: float) -> None:
    """Start the copies whose snapshot is accomplished, read the running ones (the caller saves the record)."""
    if not record.copy_to_region:
        return
    for item in record.items:
        for copy in item.copies:
            if copy.status is ItemStatus.PENDING:
                _start(w, record, item, copy, now)
    running = [c for c in record.copies if c.status is ItemStatus.RUNNING and c.snapshot_id]
    found = w.ecs.describe_snapshots_in(record.copy_to_region, [c.snapshot_id or "" for c in running]) \
        if running else {}
    for copy in running:
        snap = found.get(copy.snapshot_id or "")
        status = snapshot_item_status(snap.status) if snap else ItemStatus.RUNNING
        if status is ItemStatus.SUCCEEDED:
            copy.status = ItemStatus.SUCCEEDED
        elif status is ItemStatus.FAILED:
            copy.fail("CopyFailed", f"ECS reported the copy {copy.snapshot_id} in {copy.region} as failed")
        elif now >= copy_deadline(w, record):
            copy.fail("Timeout", f"the copy {copy.snapshot_id} in {copy.region} was not accomplished before its "
                                 f"deadline")
        else:
            continue
        logs.event("copy ended", step="poll", record_id=record.backup_id, artifact_id=copy.snapshot_id,
                   status=str(copy.status))


def _start(w: Ports, record: BackupRecord, item: BackupItem, copy: SnapshotCopy, now: float) -> None:
    """Copy the item's snapshot once it is accomplished; a transient refusal is asked again next round."""
    if item.status in ITEM_FINAL and item.status is not ItemStatus.SUCCEEDED:
        copy.close(ItemStatus.NOT_STARTED, f"not copied: the snapshot ended {item.status}")
        return
    if item.status is not ItemStatus.SUCCEEDED or not item.artifact_id:
        return
    encrypted = bool((item.encryption or {}).get("Encrypted"))
    key = w.settings.copy_kms_key_id or None
    if encrypted and not key:
        copy.fail("CopyKeyMissing", KEY_MISSING)
        return
    region = copy.region
    try:
        copy.snapshot_id = w.ecs.copy_snapshot(
            item.artifact_id, region, name=f"nestbackup-{record.backup_id}",
            description=f"nestbackup {record.backup_id} of {record.service_instance_id}: copy of {item.artifact_id}",
            client_token=client_token(record.backup_id, f"copy-{item.resource_id}"),
            tags={OWNER_TAG: record.backup_id}, kms_key_id=key if encrypted else None)
    except CloudError as err:
        if err.transient and now < copy_deadline(w, record):
            return                       # asked again next round with the same token (a lost answer: same copy)
        copy.fail(err.code, f"CopySnapshot of {item.artifact_id} into {region} was refused: {err.message}")
        return
    copy.status, copy.source_id = ItemStatus.RUNNING, item.artifact_id


def close_copies(record: BackupRecord, status: ItemStatus, message: str) -> None:
    """The backup closes with its flow's error: a copy not final ends with it (one under way is still the
    record's: deleting the backup deletes it)."""
    for copy in record.copies:
        if copy.final:
            continue
        if status is ItemStatus.CANCELLED:
            copy.close(ItemStatus.CANCELLED, message)
        elif copy.status is ItemStatus.PENDING:
            copy.close(ItemStatus.NOT_STARTED, f"not copied: {message}")
        else:
            copy.fail("CopyNotFollowed", message)


def delete_copy(w: Ports, copy: SnapshotCopy) -> None:
    """Delete one copy in its region, check it is gone, and mark it Deleted (CloudError when it is not)."""
    if copy.snapshot_id:
        w.ecs.delete_snapshot_in(copy.region, copy.snapshot_id)
        if copy.snapshot_id in w.ecs.describe_snapshots_in(copy.region, [copy.snapshot_id]):
            raise still_listed("DeleteSnapshot", copy.snapshot_id)
        copy.close(ItemStatus.DELETED, f"deleted with the backup from {copy.region}")
