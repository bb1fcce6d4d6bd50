"""Drill records: one per drill of a backup, one item per artifact restored into scratch and checked. Plain data; no
I/O. A drill item is a restore item (the databases come back under scratch names exactly as a restore brings them
back) plus its scratch disk, whether its scratch resources are gone, and how long it took."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .causes import cause_line, root_cause
from .records import ResourceType
from .restores import RestoreItem
from .status import SCHEMA_VERSION, DrillStatus, ItemStatus, aggregate_drill


@dataclass
class DrillItem(RestoreItem):
    """One artifact of the backup: restored into a scratch disk or scratch databases, checked, then removed."""
    scratch_disk_id: str | None = None   # the disk CreateDisk made from the snapshot
    zone_id: str = ""                    # where the scratch disk is made, and its category: the source disk's
    category: str = ""
    size_bytes: int | None = None        # the artifact's size at backup time (an RDS set's: what scratch copies need)
    cleaned: bool = False                # every scratch resource it made is read back as gone
    started_epoch: float | None = None   # when its restore into scratch was asked for, and when it checked out
    checked_epoch: float | None = None

    @property
    def duration_seconds(self) -> float | None:
        if self.started_epoch is None or self.checked_epoch is None:
            return None
        return round(max(0.0, self.checked_epoch - self.started_epoch), 1)

    @property
    def scratch_names(self) -> list[str]:
        return [d.restored for d in self.databases]

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
               "ResourceId": self.resource_id, "ResourceType": str(self.resource_type), "Status": str(self.status),
               "SourceArtifactId": self.source_artifact_id, "ErrorCode": self.error_code,
               "ErrorMessage": self.error_message, "RequestId": self.request_id, "Verified": self.verified,
               "Verification": self.verification, "DurationSeconds": self.duration_seconds,
               "CleanedUp": self.cleaned, "StartTime": self.start_time, "EndTime": self.end_time}
        if self.resource_type is ResourceType.RDS:
            out["Engine"] = self.engine
            out["ScratchDatabases"] = [{"Name": d.name, "ScratchName": d.restored, "State": str(d.state)}
                                       for d in self.databases]
        else:
            out["ScratchDiskId"] = self.scratch_disk_id
        return out


@dataclass
class DrillRecord:
    """A drill: its items, whether its scratch resources are removed, and what the API shows of it."""
    drill_id: str
    backup_id: str
    service_instance_id: str
    start_time: str
    items: list[DrillItem] = field(default_factory=list)
    status: DrillStatus = DrillStatus.RUNNING
    end_time: str | None = None
    status_detail: str = ""
    failed: bool = False                 # the drill failed as a whole (e.g. no room for the scratch databases)
    cancelled: bool = False              # the caller cancelled it, or a restore of the instance preempted it
    cleaning: bool = False               # its scratch resources are being removed (nothing more is restored)
    cleaned_up: bool = False             # every scratch resource is read back as gone
    started_epoch: float = 0.0
    ended_epoch: float | None = None
    backup_seconds: float | None = None  # how long the backup it proves took (its start to its end)
    cost: dict[str, Any] | None = None
    cause: dict[str, Any] = field(default_factory=dict)
    origin: str = "user"                 # user, or schedule (the timer drills the latest backup every N days)

    def fail_operation(self, detail: str) -> None:
        self.failed = True
        self.status_detail = self.status_detail or detail

    def refresh_status(self, now: str, now_epoch: float) -> DrillStatus:
        self.status = aggregate_drill((i.status for i in self.items), self.cleaned_up, self.failed, self.cancelled)
        if self.status is not DrillStatus.RUNNING and self.end_time is None:
            self.end_time, self.ended_epoch = now, now_epoch
            if self.status is DrillStatus.FAILED:
                self.cause = root_cause(self.items, self.status_detail)
                self.status_detail = cause_line(self.items, self.status_detail)
        return self.status

    @property
    def duration_seconds(self) -> float | None:
        """From the drill's start until every artifact checked out (the recovery time it measured)."""
        checked = [i.checked_epoch for i in self.items if i.checked_epoch is not None]
        if not checked or len(checked) < len(self.items):
            return None
        return round(max(0.0, max(checked) - self.started_epoch), 1)

    @property
    def leftovers(self) -> list[str]:
        """The scratch resources not read back as gone yet."""
        out: list[str] = []
        for i in self.items:
            if not i.cleaned:
                out += [i.scratch_disk_id] if i.scratch_disk_id else [f"{i.resource_id}/{n}" for n in i.scratch_names
                                                                     if i.status is not ItemStatus.PENDING]
        return out

    def to_api(self) -> dict[str, Any]:
        return {"DrillId": self.drill_id, "BackupId": self.backup_id, "ServiceInstanceId": self.service_instance_id,
                "Status": str(self.status), "StatusDetail": self.status_detail, "Cause": self.cause or None,
                "StartTime": self.start_time, "EndTime": self.end_time, "DurationSeconds": self.duration_seconds,
                "BackupSeconds": self.backup_seconds, "CleanedUp": self.cleaned_up,
                "CleanupPending": [] if self.cleaned_up else self.leftovers, "Cost": self.cost,
                "Origin": self.origin, "Resources": [i.to_api() for i in self.items]}

    def header_doc(self) -> dict[str, Any]:
        return {"Kind": "drill", "SchemaVersion": SCHEMA_VERSION, "DrillId": self.drill_id,
                "BackupId": self.backup_id, "ServiceInstanceId": self.service_instance_id,
                "StartTime": self.start_time, "Status": self.status.value, "EndTime": self.end_time,
                "StatusDetail": self.status_detail, "Failed": self.failed, "Cancelled": self.cancelled,
                "Cleaning": self.cleaning, "CleanedUp": self.cleaned_up, "StartedEpoch": self.started_epoch,
                "EndedEpoch": self.ended_epoch, "BackupSeconds": self.backup_seconds, "Cost": self.cost,
                "DurationSeconds": self.duration_seconds,       # read by the recovery objectives (not read back)
                "Cause": self.cause, "Origin": self.origin, "Order": [i.resource_id for i in self.items]}

    @classmethod
    def from_docs(cls, header: dict[str, Any], items: dict[str, dict[str, Any]]) -> DrillRecord:
        order = header.get("Order") or list(items)
        schema = int(header.get("SchemaVersion") or SCHEMA_VERSION)
        return cls(drill_id=header["DrillId"], backup_id=header["BackupId"],
                   service_instance_id=header["ServiceInstanceId"], start_time=header["StartTime"],
                   items=[_drill_item(items[r], schema) for r in order if r in items],
                   status=DrillStatus(header["Status"]), end_time=header.get("EndTime"),
                   status_detail=header.get("StatusDetail", ""), failed=bool(header.get("Failed")),
                   cancelled=bool(header.get("Cancelled")), cleaning=bool(header.get("Cleaning")),
                   cleaned_up=bool(header.get("CleanedUp")), started_epoch=header.get("StartedEpoch", 0.0),
                   ended_epoch=header.get("EndedEpoch"), backup_seconds=header.get("BackupSeconds"),
                   cost=header.get("Cost"), cause=header.get("Cause") or {}, origin=header.get("Origin") or "user")


def _drill_item(raw: dict[str, Any], schema: int) -> DrillItem:
    item = DrillItem.from_dict(raw, schema)
    assert isinstance(item, DrillItem)
    return item
