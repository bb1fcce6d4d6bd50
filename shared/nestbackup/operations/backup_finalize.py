"""The backup flow's finalize step: thaw the instances if quiesce hooks froze them and no step thawed them yet,
aggregate the items' outcomes, close the record (its cost, the closing's lock release and notifications) and let the
instance go. With the flow's Catch, every item not yet final fails with its cause first."""
from __future__ import annotations

import time

from .. import logs
from ..model.records import BackupItem, BackupMethod, ResourceType, iso_utc
from ..model.status import BACKUP_FINAL, CANCELLED, ITEM_FINAL, BackupStatus, ItemStatus
from ..ports import Ports
from ..ports.steps.finalize import FinalizeOutput
from .backup_copies import close_copies
from .closing import close_operation
from .costs import Meter, final_cost
from .kinds.rds_backup import delete_set_later
from .loading import read_backup, save


def finalize(w: Ports, backup_id: str, error: dict | None = None, now: float | None = None) -> dict:
    """Aggregate and close the record, release the lock. With `error` (the flow's Catch), every item not yet final
    fails with that cause."""
    now = time.time() if now is None else now
    meter = Meter(w)
    stored, record = read_backup(w, backup_id)
    if record.quiesce and not record.quiesce.thaw_done:
        _thaw(w, backup_id)
        stored, record = read_backup(w, backup_id)
    if record.status in BACKUP_FINAL:           # delivered again, or a late Catch: the record stands as it is
        close_operation(w, record.service_instance_id, backup_id, record.to_api())
        return FinalizeOutput(backup_id, str(record.status)).to_event()
    if error:
        code, detail = str(error.get("Code") or "FlowFailed"), str(error.get("Detail") or "the backup flow failed")
        for item in record.items:
            if item.status not in ITEM_FINAL:
                later = _hand_over_job(w, backup_id, item, now)
                said = f"{detail}; {later}" if later else detail
                if code == CANCELLED:
                    item.close(ItemStatus.CANCELLED, said)
                elif item.status is ItemStatus.PENDING and not item.starting:   # no cloud call was made for it
                    item.close(ItemStatus.NOT_STARTED, f"not started: {code}: {said}")
                else:
                    item.fail(code, said)
        close_copies(record, ItemStatus.CANCELLED if code == CANCELLED else ItemStatus.FAILED, detail)
        save(w, stored, record)
        record.status_detail = detail if code == CANCELLED else (record.status_detail or detail)
    status = record.refresh_status(iso_utc(now))
    if status is BackupStatus.CREATING:          # not final: nothing to close yet
        return FinalizeOutput(backup_id, str(status)).to_event()
    meter.charge(backup_id, FinalizeOutput.TRANSITIONS_AFTER_ERROR if error else FinalizeOutput.TRANSITIONS)
    if record.lock:                              # a schedule's lock: kept only on what was backed up, then applied
        from .locks import lock_at_finalize
        lock_at_finalize(w, record, now)
    database_bytes = sum(i.size_bytes or 0 for i in record.items if i.resource_type is ResourceType.RDS)
    record.cost = final_cost(w, backup_id, sum(i.size_bytes or 0 for i in record.items), database_bytes)
    save(w, stored, record)
    close_operation(w, record.service_instance_id, backup_id, record.to_api())
    logs.event("backup finished", step="finalize", record_id=backup_id, status=str(status))
    return FinalizeOutput(backup_id, str(status)).to_event()


def _thaw(w: Ports, backup_id: str) -> None:
    """Thaw before closing (a failed pre hook, a failed start, a cancel, a sweep): the post hook runs once the pre
    hook did. A cloud error leaves the thaw to the sweeper (`backup_hooks.resume_thaws`); the record closes anyway."""
    from ..errors import CloudError
    from .backup_hooks import thaw  # imported where a backup with hooks closes
    try:
        thaw(w, backup_id)
    except CloudError as err:
        logs.event("thaw deferred to the sweeper", step="finalize", record_id=backup_id, code=err.code)


def _hand_over_job(w: Ports, backup_id: str, item: BackupItem, now: float) -> str | None:
    """An RDS job still running as its backup closes failed: the set it makes would be no record's, so the timer
    deletes it when the job ends (what to say of it on the item)."""
    if item.method is BackupMethod.RDS_BACKUP and item.status is ItemStatus.RUNNING and item.job_id \
            and not item.artifact_id:
        return delete_set_later(w, backup_id, item, now)
    return None
