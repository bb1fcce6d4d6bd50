"""Undo a restore: put the service instance back as it was just before it, as a restore of its own (origin `undo`,
which can itself be undone), run by the restore flow:

- each database the restore swapped into place goes aside again (under the undo's own aside name) and the live
  database it had set aside comes back into its name: the undo's RDS items start with their databases "restored"
  (the copies are the ones kept aside), so no RDS restore runs, only the swap of names;
- each disk it reset is reset to the snapshot taken at its stop (operations/undo_snapshots.py), the instance stopped
  as for any restore, and the undo takes its own snapshots at its stop first, so it can be undone in turn.

An undo is refused (409, nothing touched) when there is nothing to undo, when its window has passed
(`UndoableUntil`) or what it needs is gone, and, without `Confirm`, when the service instance changed since the restore
(undo_changes.py: what an undo would throw away; the databases' rows are compared by the undo's first step, which
may read them: the API's role never reads the database accounts)."""
from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from ..decisions.dbnames import aside_name
from ..errors import Conflict, ValidationError
from ..model.ids import check_client_token
from ..model.records import ResourceType, iso_utc, new_record_id
from ..model.restores import DatabaseRestore, RestoreItem, RestoreRecord
from ..model.status import DatabaseState, ItemStatus, RestorePhase, RestoreStatus
from .costs import Meter
from .loading import read_restore
from .opening import fingerprint
from .undo_changes import changed_since
from .undo_snapshots import swapped_databases, undoable_disks

if TYPE_CHECKING:
    from ..ports import Ports


def create_undo(w: Ports, restore_id: str, confirm: bool = False, token: str | None = None,
                now: float | None = None) -> dict:
    """Open the undo of `restore_id` (202 with the new restore record) or refuse it, saying why."""
    check_client_token(token)
    if not isinstance(confirm, bool):
        raise ValidationError("Confirm must be true or false")
    now = time.time() if now is None else now
    meter = Meter(w)
    source = read_restore(w, restore_id)[1]
    _check_undoable(w, source, now)
    changed = changed_since(w, source)
    if changed and not confirm:
        raise Conflict(f"the service instance changed since restore {restore_id}: {'; '.join(changed)}; the undo "
                       f"would throw that away: ask again with Confirm: true (CLI --yes) to undo anyway")
    si = source.service_instance_id
    undo_id = new_record_id("restore", int(now * 1000), secrets.token_hex(4))
    record = RestoreRecord(undo_id, source.backup_id, si, iso_utc(now), _plan(source, undo_id),
                           phase=RestorePhase.RESTORING_DATABASES, safety_backup=False, phase_started_epoch=now,
                           started_epoch=now, origin="undo", undoes=restore_id)
    record.undo.confirmed = confirm
    from .restore import open_restore  # opened as any restore is (token, index, lock, record, flow)
    return open_restore(w, record, token, fingerprint(ServiceInstanceId=si, Kind="restore", Undoes=restore_id,
                                                      Confirm=confirm), now, meter)


def _check_undoable(w: Ports, source: RestoreRecord, now: float) -> None:
    """Conflict naming why the restore cannot be undone (nothing has been touched)."""
    rid = source.restore_id
    if source.status is RestoreStatus.RESTORING:
        raise Conflict(f"restore {rid} is still under way: undo it once it has ended (or cancel it)")
    disks, databases = undoable_disks(source), swapped_databases(source)
    if not disks and not databases:
        raise Conflict(f"restore {rid} changed nothing an undo could put back: no disk was reset and no database "
                       f"swapped into place")
    if source.undo.until_epoch is None:
        raise Conflict(f"restore {rid} cannot be undone: undo was off when it ran (NESTBACKUP_UNDO_HOURS 0)")
    if now >= source.undo.until_epoch:
        raise Conflict(f"restore {rid} could be undone until {iso_utc(source.undo.until_epoch)}; that has passed "
                       f"and its snapshots at the stop are deleted")
    without = [i.resource_id for i in disks if i.resource_id not in source.undo.snapshots]
    if without:
        raise Conflict(f"restore {rid} reset {', '.join(without)} without a snapshot at the stop: an undo cannot "
                       f"bring back what those disks held")
    wanted = [source.undo.snapshots[i.resource_id] for i in disks]
    found = w.ecs.describe_snapshots(wanted) if wanted else {}
    gone = [f"{sid} ({'gone' if sid not in found else found[sid].status})" for sid in wanted
            if sid not in found or not found[sid].accomplished]
    if gone:
        raise Conflict(f"restore {rid} cannot be undone: its snapshots at the stop are not usable: {', '.join(gone)}")


def _plan(source: RestoreRecord, undo_id: str) -> list[RestoreItem]:
    """The undo's items: each disk back to its snapshot at the stop; each swapped database's live copy of before
    (kept aside) "restored" already (what the verification expects of it: undo_changes.check_databases)."""
    items = [RestoreItem(i.resource_id, ResourceType.DISK, source.undo.snapshots[i.resource_id],
                         instance_id=i.instance_id) for i in undoable_disks(source)]
    for item, dbs in swapped_databases(source):
        engine = item.engine or ""
        items.append(RestoreItem(item.resource_id, ResourceType.RDS, f"kept aside by {source.restore_id}",
                                 engine=engine, status=ItemStatus.RUNNING, progress=50,
                                 databases=[DatabaseRestore(db.name, db.aside, aside_name(db.name, undo_id, engine),
                                                            DatabaseState.RESTORED) for db in dbs]))
    return items
