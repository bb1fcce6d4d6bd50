"""What a restore keeps so that it can be undone (operations/undo.py): the snapshot of each disk it resets, taken at
the stop, how long taking them kept the service down, until when an undo is possible, and the row counts of the
databases it swapped in as they were at its end (so an undo can tell whether they were written since). Plain data;
no I/O."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The tag on every snapshot taken at a restore's stop: its value is the restore's id. The sweeper finds them by it
# (operations/undo_snapshots.py delete_unneeded); the backups' owner tag (model/ids.py OWNER_TAG) is not on them.
UNDO_TAG = "nestbackup:undoOf"


@dataclass
class UndoState:
    snapshots: dict[str, str] = field(default_factory=dict)    # disk id -> snapshot taken at the stop
    started_epoch: float | None = None       # when the first snapshot at the stop was asked for
    snapshot_seconds: float | None = None    # how long taking them kept the service down (part of its downtime)
    until_epoch: float | None = None         # an undo is possible until then (set when the restore ends)
    counts_at_end: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # rds id -> db -> table -> rows
    not_counted: list[str] = field(default_factory=list)       # "rds id/db" whose counts at the end are unknown
    # an undo's own: the caller confirmed it (Confirm); its first step checked the databases kept aside
    confirmed: bool = False
    databases_checked: bool = False

    def to_doc(self) -> dict[str, Any]:
        return {"Snapshots": self.snapshots, "StartedEpoch": self.started_epoch,
                "SnapshotSeconds": self.snapshot_seconds, "UntilEpoch": self.until_epoch,
                "CountsAtEnd": self.counts_at_end, "NotCounted": self.not_counted, "Confirmed": self.confirmed,
                "DatabasesChecked": self.databases_checked}

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> UndoState:
        doc = doc or {}
        return cls(snapshots=dict(doc.get("Snapshots") or {}), started_epoch=doc.get("StartedEpoch"),
                   snapshot_seconds=doc.get("SnapshotSeconds"), until_epoch=doc.get("UntilEpoch"),
                   counts_at_end=dict(doc.get("CountsAtEnd") or {}), not_counted=list(doc.get("NotCounted") or []),
                   confirmed=bool(doc.get("Confirmed")), databases_checked=bool(doc.get("DatabasesChecked")))
