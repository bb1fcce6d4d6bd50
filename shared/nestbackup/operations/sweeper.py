"""The sweeper (timer): finish every operation whose flow is gone, never started or that ran past all its deadlines,
so no record stays Creating or Restoring and no lock is held for ever; run the post hook of a backup whose thaw no
step finished, so no instance stays frozen (`backup_hooks.resume_thaws`); give back what an opening that never wrote its
record claimed (`opening.abandon`); delete the RDS sets of cancelled backups whose jobs have ended since
(artifacts.delete_pending_sets); clean up and close the drills whose flow is gone (drill_steps.sweep_drills);
finish the deletes that stopped mid-way (artifacts.resume_deletes); and delete the
snapshots and groups carrying our owner tag that no record wants (`delete_unwanted_artifacts`), and the snapshots taken
at a restore's stop that no undo needs any more (`undo_snapshots.delete_unneeded`).

A sweep looks at the operations it can in `SWEEP_SECONDS` (well within the timer function's timeout), describing
their executions no faster than CloudFlow's DescribeExecution bucket refills, and starts where the last sweep
stopped (a cursor in the store): at 10,000 operations each sweep does what fits and the next goes on, so every
record is looked at in turn and none is left out for good."""
from __future__ import annotations

import time

from .. import logs
from ..errors import CloudError, NestBackupError
from ..model.ids import OWNER_TAG, is_backup_id
from ..model.records import record_time
from ..model.status import CANCELLED, BackupStatus, RestoreStatus
from ..ports import Ports
from ..ports.flows import generations
from ..ports.records import StaleWrite
from .artifacts import delete_pending_sets, resume_deletes
from .backup_finalize import finalize
from .backup_poll import poll
from .claims import ACTIVE, OPENING_SECONDS
from .locks import finish_cloud_locks
from .opening import abandon_indexed
from .undo_snapshots import delete_unneeded

SWEEP_GRACE_SECONDS = 300        # a record younger than this may still be starting its flow
ARTIFACT_GRACE_SECONDS = 900     # an artifact younger than this may still be on its way into its record
UNWANTED_PER_SWEEP = 50          # deletes per run: the timer comes back for the rest
# The operations a sweep looks at, it looks at within this: a third of the timer function's timeout (s.yaml: 900 s),
# leaving the rest for the deletes after them and the audit trail's pruning.
SWEEP_SECONDS = 300
# CloudFlow's DescribeExecution bucket: 50 tokens refilled at 5 a second per account (its limits page). The sweep
# spends at most 4 a second after its first DESCRIBE_BURST, leaving the rest to cancels and the API.
DESCRIBES_PER_SECOND = 4.0
DESCRIBE_BURST = 20
SWEEPER = "sweeper"              # documents: "cursor" -> {"After": the last record id the last sweep looked at}
CURSOR = "cursor"


def sweep(w: Ports, now: float | None = None) -> dict:
    """Finish every operation whose flow is gone or that is past all its deadlines."""
    now = time.time() if now is None else now
    s = w.settings
    finished, abandoned, alive = [], [], 0
    began = time.monotonic()
    pace = _Pace(began)
    entries = _from_cursor(w, w.documents.docs(ACTIVE))
    looked, left = None, 0
    for index, (record_id, doc, _) in enumerate(entries):
        if time.monotonic() - began > SWEEP_SECONDS:       # the next sweep goes on from here
            _save_cursor(w, looked)
            left = len(entries) - index
            logs.event("sweep stopped for time", step="sweep", looked_at=index, left=left)
            break
        looked = record_id
        kind = doc.get("Kind")
        try:
            stored = w.records.read(record_id)
            if stored is None:             # an opening that has not written its record (yet, or ever)
                if now - record_time(record_id) > OPENING_SECONDS:
                    abandon_indexed(w, record_id, doc)
                    abandoned.append(record_id)
                    logs.event("opening abandoned", step="sweep", record_id=record_id)
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
            pace.spend(len(executions) + 1)              # each generation, and the first that does not exist
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
                    poll(w, record_id, now=now, budgeted=False)      # what finished meanwhile counts
                except NestBackupError:
                    pass
                finalize(w, record_id, error=cause, now=now)
            else:
                from .restore import recover  # imported where used: most sweeps find no restore to close
                recover(w, record_id, error=cause, now=now)
            finished.append(record_id)
            logs.event("operation swept", step="sweep", record_id=record_id, cause=cause["Code"])
        except (NestBackupError, StaleWrite) as err:
            logs.event("sweep skipped", step="sweep", record_id=record_id, reason=str(err))
    else:
        _save_cursor(w, looked)
    from .drill_steps import sweep_drills  # a crashed drill's scratch resources are removed and it is closed
    from .objectives import drill_due, report_breaches
    drills = sweep_drills(w, now)
    scheduled, breached = drill_due(w, now), report_breaches(w, now)
    from .backup_hooks import resume_thaws  # every backup's close thaws; this finds the ones no close reached
    thawed = resume_thaws(w, now)
    sets = delete_pending_sets(w, now)
    resume_deletes(w, now)
    unwanted = delete_unwanted_artifacts(w, now)
    undo = delete_unneeded(w, now)            # the snapshots taken at a restore's stop, past its undo window
    locked = finish_cloud_locks(w, now)
    return {"CloudLocksFinished": locked, "Finished": finished, "Abandoned": abandoned, "Running": alive,
            "LeftForNextSweep": left,
            "CancelledSetsDeleted": sets["Deleted"], "CancelledSetsWaiting": sets["Waiting"],
            "UnwantedArtifactsDeleted": unwanted["Deleted"], "UndoSnapshotsDeleted": undo["Deleted"],
            "DrillsClosed": drills, "DrillsStarted": scheduled, "ObjectivesBreached": breached, "Thawed": thawed}


