"""The status vocabulary: Compute Nest's names for records, and our names for items. Nothing else compares status
strings; cloud status strings are mapped to item statuses here, in one place."""
from __future__ import annotations

from enum import Enum
from typing import Iterable


class _Status(str, Enum):
    """A status string as the API spells it; str() gives the value (Python 3.10 has no StrEnum)."""

    def __str__(self) -> str:
        return str(self.value)


class BackupStatus(_Status):
    CREATING = "Creating"          # some item is still pending or running
    CREATED = "Created"            # every item succeeded
    CREATE_FAILED = "CreateFailed"  # every item is final and at least one failed
    DELETING = "Deleting"
    DELETED = "Deleted"
    DELETE_FAILED = "DeleteFailed"


class ItemStatus(_Status):
    PENDING = "Pending"            # declared in the record, no cloud call made yet
    RUNNING = "Running"            # the cloud accepted the work; its id is on the item
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    SKIPPED = "Skipped"            # deliberately not backed up (e.g. a read-only replica); ErrorMessage says why


CANCELLED = "Cancelled"    # the error code of every item a cancel closed, and of the cancelled record
ITEM_FINAL = frozenset({ItemStatus.SUCCEEDED, ItemStatus.FAILED, ItemStatus.SKIPPED})
BACKUP_FINAL = frozenset({BackupStatus.CREATED, BackupStatus.CREATE_FAILED, BackupStatus.DELETED,
                          BackupStatus.DELETE_FAILED})


def aggregate_backup(statuses: Iterable[ItemStatus]) -> BackupStatus:
    """Creating while any item is not final; CreateFailed if any failed (or there is nothing to back up, skipped
    items aside); Created when all the others succeeded."""
    statuses = list(statuses)
    if any(s not in ITEM_FINAL for s in statuses):
        return BackupStatus.CREATING
    taken = [s for s in statuses if s is not ItemStatus.SKIPPED]
    if not taken or any(s is ItemStatus.FAILED for s in taken):
        return BackupStatus.CREATE_FAILED
    return BackupStatus.CREATED


# -- cloud status strings -> item status
SNAPSHOT_STATUS = {"progressing": ItemStatus.RUNNING, "accomplished": ItemStatus.SUCCEEDED,
                   "failed": ItemStatus.FAILED}
BACKUP_JOB_STATUS = {"NoStart": ItemStatus.RUNNING, "Checking": ItemStatus.RUNNING,
                     "Preparing": ItemStatus.RUNNING, "Waiting": ItemStatus.RUNNING,
                     "Uploading": ItemStatus.RUNNING, "Finished": ItemStatus.SUCCEEDED,
                     "Failed": ItemStatus.FAILED}


# -- cloud strings read as facts
# DBInstanceType of an instance that is its own primary (Readonly | Guard | Temp are not; "" where the API leaves it
# out).
PRIMARY_INSTANCE_TYPES = frozenset({"Primary", ""})
# DBInstanceStatus of an instance no restore or other change is under way on (TempDBInstanceCreating while a
# database/table restore runs).
RDS_INSTANCE_RUNNING = frozenset({"Running"})


def primary_instance(db_instance_type: str) -> bool:
    return db_instance_type in PRIMARY_INSTANCE_TYPES


def rds_instance_running(cloud_status: str) -> bool:
    return cloud_status in RDS_INSTANCE_RUNNING


def snapshot_item_status(cloud_status: str) -> ItemStatus:
    return SNAPSHOT_STATUS.get(cloud_status, ItemStatus.RUNNING)


def backup_job_item_status(cloud_status: str) -> ItemStatus:
    return BACKUP_JOB_STATUS.get(cloud_status, ItemStatus.RUNNING)


class RestoreStatus(_Status):
    RESTORING = "Restoring"
    RESTORED = "Restored"
    RESTORE_FAILED = "RestoreFailed"


class RestorePhase(_Status):
    """Where a restore is; phases run in this order, and a failure jumps to StartingInstance (or Done when no
    instance was stopped)."""
    SAFETY_BACKUP = "SafetyBackup"
    RESTORING_DATABASES = "RestoringDatabases"    # into new names, beside the live ones: nothing is stopped yet
    STOPPING_INSTANCE = "StoppingInstance"
    RESTORING_DATA = "RestoringData"              # disks reset to their snapshots (instances stopped)
    RENAMING_DATABASES = "RenamingDatabases"
    STARTING_INSTANCE = "StartingInstance"
    VERIFYING = "Verifying"
    DONE = "Done"


class DatabaseState(_Status):
    """Where one database of a restore is: restored under its new name beside the live one, then swapped into its
    name (the live one set aside), or put back as it was."""
    PENDING = "Pending"
    RESTORING = "Restoring"       # the cloud restores it under its new name
    RESTORED = "Restored"         # there under its new name, not swapped yet
    RENAMED = "Renamed"           # swapped into its name; the live one is aside (if there was one)
    ROLLED_BACK = "RolledBack"    # the swap was undone: the live data under its name again
    FAILED = "Failed"


def aggregate_restore(statuses: Iterable[ItemStatus], finished: bool, failed: bool = False) -> RestoreStatus:
    """Restoring until the restore has finished (instances started again); then RestoreFailed if any item or the
    operation itself failed, else Restored."""
    statuses = list(statuses)
    if not finished:
        return RestoreStatus.RESTORING
    if failed or any(s is not ItemStatus.SUCCEEDED for s in statuses):
        return RestoreStatus.RESTORE_FAILED
    return RestoreStatus.RESTORED
