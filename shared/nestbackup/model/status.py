"""The status vocabulary, the code form of docs/statuses.md (tests/unit/test_statuses_doc.py keeps the two equal):
record and item statuses (Compute Nest's names where they cover the case), which are final, how items roll up into
the record, which backups are restorable, the CLI's exit code of each, and how records stored before this table read.
Nothing else compares status strings; cloud status strings are mapped to item statuses here, in one place."""
from __future__ import annotations

from enum import Enum
from typing import Any, Iterable, Mapping, NamedTuple


class _Status(str, Enum):
    """A status string as the API spells it; str() gives the value (Python 3.10 has no StrEnum)."""

    def __str__(self) -> str:
        return str(self.value)


class BackupStatus(_Status):
    CREATING = "Creating"          # some item is still pending or running
    CREATED = "Created"            # every item succeeded (skipped ones aside)
    PARTIALLY_CREATED = "PartiallyCreated"  # completed with issues: some succeeded, others did not
    CREATE_FAILED = "CreateFailed"  # nothing was backed up
    CANCELLED = "Cancelled"        # the caller cancelled it
    DELETING = "Deleting"
    DELETED = "Deleted"
    DELETE_FAILED = "DeleteFailed"


class RestoreStatus(_Status):
    RESTORING = "Restoring"
    RESTORED = "Restored"
    RESTORE_FAILED = "RestoreFailed"
    CANCELLED = "Cancelled"        # the caller cancelled it before any database was swapped


class DrillStatus(_Status):
    RUNNING = "Running"            # restoring the backup's artifacts into scratch, checking, removing the scratch
    PASSED = "Passed"              # every artifact restored into scratch and checked out
    FAILED = "Failed"
    CANCELLED = "Cancelled"        # cancelled by the caller or preempted by a restore of the same service instance


class ItemStatus(_Status):
    PENDING = "Pending"            # declared in the record, no cloud call made yet
    RUNNING = "Running"            # the cloud accepted the work; its id is on the item
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"              # the only status that counts as a failure
    SKIPPED = "Skipped"            # deliberately not backed up (e.g. a read-only replica); ErrorMessage says why
    NOT_STARTED = "NotStarted"     # never touched: another failed, or the operation ended before it; ErrorMessage why
    CANCELLED = "Cancelled"        # the caller's cancel closed it under way; ErrorMessage says what became of it
    ROLLED_BACK = "RolledBack"     # restore: done, then not put into place or undone because another failed
    DELETED = "Deleted"            # backup: its artifact was deleted with the backup


CANCELLED = "Cancelled"    # the cause code a cancel hands to the closing step (the flow's Catch shape)


class RecordRule(NamedTuple):
    """One row of the record table: final, restorable whole, restorable by selection, the CLI's exit code, and
    whether Compute Nest names it."""
    final: bool
    restorable: bool
    selectable: bool
    exit_code: int
    compute_nest: bool


# The CLI's exit codes for a record's status (a refused request exits 1, click's usage errors 2: no record then).
EXIT_OK, EXIT_FAILED, EXIT_WITH_ISSUES, EXIT_CANCELLED = 0, 3, 4, 5