def _from_cursor(w: Ports, entries: list[tuple[str, dict, int]]) -> list[tuple[str, dict, int]]:
    """The index's entries from the first after the last one the previous sweep looked at, then from the start."""
    try:
        found = w.documents.get_doc(SWEEPER, CURSOR)
    except NestBackupError as err:            # from the start, this once
        logs.event("sweep cursor not read", step="sweep", reason=str(err))
        found = None
    after = str(found[0].get("After") or "") if found else ""
    split = next((i for i, (record_id, _, _) in enumerate(entries) if record_id > after), len(entries))
    return entries[split:] + entries[:split]


def _save_cursor(w: Ports, looked: str | None) -> None:
    """Where the next sweep starts: after the last entry this one looked at. Not written, the next starts earlier."""
    if looked is None:
        return
    try:
        w.documents.put_doc(SWEEPER, CURSOR, {"After": looked})
    except NestBackupError as err:
        logs.event("sweep cursor not written", step="sweep", reason=str(err))


class _Pace:
    """DescribeExecution calls kept within CloudFlow's bucket: a burst, then DESCRIBES_PER_SECOND (the sweep
    sleeps once it has spent more)."""

    def __init__(self, began: float) -> None:
        self.tokens, self.then = float(DESCRIBE_BURST), began

    def spend(self, calls: int) -> None:
        now = time.monotonic()
        self.tokens = min(float(DESCRIBE_BURST), self.tokens + (now - self.then) * DESCRIBES_PER_SECOND) - calls
        self.then = now
        if self.tokens < 0:
            time.sleep(-self.tokens / DESCRIBES_PER_SECOND)


def delete_unwanted_artifacts(w: Ports, now: float | None = None, limit: int = UNWANTED_PER_SWEEP) -> dict:
    """Delete the snapshot groups, then the snapshots, carrying our owner tag whose record no longer wants them: the
    record is gone, or final and cancelled or deleted, or final and does not list the artifact as its own (a create
    whose answer was lost). Never one of a live record (Creating, Deleting) or listed by a kept one, never one
    younger than ARTIFACT_GRACE_SECONDS (its create may still be recording it); at most `limit` per run. RDS sets
    cannot be tagged: a cancelled record keeps owning them (artifacts.PENDING_SETS)."""
    now = time.time() if now is None else now
    owners = _Owners(w)
    deleted: list[str] = []
    for group in (True, False):
        try:
            listed = w.ecs.groups_tagged(OWNER_TAG) if group else w.ecs.snapshots_tagged(OWNER_TAG)
        except CloudError as err:                # the next run lists again
            logs.event("unwanted artifacts not listed", step="sweep", code=err.code)
            continue
        for artifact, backup_id in listed:
            if len(deleted) >= limit:
                return {"Deleted": deleted}
            try:
                if not owners.unwanted(backup_id, artifact):
                    continue
                found = (w.ecs.describe_snapshot_groups([artifact]) if group
                         else w.ecs.describe_snapshots([artifact])).get(artifact)
                if found is None or found.created_epoch is None or now - found.created_epoch < ARTIFACT_GRACE_SECONDS:
                    continue                     # gone already (with its group), or young
                if group:
                    w.ecs.delete_snapshot_group(artifact)
                else:
                    w.ecs.delete_snapshot(artifact)
                deleted.append(artifact)
                logs.event("unwanted artifact deleted", step="sweep", record_id=backup_id, artifact=artifact)
            except CloudError as err:            # the next run asks again
                logs.event("unwanted artifact not deleted", step="sweep", record_id=backup_id, artifact=artifact,
                           code=err.code)
    return {"Deleted": deleted}


class _Owners:
    """What each backup record named by an owner tag wants kept, read once per run."""

    def __init__(self, w: Ports) -> None:
        self.w = w
        self.keeps: dict[str, set[str] | None] = {}     # backup id -> its artifacts; None: it keeps every one

    def unwanted(self, backup_id: str, artifact: str) -> bool:
        if backup_id not in self.keeps:
            self.keeps[backup_id] = self._kept(backup_id)
        kept = self.keeps[backup_id]
        return kept is not None and artifact not in kept

    def _kept(self, backup_id: str) -> set[str] | None:
        stored = self.w.records.read(backup_id) if is_backup_id(backup_id) else None
        if stored is None or stored.header.get("Kind") != "backup":
            return set()                                 # its record is gone
        status = stored.header.get("Status")
        if status in (BackupStatus.CREATING, BackupStatus.DELETING):
            return None                                  # live: its steps may still record or delete them
        items = list(stored.items.values())
        # a cancelled backup keeps nothing (schema 1 said so by its items' code, docs/statuses.md)
        if status in (BackupStatus.DELETED, BackupStatus.CANCELLED) or any(i.get("error_code") == CANCELLED
                                                                           for i in items):
            return set()
        kept = {x for i in items for x in (i.get("artifact_id"), i.get("group_id"), i.get("job_id")) if x}
        groups = sorted({i["group_id"] for i in items if i.get("group_id")})
        if groups:                                       # a kept group's members are kept with it
            kept |= {m.snapshot_id for g in self.w.ecs.describe_snapshot_groups(groups).values()
                     for m in g.snapshots}
        return kept

