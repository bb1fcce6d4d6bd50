"""The sweeper (timer): finish every operation whose flow is gone or that ran past all its deadlines, so no record
stays Creating or Restoring and no lock is held for ever; and delete the RDS sets of cancelled backups whose jobs
have ended since (artifacts.delete_pending_sets)."""
from __future__ import annotations

import time

from .. import logs
from ..errors import NestBackupError
from ..model.status import BackupStatus, RestoreStatus
from ..ports import Ports
from ..ports.flows import generations
from ..ports.records import StaleWrite
from .artifacts import delete_pending_sets
from .backup_poll import finalize, poll
from .closing import ACTIVE
from .restore import recover

SWEEP_GRACE_SECONDS = 300        # a record younger than this may still be starting its flow


def sweep(w: Ports, now: float | None = None) -> dict:
    """Finish every operation whose flow is gone or that is past all its deadlines."""
    now = time.time() if now is None else now
    s = w.settings
    finished, alive = [], 0
    for record_id, doc, _ in w.records.docs(ACTIVE):
        kind = doc.get("Kind")
        try:
            stored = w.records.read(record_id)
            if stored is None or stored.header.get("Status") not in (BackupStatus.CREATING, RestoreStatus.RESTORING):
                w.records.delete_doc(ACTIVE, record_id)        # final already: drop the index entry
                continue
            age = now - float(doc.get("StartedEpoch") or now)
            if age < SWEEP_GRACE_SECONDS:
                alive += 1
                continue
            flow = s.backup_flow if kind == "backup" else s.restore_flow
            limit = max(s.disk_deadline_seconds, s.rds_deadline_seconds, s.restore_deadline_seconds) + 3600
            if _flow_alive(w, flow, record_id) and age < limit:
                alive += 1
                continue
            cause = {"Code": "FlowEnded" if age < limit else "Overdue",
                     "Detail": "the workflow ended without closing the record" if age < limit
                     else f"the operation ran past every deadline ({int(age)} s)"}
            if kind == "backup":
                try:
                    poll(w, record_id, now=now)      # what finished meanwhile counts
                except NestBackupError:
                    pass
                finalize(w, record_id, error=cause, now=now)
            else:
                recover(w, record_id, error=cause, now=now)
            finished.append(record_id)
            logs.event("operation swept", step="sweep", record_id=record_id, cause=cause["Code"])
        except (NestBackupError, StaleWrite) as err:
            logs.event("sweep skipped", step="sweep", record_id=record_id, reason=str(err))
    sets = delete_pending_sets(w, now)
    return {"Finished": finished, "Running": alive, "CancelledSetsDeleted": sets["Deleted"],
            "CancelledSetsWaiting": sets["Waiting"]}


def _flow_alive(w: Ports, flow: str, record_id: str) -> bool:
    """Is an execution of this record (or of one of its continuations) still running?"""
    return any(execution.running for execution in generations(w.flows, flow, record_id))