BACKUP_RULES: dict[BackupStatus, RecordRule] = {
    BackupStatus.CREATING: RecordRule(False, False, False, EXIT_OK, True),
    BackupStatus.CREATED: RecordRule(True, True, True, EXIT_OK, True),
    BackupStatus.PARTIALLY_CREATED: RecordRule(True, False, True, EXIT_WITH_ISSUES, False),
    BackupStatus.CREATE_FAILED: RecordRule(True, False, False, EXIT_FAILED, True),
    BackupStatus.CANCELLED: RecordRule(True, False, False, EXIT_CANCELLED, False),
    BackupStatus.DELETING: RecordRule(False, False, False, EXIT_OK, True),
    BackupStatus.DELETED: RecordRule(True, False, False, EXIT_OK, True),
    BackupStatus.DELETE_FAILED: RecordRule(True, False, False, EXIT_FAILED, True),
}
RESTORE_RULES: dict[RestoreStatus, RecordRule] = {
    RestoreStatus.RESTORING: RecordRule(False, False, False, EXIT_OK, True),
    RestoreStatus.RESTORED: RecordRule(True, False, False, EXIT_OK, True),
    RestoreStatus.RESTORE_FAILED: RecordRule(True, False, False, EXIT_FAILED, True),
    RestoreStatus.CANCELLED: RecordRule(True, False, False, EXIT_CANCELLED, False),
}
DRILL_RULES: dict[DrillStatus, RecordRule] = {
    DrillStatus.RUNNING: RecordRule(False, False, False, EXIT_OK, False),
    DrillStatus.PASSED: RecordRule(True, False, False, EXIT_OK, False),
    DrillStatus.FAILED: RecordRule(True, False, False, EXIT_FAILED, False),
    DrillStatus.CANCELLED: RecordRule(True, False, False, EXIT_CANCELLED, False),
}


class ItemRule(NamedTuple):
    final: bool
    failure: bool
    backup: bool          # used by backup items
    restore: bool         # used by restore items
    drill: bool           # used by drill items
    copy: bool            # used by a backup's copies in another region


ITEM_RULES: dict[ItemStatus, ItemRule] = {
    ItemStatus.PENDING: ItemRule(False, False, True, True, True, True),
    ItemStatus.RUNNING: ItemRule(False, False, True, True, True, True),
    ItemStatus.SUCCEEDED: ItemRule(True, False, True, True, True, True),
    ItemStatus.FAILED: ItemRule(True, True, True, True, True, True),
    ItemStatus.SKIPPED: ItemRule(True, False, True, False, False, False),
    ItemStatus.NOT_STARTED: ItemRule(True, False, True, True, True, True),
    ItemStatus.CANCELLED: ItemRule(True, False, True, True, True, True),
    ItemStatus.ROLLED_BACK: ItemRule(True, False, False, True, False, False),
    ItemStatus.DELETED: ItemRule(True, False, True, False, False, True),
}

ITEM_FINAL = frozenset(s for s, rule in ITEM_RULES.items() if rule.final)
BACKUP_FINAL = frozenset(s for s, rule in BACKUP_RULES.items() if rule.final)
RESTORE_FINAL = frozenset(s for s, rule in RESTORE_RULES.items() if rule.final)
DRILL_FINAL = frozenset(s for s, rule in DRILL_RULES.items() if rule.final)
RESTORABLE = frozenset(s for s, rule in BACKUP_RULES.items() if rule.restorable)
SELECTABLE = frozenset(s for s, rule in BACKUP_RULES.items() if rule.selectable)
# Statuses a record can end a create in that are not a plain success (the CLI says why on stderr).
NOT_CLEAN = frozenset({BackupStatus.PARTIALLY_CREATED, BackupStatus.CREATE_FAILED, BackupStatus.CANCELLED,
                       BackupStatus.DELETE_FAILED, RestoreStatus.RESTORE_FAILED, RestoreStatus.CANCELLED,
                       DrillStatus.FAILED, DrillStatus.CANCELLED})
RECORD_RULES: dict[str, Mapping[Any, RecordRule]] = {"backup": BACKUP_RULES, "restore": RESTORE_RULES,
                                                       "drill": DRILL_RULES}


def exit_code(record_status: str, kind: str | None = None) -> int:
    """The CLI's exit code for a record's status (`kind` backup, restore or drill; without it, the first table that
    names the status); an unknown one, from a newer server: 0."""
    for name, rules in RECORD_RULES.items():
        if kind not in (None, name):
            continue
        for status, rule in rules.items():
            if status.value == record_status:
                return rule.exit_code
    return EXIT_OK


def is_final(record_status: str) -> bool:
    """Whether a backup, restore or drill record's status is final (following it stops there)."""
    return any(s.value == record_status for s in BACKUP_FINAL | RESTORE_FINAL | DRILL_FINAL)


def is_failure(status: ItemStatus) -> bool:
    return ITEM_RULES[status].failure


