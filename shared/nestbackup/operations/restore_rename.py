"""The db-rename function (the restore's RenamingDatabases phase): move every live database aside and its restored
copy into its name, never dropping data; a database that cannot be swapped is rolled back, and then the swaps already
done are undone too (all or nothing)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .. import logs
from ..errors import CloudError, NestBackupError, ValidationError
from ..model.records import ResourceType
from ..model.status import DatabaseState, ItemStatus, RestorePhase
from ..ports.steps.rename import RenameOutput
from .costs import Meter
from .loading import read_restore, save
from .restore_data import failed_databases

if TYPE_CHECKING:
    from ..model.restores import RestoreRecord
    from ..ports import Ports


def rename(w: Ports, restore_id: str, now: float | None = None) -> dict:
    """Move every live database aside and its restored copy into its name. Safe to run again after a crash at any
    point: rename_back finds where it stopped. A database it cannot swap is rolled back to the pre-restore names."""
    now = time.time() if now is None else now
    meter = Meter(w)
    stored, record = read_restore(w, restore_id)
    if record.phase is not RestorePhase.RENAMING_DATABASES:
        return RenameOutput(restore_id, str(record.phase)).to_event()
    for item in record.items:
        if item.resource_type is not ResourceType.RDS or item.status is not ItemStatus.RUNNING:
            continue
        try:
            databases = w.database(item.resource_id, item.engine or "")
        except (ValidationError, CloudError) as err:
            item.fail("NoDatabaseAccount", f"{err}; the restored databases are kept under their restore names")
            continue
        for db in item.databases:
            if db.state != DatabaseState.RESTORED:
                continue
            try:
                db.aside_kept = databases.rename_back(db.name, db.restored, db.aside)
                db.state = DatabaseState.RENAMED
                logs.event("database renamed", step="rename", record_id=restore_id, resource_id=item.resource_id,
                           database=db.name, aside=db.aside if db.aside_kept else None)
            except NestBackupError as err:
                try:
                    databases.roll_back(db.name, db.restored, db.aside)
                    db.state = DatabaseState.ROLLED_BACK
                except NestBackupError:
                    db.state = DatabaseState.FAILED
                aside = f" (or {db.aside!r})" if db.state == DatabaseState.FAILED else ""
                item.fail("RenameFailed", f"{db.name}: {err}; the live data is under {db.name!r}{aside}, the restored "
                          f"copy under {db.restored!r}")
        if item.status is ItemStatus.RUNNING:
            renamed = all(db.state == DatabaseState.RENAMED for db in item.databases)
            if renamed:
                item.status, item.progress = ItemStatus.SUCCEEDED, 100
            else:
                item.fail("RestoreIncomplete", "not every database was restored and renamed")
    _undo_swaps_if_any_failed(w, record)
    record.note_failure(RestorePhase.RENAMING_DATABASES)
    record.enter(RestorePhase.STARTING_INSTANCE, now)
    save(w, stored, record)
    meter.charge(restore_id, RenameOutput.TRANSITIONS)
    return RenameOutput(restore_id, str(record.phase)).to_event()


def _undo_swaps_if_any_failed(w: Ports, record: RestoreRecord) -> None:
    """All or nothing: when a database of the restore could not be swapped, the swaps already done are undone (the
    live data back under its name, the restored copy back under its restore name)."""
    failed = failed_databases(record)
    if not failed:
        return
    for item in record.items:
        done = [db for db in item.databases if db.state == DatabaseState.RENAMED]
        if item.resource_type is not ResourceType.RDS or not done:
            continue
        databases = w.database(item.resource_id, item.engine or "")
        undone, kept = [], []
        for db in done:
            if not db.aside_kept:       # there was no live database to put back: the restored one stays
                kept.append(db.name)
                continue
            try:
                databases.rename_back(db.name, db.aside, db.restored)
                db.state, db.aside_kept = DatabaseState.ROLLED_BACK, False
                undone.append(db.name)
            except NestBackupError as err:
                kept.append(f"{db.name} ({err})")
        said = f"the restore of {'; '.join(failed)} failed, so this instance's swap was undone"
        if undone:
            said += (f": {', '.join(undone)} hold their live data again, the restored copies are under their restore "
                     f"names")
        if kept:
            said += f"; left restored: {', '.join(kept)}"
        if item.status is ItemStatus.FAILED:       # its own failure stays first; the undo is said after it
            item.error_message = f"{item.error_message}; {said}"
        else:
            item.close(ItemStatus.ROLLED_BACK, said)
