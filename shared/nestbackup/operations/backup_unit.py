"""Start one unit of a backup's cloud work (a snapshot, a snapshot group, an RDS backup) through its kind's action
(operations/kinds), idempotently: what the Start step does for each unit of its batch and the Poll step for a unit
still pending (a start deferred by a transient error, or refused for now)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .. import logs
from ..errors import CloudError
from ..model.status import ItemStatus
from ..ports.records import StaleWrite
from .artifacts import discard_started_after_close
from .kinds import kind_of
from .loading import save

if TYPE_CHECKING:
    from ..model.records import BackupItem, BackupRecord
    from ..ports import Ports
    from ..ports.records import StoredRecord


def start_unit(w: Ports, stored: StoredRecord, record: BackupRecord, unit: list[BackupItem]) -> None:
    first = unit[0]
    kind = kind_of(first)
    if kind is None:            # nothing to back up (Skipped): no step hands such an item over
        return
    w.take_retries()
    try:
        kind.start(w, stored, record, unit)
    except CloudError as err:
        if err.transient:
            # Not applied, or not known to be: the next poll round starts it again, idempotently.
            logs.event("backup start deferred", step="start", record_id=record.backup_id, resource_id=first.resource_id,
                       code=err.code, request_id=err.request_id)
            retried = w.take_retries()
            for item in unit:           # said on the timeline; the item stays as it was
                item.retried = f"deferred to the next round after {', '.join(retried[-3:] or [err.code])}"
            save(w, stored, record)
            return
        for item in unit:
            item.fail(err.code, err.message, err.request_id)
        logs.event("backup start failed", step="start", record_id=record.backup_id, resource_id=first.resource_id,
                   code=err.code, request_id=err.request_id)
    created = time.time()
    for item in unit:                   # when the cloud answered the create (T, with quiesce hooks, is the last)
        if item.status is ItemStatus.RUNNING and item.created_epoch is None:
            item.created_epoch = created
    retried = w.take_retries()
    for item in unit:
        if retried:
            item.retried = f"retried after {', '.join(retried[-3:])}" + (f" (+{len(retried) - 3} more)"
                                                                         if len(retried) > 3 else "")
    try:
        save(w, stored, record)
    except StaleWrite:
        if not discard_started_after_close(w, record.backup_id, unit):
            raise

