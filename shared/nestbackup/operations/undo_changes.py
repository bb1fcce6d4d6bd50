"""Whether the service instance changed since a restore, which an undo would throw away (operations/undo.py):

changed_since    -> at the undo's request (the API; 409 without Confirm) and on a read of the record: later restores
                    and backups of the service instance, and the disks the restore reset whenever their instance ran
                    since (ECS does not say whether a disk was written, so a running instance counts as a change)
check_databases  -> the undo's first step (the restore flow, whose role reads the database accounts; the API's never
                    does): each database kept aside must still be there (its row counts are what the undo's
                    verification expects), and without Confirm the live databases' row counts must equal those at the
                    restore's end (an UPDATE that keeps the counts is not seen); else the undo ends before anything
                    is stopped, reset or swapped, saying why
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .. import logs
from ..errors import CloudError, NestBackupError, ValidationError
from ..model.records import ResourceType, record_time
from ..model.status import RestorePhase
from .loading import read_restore
from .undo_snapshots import swapped_databases, undoable_disks

if TYPE_CHECKING:
    from ..model.restores import RestoreRecord
    from ..ports import Ports


def changed_since(w: Ports, source: RestoreRecord) -> list[str]:
    """What happened to the service instance since the restore, as the store and ECS tell it."""
    out: list[str] = []
    si, rid = source.service_instance_id, source.restore_id
    later = [r for r in w.records.list_ids(si, "restore", 20)[0] if r > rid and not _undoes(w, r, rid)]
    if later:
        out.append(f"later restore{'s' if len(later) > 1 else ''} {', '.join(sorted(later))}")
    backups = [b for b in w.records.list_ids(si, "backup", 20)[0] if record_time(b) > record_time(rid)
               and b != source.safety_backup_id]
    if backups:
        out.append(f"later backup{'s' if len(backups) > 1 else ''} {', '.join(sorted(backups))}")
    disks = undoable_disks(source)
    ran = sorted({i.instance_id for i in disks if i.instance_id})
    if ran:
        states = w.ecs.describe_instances(ran)
        running = [iid for iid in ran if iid in states and not states[iid].stopped]
        if running or source.running_epoch is not None:
            out.append(f"{', '.join(running or ran)} ran since the restore: what they wrote to "
                       f"{', '.join(i.resource_id for i in disks)} since is lost by the undo")
    return out


def _undoes(w: Ports, record_id: str, restore_id: str) -> bool:
    """An undo of this very restore (a retry of the request that made it must find it, not be refused for it)."""
    stored = w.records.read(record_id)
    return stored is not None and stored.header.get("Undoes") == restore_id


def changed_view(w: Ports, source: RestoreRecord) -> list[str] | None:
    """What a read of the record shows (the databases' rows are compared when an undo runs); None when it cannot be
    read now."""
    try:
        return changed_since(w, source)
    except NestBackupError as err:
        logs.event("changes since not read", step="read", record_id=source.restore_id, reason=str(err))
        return None


def check_databases(w: Ports, record: RestoreRecord, now: float) -> bool:
    """An undo's first step, before anything is stopped; True to go on (at once for a restore that is no undo)."""
    if record.undoes is None or record.undo.databases_checked:
        return True
    source = read_restore(w, record.undoes)[1]
    problems: list[str] = []
    for item in record.items:
        if item.resource_type is not ResourceType.RDS or not item.databases:
            continue
        try:
            gateway = w.database(item.resource_id, item.engine or "")
            # nobody writes to a database kept aside: its counts now are those of before the restore
            item.expected = {db.name: gateway.row_counts(db.restored) for db in item.databases}
        except CloudError as err:
            if err.transient:
                raise                   # the flow asks again
            problems.append(f"the databases {source.restore_id} kept aside on {item.resource_id} cannot be read "
                            f"({err.code}: {err.message}; dropped since?)")
        except ValidationError as err:
            problems.append(f"{item.resource_id}: {err}")
    if not problems and not record.undo.confirmed:
        written = _databases_written(w, source)
        if written:
            problems.append(f"the service instance changed since restore {source.restore_id}: {'; '.join(written)}; "
                            f"undo again with Confirm: true (CLI --yes) to throw that away")
    if problems:
        record.fail_operation(f"{'; '.join(problems)}; nothing was stopped, reset or swapped")
        record.enter(RestorePhase.DONE, now)
        return False
    record.undo.databases_checked = True
    return True


def _databases_written(w: Ports, source: RestoreRecord) -> list[str]:
    out = []
    for item, dbs in swapped_databases(source):
        at_end = source.undo.counts_at_end.get(item.resource_id)
        if at_end is None:
            out.append(f"{item.resource_id}: its row counts at the end of the restore are unknown (it ended before "
                       f"verifying)")
            continue
        try:
            gateway = w.database(item.resource_id, item.engine or "")
            now = {db.name: gateway.row_counts(db.name) for db in dbs}
        except CloudError as err:
            if err.transient:
                raise
            out.append(f"{item.resource_id}: its row counts cannot be read now ({err.code}: {err.message})")
            continue
        for db in dbs:
            before, after = at_end.get(db.name, {}), now[db.name]
            diff = [f"{t} {before.get(t, 0)}->{after.get(t, 0)}" for t in sorted(set(before) | set(after))
                    if before.get(t) != after.get(t)]
            if diff:
                out.append(f"database {db.name} of {item.resource_id} written since (rows: {', '.join(diff)})")
    return out
