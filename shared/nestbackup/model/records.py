"""Backup records: one per operation, one item per resource. Plain data with its API shape; no I/O."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from .causes import cause_line, root_cause
from .coverage import NotProtected, coverage_note
from .status import (
    RESTORABLE,
    SCHEMA_VERSION,
    BackupStatus,
    ItemStatus,
    aggregate_backup,
    backup_status_of,
    item_status_of,
)

if TYPE_CHECKING:
    from .hooks import Quiesce
from .copies import SnapshotCopy, copy_status

# Why a backup that kept good artifacts cannot be restored whole: docs/statuses.md, "Restorable" and "Selectable".
PARTIAL_NOT_RESTORABLE = ("{good} of {taken} resources were backed up and their artifacts are kept: it cannot be "
                          "restored whole, but those can be restored by selection (Resources, Databases)")


class ResourceType(str, Enum):
    DISK = "disk"
    RDS = "rds"

    def __str__(self) -> str:
        return self.value


class BackupMethod(str, Enum):
    SNAPSHOT = "Snapshot"                # one ECS snapshot of one disk
    SNAPSHOT_GROUP = "SnapshotGroup"     # crash-consistent group of every disk of one ECS instance
    RDS_BACKUP = "RdsBackup"             # one RDS full backup of one DB instance

    def __str__(self) -> str:
        return self.value


@dataclass
class BackupItem:
    """One resource of a backup: what is backed up, how, and how far it got."""
    resource_id: str
    resource_type: ResourceType
    engine: str | None = None            # RDS engine: MySQL | PostgreSQL | SQLServer
    instance_id: str | None = None       # the ECS instance a disk is attached to
    method: BackupMethod | None = None
    status: ItemStatus = ItemStatus.PENDING
    artifact_id: str | None = None       # snapshot id, or RDS backup set id
    job_id: str | None = None            # RDS: the backup job
    group_id: str | None = None          # a disk of a snapshot group: the group
    starting: bool = False               # RDS: CreateBackup may have been sent, its job not known yet (adopt it)
    progress: int = 0
    error_code: str | None = None
    error_message: str | None = None
    request_id: str | None = None
    databases: list[str] = field(default_factory=list)                 # RDS: databases at backup time
    row_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # RDS: db -> table -> rows, before the set
    row_counts_after: dict[str, dict[str, int]] = field(default_factory=dict)  # and after it: the backup window
    started_at: float | None = None      # RDS: when CreateBackup was about to be sent (to adopt its result)
    jobs_before: list[str] = field(default_factory=list)  # RDS: tasks already running then (never adopted)
    sets_before: list[str] = field(default_factory=list)  # RDS: manual sets of that minute then (never adopted)
    wait_reason: str | None = None       # why the backup has not started yet (instance or disk busy), for the caller
    expires_at: str | None = None        # RDS: when the cloud deletes the backup set (ISO UTC); None = never/unknown
    restorable: bool | None = None       # RDS: whether the set can be restored as the product restores it
    restorable_reason: str | None = None  # why not (e.g. MetaStatus of a MySQL set)
    size_bytes: int | None = None        # what the cloud keeps: the snapshot's full size, or the backup set's
    delete_refused: str | None = None    # RDS: DeleteBackup refused the set ("code: message"); it stays until expiry
    retried: str | None = None           # the cloud's refusals its start met and retried (for the timeline)
    encryption: dict[str, Any] | None = None  # Encrypted, KeyId, By (decisions/encryption.py); None: not said
    start_time: str | None = None        # when it left Pending, and when it became final (operations.timeline)
    end_time: str | None = None
    created_epoch: float | None = None   # when the cloud answered its create (CreateSnapshot(Group), CreateBackup)
    copies: list[SnapshotCopy] = field(default_factory=list)  # its snapshot's copies in another region
    not_copied: str | None = None        # why a copy was asked for and this item has none (RDS)

    def fail(self, code: str, message: str, request_id: str | None = None) -> None:
        self.status, self.error_code, self.error_message, self.request_id = \
            ItemStatus.FAILED, code, message, request_id
        self.starting = False               # a failed item has nothing left to adopt

    def close(self, status: ItemStatus, message: str) -> None:
        """End it without a failure of its own (NotStarted, Cancelled), saying why."""
        self.status, self.error_code, self.error_message = status, None, message
        self.starting = False

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
               "ResourceId": self.resource_id, "ResourceType": str(self.resource_type), "Status": str(self.status),
               "ArtifactId": self.artifact_id, "Progress": self.progress, "ErrorCode": self.error_code,
               "ErrorMessage": self.error_message, "RequestId": self.request_id,
               "Method": str(self.method) if self.method else None,
               "StartTime": self.start_time, "EndTime": self.end_time}
        out["ExpiresAt"] = self.expires_at     # disk snapshots without RetentionDays never expire
        out["WaitReason"] = self.wait_reason   # why it has not started yet (the resource is busy), for the caller
        out["Encryption"] = self.encryption    # whether its artifact is encrypted, with which key, as the cloud says
        if self.resource_type is ResourceType.RDS:
            out["Engine"] = self.engine
            out["Databases"] = list(self.databases)
            out["Restorable"] = self.restorable
            out["RestorableReason"] = self.restorable_reason
            out["DeleteRefused"] = self.delete_refused
        if self.method is BackupMethod.SNAPSHOT_GROUP:
            out["SnapshotGroupId"] = self.group_id
        if self.copies:
            out["Copies"] = [c.to_api() for c in self.copies]
        if self.not_copied:
            out["NotCopied"] = self.not_copied
        return out

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        for key in ("resource_type", "method", "status"):
            raw[key] = raw[key].value if raw[key] is not None else None
        raw["copies"] = [c.to_dict() for c in self.copies]
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any], schema: int = SCHEMA_VERSION) -> BackupItem:
        raw = dict(raw)
        raw["resource_type"] = ResourceType(raw["resource_type"])
        raw["method"] = BackupMethod(raw["method"]) if raw.get("method") else None
        raw["status"] = item_status_of(raw["status"], raw.get("error_code"), schema)
        raw["copies"] = [SnapshotCopy.from_dict(c) for c in raw.get("copies") or []]
        # records written before group_id and starting had their own fields kept both in job_id
        if raw.get("job_id") == "starting":
            raw["job_id"], raw["starting"] = None, True
        if raw["method"] is BackupMethod.SNAPSHOT_GROUP and raw.get("job_id") and not raw.get("group_id"):
            raw["group_id"], raw["job_id"] = raw["job_id"], None
        return cls(**raw)


@dataclass
class BackupRecord:
    """A backup: its items and what the API shows of it."""
    backup_id: str
    service_instance_id: str
    start_time: str                      # ISO 8601 UTC, e.g. 2026-11-26T16:32:00Z
    description: str = ""
    items: list[BackupItem] = field(default_factory=list)
    end_time: str | None = None
    status: BackupStatus = BackupStatus.CREATING
    status_detail: str = ""              # why it failed: the operation's cause, then each failed resource's
    started_epoch: float = 0.0           # for item deadlines
    awaiting_expiry: bool = False        # DeleteFailed only because the cloud refuses to delete some RDS sets
    cost: dict[str, Any] | None = None   # what it cost, once final (operations/costs.py, decisions/cost.py)
    not_protected: list[NotProtected] = field(default_factory=list)  # listed resources it does not back up
    origin: str = "user"                 # who asked for it: one of ORIGINS
    scope: str = "whole"                 # what it was asked to cover: one of SCOPES
    cause: dict[str, Any] = field(default_factory=dict)   # the failure that ended it (causes.root_cause), once final
    last_drill: str | None = None        # when a drill last proved it restores (ISO UTC), and which drill
    last_drill_id: str | None = None
    lock: dict[str, Any] | None = None   # Mode, Until, By, CloudLock..., Lifted (decisions/locks.py)
    quiesce: Quiesce | None = None       # its quiesce hooks (model/hooks.py), when the service instance has some
    copy_to_region: str | None = None    # the region its snapshots are copied into (model/copies.py)

    @property
    def copies(self) -> list[SnapshotCopy]:
        return [c for i in self.items for c in i.copies]

    @property
    def copy_status(self) -> BackupStatus | None:
        return copy_status(self.copies)

    def refresh_status(self, now: str) -> BackupStatus:
        """Recompute the overall status from the items (Creating while a copy is not final: the flow follows the
        copies too); the end time and the cause are set once it is final."""
        self.status = aggregate_backup(item.status for item in self.items)
        if any(not c.final for c in self.copies):
            self.status = BackupStatus.CREATING
        if self.status is not BackupStatus.CREATING and self.end_time is None:
            self.end_time = now
            if self.status in (BackupStatus.CREATE_FAILED, BackupStatus.PARTIALLY_CREATED):
                self.cause = root_cause(self.items, self.status_detail)
                self.status_detail = cause_line(self.items, self.status_detail)
        return self.status

    def item(self, resource_id: str) -> BackupItem:
        return next(i for i in self.items if i.resource_id == resource_id)

    @property
    def restorable(self) -> bool:
        return self.status in RESTORABLE

    @property
    def restorable_reason(self) -> str | None:
        """Why a backup that kept good artifacts cannot be restored; None otherwise."""
        if self.status is not BackupStatus.PARTIALLY_CREATED:
            return None
        taken = [i for i in self.items if i.status is not ItemStatus.SKIPPED]
        good = sum(1 for i in taken if i.status is ItemStatus.SUCCEEDED)
        return PARTIAL_NOT_RESTORABLE.format(good=good, taken=len(taken))

    @property
    def restorable_until(self) -> str | None:
        """When the first of its backed-up artifacts expires (ISO UTC); None when none expires or it cannot be
        restored."""
        expiries = [i.expires_at for i in self.items if i.status is ItemStatus.SUCCEEDED and i.expires_at]
        return min(expiries) if expiries and self.restorable else None

    @property
    def consistent_at(self) -> str | None:
        """T, the moment the disks of `quiesce.at_moment` share (UTC, ms), for a restore to bring the databases to
        as their RestoreTime; None without hooks or when a pre hook failed (the backup went on crash-consistent)."""
        q = self.quiesce
        return iso_utc_ms(q.consistent_at) if q and q.consistent_at else None

    def to_api(self) -> dict[str, Any]:
        return {"BackupId": self.backup_id, "ServiceInstanceId": self.service_instance_id,
                "Status": str(self.status), "StatusDetail": self.detail, "StartTime": self.start_time,
                "EndTime": self.end_time, "Description": self.description, "Cause": self.cause or None,
                "Restorable": self.restorable, "RestorableReason": self.restorable_reason,
                "RestorableUntil": self.restorable_until, "AwaitingExpiry": self.awaiting_expiry,
                "Cost": self.cost, "NotProtected": [n.to_api() for n in self.not_protected],
                "Origin": self.origin, "Scope": self.scope, "LastDrill": self.last_drill,
                "LastDrillId": self.last_drill_id, "Lock": self.lock, "CopyToRegion": self.copy_to_region,
                "CopyStatus": str(self.copy_status) if self.copy_status else None,
                "Resources": [i.to_api() for i in self.items]} | (
                    self.quiesce.to_api(iso_utc_ms) if self.quiesce else {})

    @property
    def detail(self) -> str:
        """The StatusDetail shown: the stored one (a failure's cause, a delete's notes), then what is not
        protected; composed here so no later writer of status_detail drops the coverage note."""
        return "; ".join(part for part in (self.status_detail, coverage_note(self.not_protected)) if part)

    # -- stored form: a header document and one document per item
    def header_doc(self) -> dict[str, Any]:
        return {"Kind": "backup", "SchemaVersion": SCHEMA_VERSION, "BackupId": self.backup_id,
                "ServiceInstanceId": self.service_instance_id,
                "Status": self.status.value, "StatusDetail": self.status_detail, "StartTime": self.start_time,
                "EndTime": self.end_time, "Description": self.description, "StartedEpoch": self.started_epoch,
                "AwaitingExpiry": self.awaiting_expiry, "Cost": self.cost,
                "NotProtected": [n.to_api() for n in self.not_protected], "Origin": self.origin, "Scope": self.scope,
                "Cause": self.cause, "LastDrill": self.last_drill, "LastDrillId": self.last_drill_id,
                "Lock": self.lock, "Order": [i.resource_id for i in self.items],
                "Quiesce": self.quiesce.to_dict() if self.quiesce else None, "CopyToRegion": self.copy_to_region}

    @classmethod
    def from_docs(cls, header: dict[str, Any], items: dict[str, dict[str, Any]]) -> BackupRecord:
        """A stored record, of this schema or an earlier one (read in this schema's terms, docs/statuses.md)."""
        order = header.get("Order") or list(items)
        schema = int(header.get("SchemaVersion") or 1)
        read = [BackupItem.from_dict(items[rid], schema) for rid in order if rid in items]
        status = backup_status_of(header["Status"], (i.status for i in read), schema)
        cause = header.get("Cause") or {}
        if not cause and status in (BackupStatus.CREATE_FAILED, BackupStatus.PARTIALLY_CREATED):
            cause = root_cause(read, header.get("StatusDetail", ""))
        return cls(backup_id=header["BackupId"], service_instance_id=header["ServiceInstanceId"],
                   start_time=header["StartTime"], description=header.get("Description", ""),
                   items=read, end_time=header.get("EndTime"), status=status,
                   status_detail=header.get("StatusDetail", ""), started_epoch=header.get("StartedEpoch", 0.0),
                   awaiting_expiry=bool(header.get("AwaitingExpiry", False)), cost=header.get("Cost"),
                   not_protected=[NotProtected.from_api(n) for n in header.get("NotProtected") or []],
                   origin=header.get("Origin") or _origin_before_it_was_kept(header.get("Description", "")),
                   scope=header.get("Scope") or "whole", cause=cause, last_drill=header.get("LastDrill"),
                   last_drill_id=header.get("LastDrillId"), lock=header.get("Lock") or None,
                   quiesce=_quiesce(header.get("Quiesce")), copy_to_region=header.get("CopyToRegion") or None)


def _quiesce(raw: dict[str, Any] | None) -> Quiesce | None:
    """A hooked backup's quiesce state; the hooks' model is imported only where a record has one."""
    if not raw:
        return None
    from .hooks import Quiesce
    return Quiesce.from_dict(raw)


# Who asked for a backup: an operator or a script through the API, a schedule, a restore (the safety backup taken
# right before it), an undo of a restore (the backup taken right before it), or an event (operations/events.py).
ORIGINS = ("user", "schedule", "safety", "undo", "event")
# What it was asked to cover: every resource of the service instance, or some (a selective restore's safety backup
# covers only what that restore replaces). Records written before Scope was kept covered the whole instance.
SCOPES = ("whole", "partial")
# The backups a retention rule's KeepLast counts (decisions/retention.py): whole ones an operator or a schedule asked
# for. Safety, undo and event backups, and partial ones, never push one of those out.
COUNTED_ORIGINS = ("user", "schedule")


def _origin_before_it_was_kept(description: str) -> str:
    """A record written before Origin was stored: the descriptions the product gave its own backups say it."""
    if description.startswith("scheduled ("):
        return "schedule"
    return "safety" if description.startswith("safety backup before restore ") else "user"


def new_record_id(prefix: str, epoch_ms: int, entropy: str) -> str:
    """Ids that sort by creation time (fixed-width hex milliseconds), usable as CloudFlow execution names."""
    return f"{prefix}-{epoch_ms:012x}{entropy}"


def record_time(record_id: str) -> float:
    """When a record was created, from its id (milliseconds, so records of the same second still sort)."""
    return int(record_id.split("-", 1)[1][:12], 16) / 1000


def iso_utc(epoch: float) -> str:
    """A record's times: UTC, to the second."""
    from datetime import datetime, timezone
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_utc_ms(epoch: float) -> str:
    """A moment a restore may be asked to reach (the quiesced moment T): UTC, to the millisecond."""
    from datetime import datetime, timezone
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def epoch_of(iso: str | None) -> float | None:
    """The epoch of a record's time (iso_utc's form); None when absent or not of that form."""
    from datetime import datetime, timezone
    try:
        return datetime.strptime(iso or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None