def aggregate_backup(statuses: Iterable[ItemStatus], cancelled: bool = False) -> BackupStatus:
    """Creating while any item is not final; Cancelled if the caller cancelled it; CreateFailed with nothing to back
    up (skipped items aside); Created when all the others succeeded; PartiallyCreated when one did; else
    CreateFailed."""
    statuses = list(statuses)
    if any(s not in ITEM_FINAL for s in statuses):
        return BackupStatus.CREATING
    if cancelled or ItemStatus.CANCELLED in statuses:
        return BackupStatus.CANCELLED
    taken = [s for s in statuses if s is not ItemStatus.SKIPPED]
    if not taken:
        return BackupStatus.CREATE_FAILED
    if all(s is ItemStatus.SUCCEEDED for s in taken):
        return BackupStatus.CREATED
    if ItemStatus.SUCCEEDED in taken:
        return BackupStatus.PARTIALLY_CREATED
    return BackupStatus.CREATE_FAILED


def aggregate_drill(statuses: Iterable[ItemStatus], finished: bool, failed: bool = False,
                    cancelled: bool = False) -> DrillStatus:
    """Running until every item is final and the scratch resources are removed (`finished`); then Cancelled if
    cancelled or preempted, Failed if the drill failed or any item is not Succeeded, else Passed."""
    statuses = list(statuses)
    if not finished or any(s not in ITEM_FINAL for s in statuses):
        return DrillStatus.RUNNING
    if cancelled:
        return DrillStatus.CANCELLED
    if failed or any(s is not ItemStatus.SUCCEEDED for s in statuses):
        return DrillStatus.FAILED
    return DrillStatus.PASSED


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


def aggregate_restore(statuses: Iterable[ItemStatus], finished: bool, failed: bool = False,
                      cancelled: bool = False) -> RestoreStatus:
    """Restoring until the restore has finished (instances started again); then Cancelled if the caller cancelled
    it, RestoreFailed if the operation failed or any item is not Succeeded, else Restored."""
    statuses = list(statuses)
    if not finished:
        return RestoreStatus.RESTORING
    if cancelled:
        return RestoreStatus.CANCELLED
    if failed or any(s is not ItemStatus.SUCCEEDED for s in statuses):
        return RestoreStatus.RESTORE_FAILED
    return RestoreStatus.RESTORED


# -- records stored before this table (no SchemaVersion): how their statuses read now (docs/statuses.md)
SCHEMA_VERSION = 2
# The item codes schema 1 gave what is now a status (NotRestored is still the code of a restore interrupted mid-way,
# model/causes.INTERRUPTED: only schema 1 gave it to untouched resources too).
NOT_RESTORED, NOT_SWAPPED = "NotRestored", "NotSwapped"


def item_status_of(stored: str, error_code: str | None, schema: int, restore: bool = False) -> ItemStatus:
    """An item's status as stored, read in this table's terms."""
    status = ItemStatus(stored)
    if schema >= SCHEMA_VERSION or status is not ItemStatus.FAILED:
        return status
    if error_code == CANCELLED:
        return ItemStatus.CANCELLED
    if restore and error_code == NOT_RESTORED:
        return ItemStatus.NOT_STARTED
    if restore and error_code == NOT_SWAPPED:
        return ItemStatus.ROLLED_BACK
    return status


def backup_status_of(stored: str, items: Iterable[ItemStatus], schema: int) -> BackupStatus:
    """A backup record's status as stored; schema 1's CreateFailed is re-read from its items."""
    status = BackupStatus(stored)
    if schema >= SCHEMA_VERSION or status is not BackupStatus.CREATE_FAILED:
        return status
    return aggregate_backup(items)


def restore_status_of(stored: str, cause: str, schema: int) -> RestoreStatus:
    """A restore record's status as stored; schema 1's RestoreFailed by a cancel reads Cancelled."""
    status = RestoreStatus(stored)
    if schema < SCHEMA_VERSION and status is RestoreStatus.RESTORE_FAILED and f": {CANCELLED}: " in f": {cause}":
        return RestoreStatus.CANCELLED
    return status
