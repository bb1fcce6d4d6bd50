"""What a restore keeps so that it can be undone (operations/undo.py), from the stop to the end of its undo window:

take_at_stop     -> RestoringData, the instances stopped, before any disk is reset: a snapshot of each disk it will
                    reset, waited for until accomplished (the service is down meanwhile: `UndoSnapshotSeconds`)
count_at_end     -> Verifying: the row counts of the databases it swapped in (an undo compares them)
note_end         -> when the restore ends: until when it can be undone
delete_unneeded  -> the sweeper: delete the snapshots no restore needs any more (its window passed, it reset no disk,
                    its record never listed them); never one a restore or a running undo still needs
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .. import logs
from ..decisions.backup import client_token
from ..errors import CloudError, NestBackupError, ValidationError
from ..model.ids import is_restore_id
from ..model.records import ResourceType
from ..model.status import DatabaseState, ItemStatus, RestorePhase, RestoreStatus
from ..model.undo import UNDO_TAG, UndoState
from .claims import ACTIVE

if TYPE_CHECKING:
    from ..model.restores import RestoreItem, RestoreRecord
    from ..ports import Ports

ORPHAN_GRACE_SECONDS = 900      # a snapshot its record does not list may still be on its way into it


def _disks_to_reset(record: RestoreRecord) -> list[RestoreItem]:
    return [i for i in record.items if i.resource_type is ResourceType.DISK and i.status is ItemStatus.PENDING]


def take_at_stop(w: Ports, record: RestoreRecord, now: float) -> bool:
    """True once every disk still to reset has its snapshot accomplished (at once when undo is off or no disk is
    reset). A snapshot that cannot be taken fails the restore before any disk is touched, as a refused stop does: the
    operator asked for a restore that can be undone."""
    disks = _disks_to_reset(record)
    if w.settings.undo_hours <= 0 or not disks:
        return True
    undo = record.undo
    if undo.snapshot_seconds is not None and all(i.resource_id in undo.snapshots for i in disks):
        return True
    undo.started_epoch = undo.started_epoch or now
    for item in disks:
        if item.resource_id in undo.snapshots:
            continue
        try:       # the same ClientToken on every retry: a lost answer gives the same snapshot again
            undo.snapshots[item.resource_id] = w.ecs.create_snapshot(
                item.resource_id, name=f"nestbackup-undo-{record.restore_id}",
                description=f"nestbackup: disk {item.resource_id} before restore {record.restore_id} reset it",
                client_token=client_token(f"undo-{record.restore_id}", item.resource_id),
                tags={UNDO_TAG: record.restore_id})
        except CloudError as err:
            if not (err.transient or w.ecs.snapshot_must_wait(err)) or _late(w, record, now):
                _give_up(record, now, f"{item.resource_id}: {err.code}: {err.message}")
                return False
            logs.event("undo snapshot deferred", step="restore", record_id=record.restore_id,
                       resource_id=item.resource_id, code=err.code)
    wanted = [undo.snapshots[i.resource_id] for i in disks if i.resource_id in undo.snapshots]
    if len(wanted) < len(disks):
        return False
    found = w.ecs.describe_snapshots(wanted)      # one not listed yet is waited for, as a progressing one
    broken = [f"{sid}: {found[sid].status}" for sid in wanted if sid in found and found[sid].failed]
    if broken:
        _give_up(record, now, "; ".join(broken))
        return False
    if all(sid in found and found[sid].accomplished for sid in wanted):
        undo.snapshot_seconds = round(max(0.0, now - undo.started_epoch), 1)
        logs.event("undo snapshots taken", step="restore", record_id=record.restore_id, seconds=undo.snapshot_seconds)
        # the resets start now: their rounds (and their deadline) count from here, not from the stop
        record.enter(RestorePhase.RESTORING_DATA, now)
        return True
    if _late(w, record, now):
        _give_up(record, now, f"not accomplished within {w.settings.disk_deadline_seconds} s")
        return False
    return False


def _late(w: Ports, record: RestoreRecord, now: float) -> bool:
    return now - (record.undo.started_epoch or now) > w.settings.disk_deadline_seconds


def _give_up(record: RestoreRecord, now: float, why: str) -> None:
    record.fail_operation(f"the snapshots at the stop, which an undo needs, could not be taken ({why}); no disk was "
                          f"reset and no database swapped")
    record.enter(RestorePhase.STARTING_INSTANCE, now)


def undoable_disks(record: RestoreRecord) -> list[RestoreItem]:
    """The disks whose reset was asked for: what an undo puts back from the snapshots at the stop."""
    return [i for i in record.items if i.resource_type is ResourceType.DISK and i.restore_started_epoch]


def swapped_databases(record: RestoreRecord) -> list[tuple[RestoreItem, list]]:
    """Per RDS item, its databases swapped into place whose live database of before is kept aside."""
    out = []
    for item in record.items:
        done = [db for db in item.databases if db.state == DatabaseState.RENAMED and db.aside_kept]
        if item.resource_type is ResourceType.RDS and done:
            out.append((item, done))
    return out


def count_at_end(w: Ports, record: RestoreRecord) -> None:
    """Verifying (the restore flow's role reads the database accounts): the row counts of the databases it swapped in,
    so an undo can tell whether they were written since; a count it cannot read is named, and such an undo then asks
    for confirmation."""
    if w.settings.undo_hours <= 0:
        return
    for item, dbs in swapped_databases(record):
        if item.resource_id in record.undo.counts_at_end:
            continue
        try:
            gateway = w.database(item.resource_id, item.engine or "")
            record.undo.counts_at_end[item.resource_id] = {db.name: gateway.row_counts(db.name) for db in dbs}
        except (ValidationError, CloudError) as err:
            record.undo.not_counted += [f"{item.resource_id}/{db.name}" for db in dbs]
            logs.event("undo counts not taken", step="verify", record_id=record.restore_id,
                       resource_id=item.resource_id, reason=str(err))


def note_end(w: Ports, record: RestoreRecord, now: float) -> None:
    """When the restore ends: until when it can be undone, when it touched something (no I/O: this runs wherever a
    restore is closed)."""
    if w.settings.undo_hours > 0 and record.undo.until_epoch is None and (
            swapped_databases(record) or undoable_disks(record)):
        record.undo.until_epoch = now + w.settings.undo_hours * 3600


# -- the sweeper's part
def delete_unneeded(w: Ports, now: float | None = None, limit: int = 50) -> dict:
    """Delete the snapshots taken at a restore's stop that no restore needs any more."""
    now = time.time() if now is None else now
    try:
        listed = w.ecs.snapshots_tagged(UNDO_TAG)
    except CloudError as err:                # the next run lists again
        logs.event("undo snapshots not listed", step="sweep", code=err.code)
        return {"Deleted": []}
    wanted: dict[str, set[str] | None] = {}
    running_undoes = _running_undoes(w) if listed else set()
    deleted: list[str] = []
    for snapshot_id, restore_id in listed:
        if len(deleted) >= limit:
            break
        try:
            if restore_id not in wanted:
                wanted[restore_id] = None if restore_id in running_undoes else _wanted(w, restore_id, now)
            keep = wanted[restore_id]
            if keep is None or snapshot_id in keep:
                continue
            if not _listed_by(w, restore_id, snapshot_id):
                found = w.ecs.describe_snapshots([snapshot_id]).get(snapshot_id)
                if found is None or found.created_epoch is None or now - found.created_epoch < ORPHAN_GRACE_SECONDS:
                    continue
            w.ecs.delete_snapshot(snapshot_id)
            deleted.append(snapshot_id)
            logs.event("undo snapshot deleted", step="sweep", record_id=restore_id, artifact=snapshot_id)
        except (CloudError, NestBackupError) as err:      # the next run asks again
            logs.event("undo snapshot not deleted", step="sweep", record_id=restore_id, artifact=snapshot_id,
                       reason=str(err))
    return {"Deleted": deleted}


def _running_undoes(w: Ports) -> set[str]:
    """The restores an undo under way puts back (their snapshots are its source)."""
    out = set()
    for record_id, doc, _ in w.documents.docs(ACTIVE):
        if doc.get("Kind") == "restore":
            stored = w.records.read(record_id)
            if stored is not None and stored.header.get("Undoes"):
                out.add(stored.header["Undoes"])
    return out


def _wanted(w: Ports, restore_id: str, now: float) -> set[str] | None:
    """The snapshots the restore still needs (None: all of them, it is under way)."""
    stored = w.records.read(restore_id) if is_restore_id(restore_id) else None
    if stored is None:
        return set()
    if stored.header.get("Status") == RestoreStatus.RESTORING:
        return None
    undo = UndoState.from_doc(stored.header.get("Undo"))
    if undo.until_epoch is None or now >= undo.until_epoch:
        return set()
    reset = {r for r, item in stored.items.items() if item.get("resource_type") == ResourceType.DISK.value
             and item.get("restore_started_epoch")}
    return {sid for disk, sid in undo.snapshots.items() if disk in reset}


def _listed_by(w: Ports, restore_id: str, snapshot_id: str) -> bool:
    stored = w.records.read(restore_id) if is_restore_id(restore_id) else None
    return stored is not None and snapshot_id in UndoState.from_doc(stored.header.get("Undo")).snapshots.values()
