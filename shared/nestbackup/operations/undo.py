"""Undo a restore: put the service instance back as it was just before it, as a restore of its own (origin `undo`,
which can itself be undone), run by the restore flow:

- each database the restore swapped into place goes aside again (under the undo's own aside name) and the live
  database it had set aside comes back into its name: the undo's RDS items start with their databases "restored"
  (the copies are the ones kept aside), so no RDS restore runs, only the swap of names;
- each disk it reset is reset to the snapshot taken at its stop (operations/undo_snapshots.py), the instance stopped
  as for any restore, and the undo takes its own snapshots at its stop first, so it can be undone in turn.

An undo is refused (409, nothing touched) when there is nothing to undo, when its window has passed
(`UndoableUntil`) or what it needs is gone, and, without `Confirm`, when the service instance changed since the restore
(`changed_since`: what an undo would throw away)."""
from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from .. import logs
from ..decisions.dbnames import aside_name
from ..errors import CloudError, Conflict, NestBackupError, ValidationError
from ..model.ids import check_client_token
from ..model.records import ResourceType, iso_utc, new_record_id, record_time
from ..model.restores import DatabaseRestore, RestoreItem, RestoreRecord
from ..model.status import DatabaseState, ItemStatus, RestorePhase, RestoreStatus
from ..ports.flows import RestoreFlowInput
from .costs import Meter
from .loading import read_restore
from .opening import Opening, begin, earlier_record, ensure_started, fingerprint, start_flow, write_record
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
    changed = changed_since(w, source, count_rows=True)
    if changed and not confirm:
        raise Conflict(f"the service instance changed since restore {restore_id}: {'; '.join(changed)}; the undo "
                       f"would throw that away: ask again with Confirm: true (CLI --yes) to undo anyway")
    si = source.service_instance_id
    undo_id = new_record_id("restore", int(now * 1000), secrets.token_hex(4))
    record = RestoreRecord(undo_id, source.backup_id, si, iso_utc(now), _plan(w, source, undo_id),
                           phase=RestorePhase.RESTORING_DATABASES, safety_backup=False, phase_started_epoch=now,
                           started_epoch=now, origin="undo", undoes=restore_id)
    op = Opening("restore", undo_id, si, token, fingerprint(ServiceInstanceId=si, Kind="restore", Undoes=restore_id,
                                                            Confirm=confirm), now)
    existing = begin(w, op)
    if existing:
        stored = earlier_record(w, existing)
        earlier = RestoreRecord.from_docs(stored.header, stored.items)
        if earlier.status is RestoreStatus.RESTORING:
            ensure_started(w, w.settings.restore_flow, existing, RestoreFlowInput(existing))
        return earlier.to_api()
    write_record(w, op, record.header_doc(), {i.resource_id: i.to_dict() for i in record.items})
    logs.event("undo created", step="create", record_id=undo_id, undoes=restore_id, items=len(record.items))
    from .restore import recover  # the restore's recovery closes an undo whose flow did not start
    start_flow(w, op, w.settings.restore_flow, RestoreFlowInput(undo_id),
               close=lambda cause: recover(w, undo_id, cause))
    meter.charge(undo_id, 0)
    return record.to_api()


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
    for item, dbs in databases:
        present = {d.name for d in w.rds.databases(item.resource_id)}
        missing = [db.aside for db in dbs if db.aside not in present]
        if missing:
            raise Conflict(f"restore {rid} cannot be undone: the databases it kept aside on {item.resource_id} are "
                           f"gone: {', '.join(missing)} (dropped since?)")


