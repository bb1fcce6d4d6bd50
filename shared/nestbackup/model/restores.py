"""Restore records: one per restore, one item per resource of the backup. Plain data; no I/O."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .causes import cause_line, root_cause
from .records import ResourceType, iso_utc
from .status import (
    SCHEMA_VERSION,
    DatabaseState,
    ItemStatus,
    RestorePhase,
    RestoreStatus,
    aggregate_restore,
    item_status_of,
    restore_status_of,
)
from .summary import restore_summary
from .undo import UndoState


@dataclass
class DatabaseRestore:
    """One database of an RDS item: restored under `restored`, then renamed back to `name`; the live database of
    before the restore is kept under `aside`."""
    name: str
    restored: str
    aside: str
    state: DatabaseState = DatabaseState.PENDING
    aside_kept: bool = False


@dataclass
class RestoreItem:
    """One resource of a restore: what it is restored from, and how far it got."""
    resource_id: str
    resource_type: ResourceType
    source_artifact_id: str              # the snapshot id / RDS backup set id restored from
    engine: str | None = None
    instance_id: str | None = None
    status: ItemStatus = ItemStatus.PENDING
    progress: int = 0
    error_code: str | None = None
    error_message: str | None = None
    request_id: str | None = None
    databases: list[DatabaseRestore] = field(default_factory=list)
    expected: dict[str, dict[str, int]] = field(default_factory=dict)   # db -> table -> rows, before the backup set
    expected_after: dict[str, dict[str, int]] = field(default_factory=dict)   # and after it
    verified: bool | None = None
    verification: str = ""
    restore_started_epoch: float = 0.0   # when the cloud restore was asked for (its task started after it)
    cloud_task_seen: bool = False        # the cloud restore was seen running (instance state, task, or a database)
    start_time: str | None = None        # when it left Pending, and when it became final (operations.timeline)
    end_time: str | None = None
    # an RDS item of a hooked backup's restore: "consistent-moment" (to `restore_time`, T's second) or
    # "backup-set" (from its set, `restored_to_reason` says why not to T); None otherwise
    restored_to: str | None = None
    restore_time: str | None = None
    restored_to_reason: str = ""

    def fail(self, code: str, message: str, request_id: str | None = None) -> None:
        self.status, self.error_code, self.error_message, self.request_id = \
            ItemStatus.FAILED, code, message, request_id

    def close(self, status: ItemStatus, message: str, code: str | None = None) -> None:
        """End it without a failure of its own (NotStarted, Cancelled, RolledBack), saying why."""
        self.status, self.error_code, self.error_message = status, code, message

    def to_api(self) -> dict[str, Any]:
        out = {"ResourceId": self.resource_id, "ResourceType": str(self.resource_type), "Status": str(self.status),
               "SourceArtifactId": self.source_artifact_id, "Progress": self.progress,
               "ErrorCode": self.error_code, "ErrorMessage": self.error_message, "RequestId": self.request_id,
               "Verified": self.verified, "Verification": self.verification,
               "StartTime": self.start_time, "EndTime": self.end_time}
        if self.resource_type is ResourceType.RDS:
            out["Engine"] = self.engine
            out["Databases"] = [{"Name": d.name, "RestoredName": d.restored, "AsideName": d.aside,
                                 "State": str(d.state), "AsideKept": d.aside_kept} for d in self.databases]
            if self.restored_to:
                out.update(RestoredTo=self.restored_to, RestoreTime=self.restore_time,
                           RestoredToReason=self.restored_to_reason or None)
        return out

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["resource_type"] = self.resource_type.value
        raw["status"] = self.status.value
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any], schema: int = SCHEMA_VERSION) -> RestoreItem:
        raw = dict(raw)
        raw["resource_type"] = ResourceType(raw["resource_type"])
        raw["status"] = item_status_of(raw["status"], raw.get("error_code"), schema, restore=True)
        raw["databases"] = [DatabaseRestore(**{**d, "state": DatabaseState(d.get("state") or "Pending")})
                            for d in raw.get("databases") or []]
        return cls(**raw)


@dataclass
class RestoreRecord:
    """A restore: its phase, its items and what the API shows of it."""
    restore_id: str
    backup_id: str
    service_instance_id: str
    start_time: str
    items: list[RestoreItem] = field(default_factory=list)
    phase: RestorePhase = RestorePhase.SAFETY_BACKUP
    status: RestoreStatus = RestoreStatus.RESTORING
    end_time: str | None = None
    status_detail: str = ""
    failed: bool = False                 # the operation failed as a whole (e.g. instances would not stop)
    safety_backup: bool = True
    safety_backup_id: str | None = None
    instances: dict[str, str] = field(default_factory=dict)   # ECS instance id -> status before the restore
    phase_started_epoch: float = 0.0
    started_epoch: float = 0.0
    failed_phase: RestorePhase | None = None     # the phase in which the first failure was seen
    ownership_checked: bool = False      # every resource was checked to still belong to the service instance
    stop_accepted_epoch: float | None = None   # when ECS accepted the stop of at least one instance
    stopped_epoch: float | None = None   # when the service went down: that accepted stop, once an instance was
    #                                      seen Stopped
    running_epoch: float | None = None   # when every instance it stopped was seen Running again
    cost: dict[str, Any] | None = None   # what it cost, once final (operations/costs.py)
    cancelled: bool = False              # the caller cancelled it (its status_detail says what was touched)
    cause: dict[str, Any] = field(default_factory=dict)   # the failure that ended it (causes.root_cause), once final
    origin: str = "user"                 # "undo": it puts back what the restore `undoes` replaced (operations/undo.py)
    undoes: str | None = None
    undo: UndoState = field(default_factory=UndoState)   # what it keeps so that it can be undone (model/undo.py)
    # a selective restore: what was asked (Resources, Databases, SplitGroups) and the disks restored with a selected
    # one because they were snapshotted in one group with it (GroupsKeptTogether: disk -> group), a selected disk
    # restored without the rest of its group (GroupsSplit: disk -> group); None: the whole
    # backup
    selection: dict[str, Any] | None = None
    restore_time: str | None = None      # a point-in-time restore's second (UTC); it has no backup (backup_id "")
    # a hooked backup's restore: its moment T (UTC, ms) and the resources brought to it (decisions/restore.py)
    consistent_at: str | None = None
    at_moment: list[str] = field(default_factory=list)

    def item(self, resource_id: str) -> RestoreItem:
        return next(i for i in self.items if i.resource_id == resource_id)

    def enter(self, phase: RestorePhase, now: float) -> None:
        self.phase, self.phase_started_epoch = phase, now

    def fail_operation(self, detail: str) -> None:
        self.failed = True
        self.status_detail = self.status_detail or detail

    def note_failure(self, phase: RestorePhase) -> None:
        """Keep the phase the first failure happened in (a step calls it with the phase it ran), before recovery
        moves the phase on."""
        if self.failed_phase is None and not self.cancelled and (
                self.failed or any(i.status is ItemStatus.FAILED for i in self.items)):
            self.failed_phase = phase

    def refresh_status(self, now: str) -> RestoreStatus:
        self.note_failure(self.phase)
        self.status = aggregate_restore((i.status for i in self.items), self.phase is RestorePhase.DONE, self.failed,
                                        self.cancelled)
        if self.status is not RestoreStatus.RESTORING and self.end_time is None:
            self.end_time = now
            if self.status is RestoreStatus.RESTORE_FAILED:
                phase = str(self.failed_phase) if self.failed_phase else None
                self.cause = root_cause(self.items, self.status_detail, phase)
                self.status_detail = cause_line(self.items, self.status_detail, phase)
        return self.status

    @property
    def never_stopped(self) -> bool:
        """A stop was accepted and no instance was ever seen Stopped: the service was not taken down."""
        return self.stop_accepted_epoch is not None and self.stopped_epoch is None

    @property
    def downtime_seconds(self) -> float | None:
        """How long the service's ECS instances were down, from their real states: from the accepted stop of an
        instance later seen Stopped until every one was seen Running again; 0 when none ever stopped; None when
        nothing was stopped or they are not all seen running yet."""
        if self.never_stopped:
            return 0.0
        if self.stopped_epoch is None or self.running_epoch is None:
            return None
        return round(max(0.0, self.running_epoch - self.stopped_epoch), 1)

    def to_api(self) -> dict[str, Any]:
        summary = restore_summary(self)
        return {"RestoreId": self.restore_id, "RestoreTaskId": self.restore_id, "BackupId": self.backup_id,
                "ServiceInstanceId": self.service_instance_id, "Status": str(self.status), "Phase": str(self.phase),
                "StatusDetail": self.status_detail, "Cause": self.cause or None,
                "StartTime": self.start_time, "EndTime": self.end_time,
                "SafetyBackupId": self.safety_backup_id,
                "DowntimeSeconds": self.downtime_seconds, "Cost": self.cost,
                "Verified": summary["Verified"], "Summary": summary,
                "Verification": "; ".join(f"{i.resource_id}: {i.verification}" for i in self.items
                                          if i.verified is not None),
                "Selection": self.selection, "RestoreTime": self.restore_time,
                "ConsistentAt": self.consistent_at, "AtConsistentMoment": list(self.at_moment),
                "Resources": [i.to_api() for i in self.items], **self._undo_api()}

    def _undo_api(self) -> dict[str, Any]:
        return {"Origin": self.origin, "Undoes": self.undoes,
                "UndoableUntil": iso_utc(self.undo.until_epoch) if self.undo.until_epoch else None,
                "UndoSnapshots": self.undo.snapshots, "UndoSnapshotSeconds": self.undo.snapshot_seconds}

    def header_doc(self) -> dict[str, Any]:
        return {"Kind": "restore", "SchemaVersion": SCHEMA_VERSION, "RestoreId": self.restore_id,
                "BackupId": self.backup_id, "ServiceInstanceId": self.service_instance_id, "StartTime": self.start_time,
                "Phase": self.phase.value, "Status": self.status.value, "EndTime": self.end_time,
                "StatusDetail": self.status_detail, "Failed": self.failed, "SafetyBackup": self.safety_backup,
                "SafetyBackupId": self.safety_backup_id, "Instances": self.instances,
                "PhaseStartedEpoch": self.phase_started_epoch, "StartedEpoch": self.started_epoch,
                "FailedPhase": self.failed_phase.value if self.failed_phase else None,
                "OwnershipChecked": self.ownership_checked, "StopAcceptedEpoch": self.stop_accepted_epoch,
                "StoppedEpoch": self.stopped_epoch,
                "RunningEpoch": self.running_epoch, "Cost": self.cost, "Cancelled": self.cancelled,
                "Cause": self.cause, "Selection": self.selection, "RestoreTime": self.restore_time,
                "ConsistentAt": self.consistent_at, "AtConsistentMoment": list(self.at_moment),
                "Order": [i.resource_id for i in self.items],
                "Origin": self.origin, "Undoes": self.undoes, "Undo": self.undo.to_doc()}

    @classmethod
    def from_docs(cls, header: dict[str, Any], items: dict[str, dict[str, Any]]) -> RestoreRecord:
        """A stored record, of this schema or an earlier one (read in this schema's terms, docs/statuses.md)."""
        order = header.get("Order") or list(items)
        schema = int(header.get("SchemaVersion") or 1)
        read = [RestoreItem.from_dict(items[r], schema) for r in order if r in items]
        status = restore_status_of(header["Status"], header.get("StatusDetail", ""), schema)
        cause = header.get("Cause") or {}
        if not cause and status is RestoreStatus.RESTORE_FAILED:
            cause = root_cause(read, header.get("StatusDetail", ""), header.get("FailedPhase"))
        return cls(restore_id=header["RestoreId"], backup_id=header["BackupId"],
                   service_instance_id=header["ServiceInstanceId"], start_time=header["StartTime"],
                   items=read, cancelled=bool(header.get("Cancelled")) or status is RestoreStatus.CANCELLED,
                   cause=cause, phase=RestorePhase(header["Phase"]), status=status,
                   end_time=header.get("EndTime"), status_detail=header.get("StatusDetail", ""),
                   failed=header.get("Failed", False), safety_backup=header.get("SafetyBackup", True),
                   safety_backup_id=header.get("SafetyBackupId"), instances=header.get("Instances") or {},
                   phase_started_epoch=header.get("PhaseStartedEpoch", 0.0),
                   started_epoch=header.get("StartedEpoch", 0.0),
                   failed_phase=RestorePhase(header["FailedPhase"]) if header.get("FailedPhase") else None,
                   ownership_checked=header.get("OwnershipChecked", False),
                   stop_accepted_epoch=header.get("StopAcceptedEpoch"),
                   stopped_epoch=header.get("StoppedEpoch"), running_epoch=header.get("RunningEpoch"),
                   cost=header.get("Cost"), origin=header.get("Origin") or "user", undoes=header.get("Undoes"),
                   undo=UndoState.from_doc(header.get("Undo")), selection=header.get("Selection"),
                   restore_time=header.get("RestoreTime"), consistent_at=header.get("ConsistentAt"),
                   at_moment=list(header.get("AtConsistentMoment") or []))
