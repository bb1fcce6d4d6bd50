"""The sweeper (timer): finish every operation whose flow is gone, never started or that ran past all its deadlines,
so no record stays Creating or Restoring and no lock is held for ever; give back what an opening that never wrote its
record claimed (`opening.abandon`); and delete the RDS sets of cancelled backups whose jobs
have ended since (artifacts.delete_pending_sets); finish the deletes that stopped mid-way (artifacts.resume_deletes)."""
from __future__ import annotations

import logging
import time

from ..errors import NestBackupError
from ..model.records import record_time
from ..model.status import BackupStatus, RestoreStatus
from ..ports import Ports
from ..ports.flows import generations
from ..ports.records import StaleWrite
from .artifacts import delete_pending_sets, resume_deletes
from .backup_poll import finalize, poll
from .claims import OPENING_SECONDS
from .closing import ACTIVE
from .opening import abandon_indexed
from .restore import recover

log = logging.getLogger("nestbackup.schedules")
SWEEP_GRACE_SECONDS = 300        # a record younger than this may still be starting its flow


def _log(event: str, **fields) -> None:
    log.info(event, extra={"fields": fields})


def sweep(w: Ports, now: float | None = None) -> dict:
    """Finish every operation whose flow is gone or that is past all its deadlines."""
    now = time.time() if now is None else now
    s = w.settings
    finished, abandoned, alive = [], [], 0
    for record_id, doc, _ in w.documents.docs(ACTIVE):
        kind = doc.get("Kind")
        try:
            stored = w.records.read(record_id)
            if stored is None:             # an opening that has not written its record (yet, or ever)
                if now - record_time(record_id) > OPENING_SECONDS:
                    abandon_indexed(w, record_id, doc)
                    abandoned.append(record_id)
                    _log("opening abandoned", step="sweep", record_id=record_id)
                else:
                    alive += 1
                continue
            if stored.header.get("Status") not in (BackupStatus.CREATING, RestoreStatus.RESTORING):
                w.documents.delete_doc(ACTIVE, record_id)        # final already: drop the index entry
                continue
            age = now - float(doc.get("StartedEpoch") or now)
            if age < SWEEP_GRACE_SECONDS:
                alive += 1
                continue
            flow = s.backup_flow if kind == "backup" else s.restore_flow
            limit = max(s.disk_deadline_seconds, s.rds_deadline_seconds, s.restore_deadline_seconds) + 3600
            executions = list(generations(w.flows, flow, record_id))
            if any(e.running for e in executions) and age < limit:
                alive += 1
                continue
            if not executions:
                cause = {"Code": "FlowNeverStarted", "Detail": "the workflow never started (its opening failed)"}
            elif age < limit:
                cause = {"Code": "FlowEnded", "Detail": "the workflow ended without closing the record"}
            else:
                cause = {"Code": "Overdue", "Detail": f"the operation ran past every deadline ({int(age)} s)"}
            if kind == "backup":
                try:
                    poll(w, record_id, now=now)      # what finished meanwhile counts
                except NestBackupError:
                    pass
                finalize(w, record_id, error=cause, now=now)
            else:
                recover(w, record_id, error=cause, now=now)
            finished.append(record_id)
            _log("operation swept", step="sweep", record_id=record_id, cause=cause["Code"])
        except (NestBackupError, StaleWrite) as err:
            _log("sweep skipped", step="sweep", record_id=record_id, reason=str(err))
    sets = delete_pending_sets(w, now)
    resume_deletes(w, now)
    return {"Finished": finished, "Abandoned": abandoned, "Running": alive, "CancelledSetsDeleted": sets["Deleted"],
            "CancelledSetsWaiting": sets["Waiting"]}