def changed_since(w: Ports, source: RestoreRecord, count_rows: bool) -> list[str]:
    """What happened to the service instance since the restore, that an undo would throw away or contradict: later
    restores and backups of it; databases whose row counts differ from those at the restore's end (`count_rows`; an
    UPDATE that keeps the counts is not seen); and the disks it reset, whenever their instance has run since (ECS
    does not say whether a disk was written, so a running instance counts as a change)."""
    out: list[str] = []
    si, rid = source.service_instance_id, source.restore_id
    later = [r for r in w.records.list_ids(si, "restore", 20)[0] if r > rid]
    if later:
        out.append(f"later restore{'s' if len(later) > 1 else ''} {', '.join(sorted(later))}")
    backups = [b for b in w.records.list_ids(si, "backup", 20)[0] if record_time(b) > record_time(rid)
               and b != source.safety_backup_id]
    if backups:
        out.append(f"later backup{'s' if len(backups) > 1 else ''} {', '.join(sorted(backups))}")
    ran = sorted({i.instance_id for i in undoable_disks(source) if i.instance_id})
    if ran:
        states = w.ecs.describe_instances(ran)
        running = [iid for iid in ran if iid in states and not states[iid].stopped]
        if running or source.running_epoch is not None:
            out.append(f"{', '.join(running or ran)} ran since the restore: what they wrote to "
                       f"{', '.join(i.resource_id for i in undoable_disks(source))} since is lost by the undo")
    if count_rows:
        out += _databases_written(w, source)
    return out


def changed_view(w: Ports, source: RestoreRecord) -> list[str] | None:
    """What a read of the record shows: the changes seen without reading the databases (an undo's request counts their
    rows too); None when they cannot be read now."""
    try:
        return changed_since(w, source, count_rows=False)
    except NestBackupError as err:
        logs.event("changes since not read", step="read", record_id=source.restore_id, reason=str(err))
        return None


def _databases_written(w: Ports, source: RestoreRecord) -> list[str]:
    out = []
    for item, dbs in swapped_databases(source):
        at_end = source.undo.counts_at_end.get(item.resource_id)
        if at_end is None:
            out.append(f"{item.resource_id}: row counts at the end of the restore unknown")
            continue
        try:
            gateway = w.database(item.resource_id, item.engine or "")
            now = {db.name: gateway.row_counts(db.name) for db in dbs}
        except (ValidationError, CloudError) as err:
            out.append(f"{item.resource_id}: row counts could not be read ({err})")
            continue
        for db in dbs:
            before, after = at_end.get(db.name, {}), now.get(db.name, {})
            diff = [f"{t} {before.get(t, 0)}->{after.get(t, 0)}" for t in sorted(set(before) | set(after))
                    if before.get(t) != after.get(t)]
            if diff:
                out.append(f"database {db.name} of {item.resource_id} written since (rows: {', '.join(diff)})")
    return out


def _plan(w: Ports, source: RestoreRecord, undo_id: str) -> list[RestoreItem]:
    """The undo's items: each disk back to its snapshot at the stop; each swapped database's live copy of before
    (kept aside) "restored" already, with its row counts now as what the undo's verification expects."""
    items = [RestoreItem(i.resource_id, ResourceType.DISK, source.undo.snapshots[i.resource_id],
                         instance_id=i.instance_id) for i in undoable_disks(source)]
    for item, dbs in swapped_databases(source):
        engine = item.engine or ""
        undo_item = RestoreItem(item.resource_id, ResourceType.RDS, f"kept aside by {source.restore_id}",
                                engine=engine, status=ItemStatus.RUNNING, progress=50,
                                databases=[DatabaseRestore(db.name, db.aside, aside_name(db.name, undo_id, engine),
                                                           DatabaseState.RESTORED) for db in dbs])
        try:                 # nobody writes to a database kept aside: its counts now are those of before the restore
            gateway = w.database(item.resource_id, engine)
            undo_item.expected = {db.name: gateway.row_counts(db.aside) for db in dbs}
        except (ValidationError, CloudError) as err:      # the undo is not verified by counts then
            logs.event("undo counts not taken", step="create", resource_id=item.resource_id, reason=str(err))
        items.append(undo_item)
    return items
