"""An RDS instance backed up by one full RDS backup (CreateBackup), and restored database by database under new
names beside the live ones while the service runs (RestoreTable; RecoveryDBInstance for SQL Server).

CreateBackup takes no ClientToken: the start marks its intent first and after a crash adopts only the manual job or
set it started: one first seen after the intent. Sets are found by their start time, to the minute, so another
record's set of the same minute (a restore's safety backup right after the backup it restores) looks like ours; the
intent lists the manual sets there were then (`sets_before`) and those, like the jobs running then (`jobs_before`),
are never adopted: two records must never own one set (deleting either would delete the other's). What a finished
set says (expiry, size, whether RestoreTable can use it) is recorded once it is done."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ... import logs
from ...decisions.backup import CloudProgress, client_token
from ...errors import CloudError, ValidationError
from ...model.engines import Engine, RestoreMethod, engine_of
from ...model.records import BackupItem, ResourceType
from ...model.status import DatabaseState, ItemStatus, backup_job_item_status, rds_instance_running
from ..loading import save
from .action import NOT_FOUND_CODES, CancelCleanup, refused_for_good

if TYPE_CHECKING:
    from ...model.records import BackupRecord
    from ...model.restores import RestoreItem, RestoreRecord
    from ...ports import Ports
    from ...ports.databases import Database
    from ...ports.records import StoredRecord
    from ...settings import Settings
    from ..discovery import Discovered


# Our own code for a set DeleteBackup would refuse (StoreStatus not Enabled): not asked, recorded once as refused.
KEPT_BY_RDS = "BackupSetNotDeletable"


class RdsBackup:
    restores_beside_live = True
    delete_may_be_refused = True    # StoreStatus Disabled: Basic edition, or younger than the deletable age

    def deadline_seconds(self, settings: Settings) -> int:
        return settings.rds_deadline_seconds

    # -- backup
    def start(self, w: Ports, stored: StoredRecord, record: BackupRecord, unit: list[BackupItem]) -> None:
        """CreateBackup has no ClientToken: mark the intent first, and after a crash adopt the job it started. Only
        a manual task that was not already running at the intent, or a manual set that did not exist then, can be
        ours: automatic tasks (the instance's backup policy) and tasks and sets made by others before are never
        adopted."""
        item = unit[0]
        if not item.databases:
            _capture_databases(w, item)
        if item.starting:
            job_id, backup_set = _started_by_intent(w, item)
            if job_id:
                item.status, item.job_id, item.wait_reason = ItemStatus.RUNNING, job_id, None
                item.starting = False
                return
            if backup_set:               # the job it started has already ended: adopt its backup set
                item.status, item.artifact_id, item.progress = ItemStatus.SUCCEEDED, backup_set, 100
                item.wait_reason, item.starting = None, False
                record_backup_set(w, item)
                return
        else:
            item.jobs_before = [j.job_id for j in w.rds.running_backup_jobs(item.resource_id)]
            item.starting, item.started_at = True, time.time()
            item.sets_before = w.rds.manual_backups_since(item.resource_id, item.started_at)
            save(w, stored, record)
        retention = w.settings.rds_backup_retention_days if _engine(item).takes_backup_retention else None
        try:
            item.job_id = w.rds.create_backup(item.resource_id, retention)
            item.starting = False
        except CloudError as err:
            if not w.rds.backup_must_wait(err):
                raise
            # Refused before it was applied (another backup task runs, e.g. an automatic one; the instance is not
            # Running): nothing to adopt. The next poll rounds ask again until the RDS deadline.
            item.starting, item.started_at, item.jobs_before = False, None, []
            item.wait_reason = f"{err.code}: {err.message}"
            save(w, stored, record)
            logs.event("rds backup waits", step="start", resource_id=item.resource_id, code=err.code,
                       request_id=err.request_id)
            return
        item.status, item.wait_reason = ItemStatus.RUNNING, None

    def describe_calls(self, running: list[BackupItem]) -> dict[str, int]:
        return {"rds:DescribeBackupTasks": len(running)}        # one job a call

    def describe_batch(self, w: Ports, running: list[BackupItem]) -> dict[str, CloudProgress]:
        return {item.resource_id: _job_progress(w, item) for item in running}

    def settle(self, w: Ports, item: BackupItem) -> None:
        """Row counts again (with those from before, the window the set was taken in), and the set's facts."""
        capture_counts_after(w, item)
        if item.artifact_id:
            record_backup_set(w, item)

    def facts_pending(self, w: Ports, item: BackupItem) -> bool:
        """A new set shows in DescribeBackups late: its facts (expiry, size, restorability) are read once it does."""
        if item.status is not ItemStatus.SUCCEEDED or not item.artifact_id or item.restorable is not None:
            return False
        record_backup_set(w, item)
        return item.restorable is None

    def delete(self, w: Ports, item: BackupItem, groups_done: set[str], backup_set: str | None = None) -> None:
        """DeleteBackup only where RDS takes it: a set listed with StoreStatus other than Enabled (SQL Server,
        Basic edition, younger than the deletable age; DeleteBackup API reference) is never asked for; the refusal
        is ours, saying when RDS deletes the set itself. A set not listed (gone, or not listed yet) is asked for."""
        set_id = backup_set or item.artifact_id
        if not set_id:
            return
        found = w.rds.backup_set(item.resource_id, set_id)
        if found is not None and not found.deletable:
            until = f"until it expires at {found.expires_at}" if found.expires_at else "for good (it never expires)"
            raise CloudError(KEPT_BY_RDS, f"RDS does not delete backup set {set_id} now (StoreStatus "
                                          f"{found.store_status or 'not Enabled'}); it keeps it {until}",
                             action="DeleteBackup", http_status=409)
        w.rds.delete_backup(item.resource_id, set_id)

    def cancel(self, w: Ports, stored: StoredRecord, record: BackupRecord, item: BackupItem,
               cleanup: CancelCleanup) -> None:
        """A job cannot be stopped: its set is deleted once the job ends, waited for until the cleanup's deadline,
        after which the timer deletes it when the job ends. An item that only marked its intent (CreateBackup's
        answer lost) adopts the job it started first, as its next start would."""
        if item.starting and not item.job_id and not item.artifact_id:
            item.job_id, item.artifact_id = _started_by_intent(w, item)
        if not item.job_id and not item.artifact_id:
            return
        rid = item.resource_id
        try:
            backup_set = item.artifact_id or wait_for_backup_set(
                w, rid, item.job_id or "", max(0.0, cleanup.rds_deadline - time.monotonic()))
        except CloudError as err:     # the job could not be read: the timer asks again, the set stays owned
            cleanup.later[rid] = delete_set_later(w, record.backup_id, item)
            cleanup.said[rid] = f"its RDS backup job could not be read ({err.code}): the set is deleted when it ends"
            return
        if backup_set:
            try:
                self.delete(w, item, cleanup.groups, backup_set)
                cleanup.said[rid] = f"its backup set {backup_set} was deleted"
            except CloudError as err:
                if err.code in NOT_FOUND_CODES:
                    cleanup.said[rid] = f"its backup set {backup_set} was deleted"
                elif not refused_for_good(err):
                    # throttled or busy: the set stays owned by the record, and the timer deletes it
                    cleanup.later[rid] = delete_set_later(w, record.backup_id, item)
                    cleanup.said[rid] = f"deleting its backup set {backup_set} met {err.code}: the timer deletes it"
                else:
                    # recorded once; a later delete (retention) does not ask again, the set expires
                    item.artifact_id, item.delete_refused = backup_set, f"{err.code}: {err.message}"
                    save(w, stored, record)
                    cleanup.leftovers.append(f"{backup_set}: {err.code} (RDS refuses to delete it; it expires)")
                    cleanup.said[rid] = (f"RDS refuses to delete its backup set {backup_set}, which stays (owned by "
                                         f"this backup) until it expires")
        else:
            cleanup.later[rid] = delete_set_later(w, record.backup_id, item)
            cleanup.said[rid] = "its RDS backup job had not ended: the set is deleted when it ends"

    def discard(self, w: Ports, backup_id: str, item: BackupItem, groups_done: set[str]) -> str | None:
        """The set, if the job has already ended; else the timer deletes it when it ends."""
        backup_set = None
        if not item.artifact_id:
            backup_set = wait_for_backup_set(w, item.resource_id, item.job_id or "", 0)
            if backup_set is None:
                return delete_set_later(w, backup_id, item)
        self.delete(w, item, groups_done, backup_set)
        return None

    # -- restore
    def check_restorable(self, w: Ports, items: list[BackupItem]) -> list[str]:
        """The set must still exist, have succeeded, and for MySQL have MetaStatus OK (RestoreTable needs the
        database/table metadata)."""
        problems = []
        for item in items:
            backup_set = w.rds.backup_set(item.resource_id, item.artifact_id or "")
            if backup_set is None:
                problems.append(f"RDS backup set {item.artifact_id} of {item.resource_id} no longer exists")
            elif not backup_set.succeeded:
                problems.append(f"RDS backup set {item.artifact_id} of {item.resource_id} is {backup_set.status}")
            elif _engine(item).meta_status_gates_restore and item.databases and not backup_set.table_restorable:
                problems.append(f"RDS backup set {item.artifact_id} of {item.resource_id} has MetaStatus "
                                f"{backup_set.meta_status!r}: database/table restore needs OK (enable it in the "
                                f"backup policy and take a new backup)")
        return problems

    def still_owned(self, item: RestoreItem, found: Discovered) -> bool:
        return any(d.db_instance_id == item.resource_id for d in found.databases)

    def restore(self, w: Ports, record: RestoreRecord, item: RestoreItem, now: float) -> None:
        """The instance's databases under their new names, beside the live ones."""
        if not item.databases:
            item.status, item.verification = ItemStatus.SUCCEEDED, "the backup held no databases"
            return
        item.restore_started_epoch = item.restore_started_epoch or now
        # a point-in-time restore, or a hooked backup's database going to its moment, names its second (RestoreTime)
        # instead of a set (source_artifact_id "")
        second = item.restore_time or record.restore_time
        if _engine(item).restore_method is RestoreMethod.RECOVERY_DB_INSTANCE:
            _recover_databases(w, item, second)
        else:
            # imported here: a backup's steps never load the restore decisions
            from ...decisions.restore import table_meta

            w.rds.restore_table(item.resource_id, item.source_artifact_id,
                                table_meta(item, w.rds.whole_database_table_meta or bool(second)),
                                client_token(record.restore_id, item.resource_id), second)
        item.status = ItemStatus.RUNNING
        for db in item.databases:
            db.state = DatabaseState.RESTORING

    def restore_waits(self, w: Ports, err: CloudError) -> bool:
        return w.rds.restore_waits(err)

    def follow(self, w: Ports, record: RestoreRecord, running: list[RestoreItem], now: float) -> None:
        late = now - record.phase_started_epoch > w.settings.restore_deadline_seconds
        for item in running:
            try:
                if _engine(item).restore_method is RestoreMethod.RECOVERY_DB_INSTANCE:
                    _follow_recovery(w, item)
                else:
                    _follow_restore_table(w, item)
            except CloudError as err:
                if not w.rds.restore_waits(err):
                    raise
                logs.event("restore poll deferred", step="restore", record_id=record.restore_id,
                           resource_id=item.resource_id, code=err.code, request_id=err.request_id)
            if item.status is not ItemStatus.RUNNING:
                continue
            if late:
                for db in item.databases:
                    if db.state == DatabaseState.RESTORING:
                        db.state = DatabaseState.FAILED
            done = [db for db in item.databases if db.state in (DatabaseState.RESTORED, DatabaseState.FAILED)]
            item.progress = int(50 * len(done) / len(item.databases))
            failed = [db.name for db in item.databases if db.state == DatabaseState.FAILED]
            if failed and len(done) == len(item.databases):
                action = str(_engine(item).restore_method)
                item.fail(f"{action}Failed", f"{action} did not bring back {', '.join(failed)} in time; "
                                             f"the live databases were not touched")


def _engine(item: BackupItem | RestoreItem) -> Engine:
    """What the item's engine decides (the plan backs up only engines of the table)."""
    return engine_of(item.engine or "")


# -- backup: following the job. DescribeBackupTasks lists unfinished tasks; a finished one is answered by its
# BackupJobId for a while and then no longer, and its set shows in DescribeBackups late (docs/cloud-fidelity.md).
def _job_progress(w: Ports, item: BackupItem) -> CloudProgress:
    """What the job (or, once it is no longer listed, its set) says. A job that ended Finished is a success even
    while its set is not listed yet; a job gone before it was seen to end is judged by the set it made, found as
    an adoption after a crash finds it, and waited for (the item stays running) until that set shows."""
    job = w.rds.backup_job(item.resource_id, item.job_id or "")
    if job is not None and not job.finished:
        status = backup_job_item_status(job.status)
        failed = status is ItemStatus.FAILED
        return CloudProgress(status, job.progress, job.backup_id, "BackupJobFailed" if failed else None,
                             f"RDS backup job {job.job_id} ended {job.status}" if failed else None)
    set_id = (job.backup_id if job is not None else None) or item.artifact_id or _set_made_since_intent(w, item)
    if not set_id:          # not listed any more, its set not yet: the set is waited for
        return CloudProgress(ItemStatus.RUNNING, item.progress)
    found = w.rds.backup_set(item.resource_id, set_id)
    if found is not None and not found.succeeded:
        return CloudProgress(ItemStatus.FAILED, item.progress, set_id, "BackupJobFailed",
                             f"the backup set {set_id} of RDS backup job {item.job_id} is {found.status}")
    if found is None and job is None and not item.artifact_id:
        return CloudProgress(ItemStatus.RUNNING, item.progress)
    return CloudProgress(ItemStatus.SUCCEEDED, 100, set_id, size_bytes=found.size_bytes if found else None)


def _set_made_since_intent(w: Ports, item: BackupItem) -> str | None:
    """The manual set made after the item's intent that no job running then made and that was not listed then: the
    oldest such (one backup task at a time per instance, so a later one is another's)."""
    others = set(item.sets_before) | _sets_of_jobs(w, item.resource_id, item.jobs_before)
    made = [s for s in w.rds.manual_backups_since(item.resource_id, item.started_at or time.time() - 3600)
            if s not in others]
    return made[-1] if made else None


# -- backup: what the restore needs to know, and what the finished set says
def _capture_databases(w: Ports, item: BackupItem) -> None:
    """What the restore needs to know: the databases of the instance, and their row counts to verify against."""
    item.databases = [d.name for d in w.rds.databases(item.resource_id) if d.running or not d.status]
    try:
        databases = w.database(item.resource_id, item.engine or "")
        item.row_counts = {db: databases.row_counts(db) for db in item.databases}
    except (ValidationError, CloudError) as err:     # no account configured, or no connection: verify by presence
        logs.event("row counts skipped", step="start", resource_id=item.resource_id, reason=str(err))


def capture_counts_after(w: Ports, item: BackupItem) -> None:
    """Row counts again once the set is done: with those from before, the window the set was taken in."""
    if not item.row_counts:
        return
    try:
        databases = w.database(item.resource_id, item.engine or "")
        item.row_counts_after = {db: databases.row_counts(db) for db in item.row_counts}
    except Exception as err:  # noqa: BLE001 - best effort: without them the window is the count from before
        logs.event("row counts after the backup skipped", step="poll", resource_id=item.resource_id, reason=str(err))


def record_backup_set(w: Ports, item: BackupItem) -> None:
    """What the finished set's entry says: when the cloud deletes it (ExpectExpireTime), and for MySQL whether
    RestoreTable can use it (MetaStatus OK; "" means taken without database/table restore, LARGE too many
    tables). Unknown facts stay None rather than failing a finished backup."""
    try:
        found = w.rds.backup_set(item.resource_id, item.artifact_id or "")
    except CloudError as err:
        logs.event("backup set facts unknown", step="poll", resource_id=item.resource_id, code=err.code)
        return
    if found is None:
        return
    item.expires_at = found.expires_at
    item.size_bytes = found.size_bytes
    if _engine(item).meta_status_gates_restore and not found.table_restorable:
        item.restorable = False
        item.restorable_reason = (f"MetaStatus {found.meta_status!r}: the backup set was taken without database "
                                  f"and table restore enabled (or holds too many tables), so RestoreTable "
                                  f"cannot restore from it")
    else:
        item.restorable, item.restorable_reason = True, None


# -- deleting a set whose job has not ended
def _started_by_intent(w: Ports, item: BackupItem) -> tuple[str | None, str | None]:
    """What a CreateBackup sent after the item's intent started: its job while it runs, else the set it made. Only a
    manual task that was not already running at the intent can be ours, and only a manual set that was neither listed
    at the intent (`sets_before`) nor made by a job running then: sets are found by time (to the minute), and another
    record's set of the same minute must never be adopted (two records owning one set, deleting either deletes it)."""
    running = [j for j in w.rds.running_backup_jobs(item.resource_id)
               if j.manual and j.job_id not in item.jobs_before]
    if running:
        return running[0].job_id, None
    others = set(item.sets_before) | _sets_of_jobs(w, item.resource_id, item.jobs_before)
    finished = [s for s in w.rds.manual_backups_since(item.resource_id, item.started_at or time.time() - 3600)
                if s not in others]
    return None, finished[0] if finished else None


def wait_for_backup_set(w: Ports, db_instance_id: str, job_id: str, seconds: float) -> str | None:
    """The backup set an RDS backup job makes, once the job ends: asked at once, then each second for `seconds`
    (None if the job fails, is gone, or is still running then)."""
    deadline = time.monotonic() + seconds
    while True:
        job = w.rds.backup_job(db_instance_id, job_id)
        if job is None or job.failed:
            return None
        if job.finished:
            return job.backup_id
        if time.monotonic() >= deadline:
            return None
        time.sleep(1)


# RDS backup jobs of cancelled backups, still running when the cancel was over: the timer deletes their sets once
# they end (`artifacts.delete_pending_sets`), and forgets a job still running after PENDING_SET_SECONDS.
PENDING_SETS = "rds-sets-to-delete"
PENDING_SET_SECONDS = 2 * 86400


def delete_set_later(w: Ports, backup_id: str, item: BackupItem, now: float | None = None) -> str:
    """Hand an unfinished job's set to the timer, with what finds the set once the job is no longer listed (the
    item's intent: when, and the sets and jobs there were then); answers what to say of it on the record."""
    job_id = item.job_id or ""
    w.documents.put_doc(PENDING_SETS, f"{backup_id}#{item.resource_id}#{job_id}", {
        "BackupId": backup_id, "DBInstanceId": item.resource_id, "JobId": job_id,
        "SinceEpoch": time.time() if now is None else now, "StartedAt": item.started_at,
        "SetsBefore": list(item.sets_before), "JobsBefore": list(item.jobs_before)})
    return f"RDS backup job {job_id} of {item.resource_id} had not ended: its set is deleted when the job ends"


def pending_set(w: Ports, doc: dict) -> tuple[bool, str | None]:
    """A handed-over job's (still running?, its set): by the job while it is listed, else (the job dropped out of
    DescribeBackupTasks) the set made since the intent, as the backup itself finds it."""
    job = w.rds.backup_job(doc["DBInstanceId"], doc["JobId"])
    if job is not None:
        running = not job.failed and not job.finished
        return running, job.backup_id if job.finished else None
    if not doc.get("StartedAt"):
        return False, None
    lost = BackupItem(doc["DBInstanceId"], ResourceType.RDS, job_id=doc["JobId"], started_at=float(doc["StartedAt"]),
                      sets_before=list(doc.get("SetsBefore") or []), jobs_before=list(doc.get("JobsBefore") or []))
    found = _set_made_since_intent(w, lost)
    return found is None, found


# -- restore: following RecoveryDBInstance and RestoreTable
def _recover_databases(w: Ports, item: RestoreItem, restore_time: str | None = None) -> None:
    """RecoveryDBInstance takes no ClientToken: if a restored database is already there, an earlier call (whose
    answer was lost) started the restore, and asking again would be refused for the duplicate names."""
    present = {d.name.lower() for d in w.rds.databases(item.resource_id)}
    if not any(db.restored.lower() in present for db in item.databases):
        w.rds.recover_databases(item.resource_id, item.source_artifact_id,
                                {db.name: db.restored for db in item.databases}, restore_time)


def _listed(w: Ports, item: RestoreItem) -> dict[str, Database]:
    """Each restored name the instance lists (absent: not listed)."""
    out = {}
    for db in item.databases:
        for found in w.rds.databases(item.resource_id, db.restored):
            if found.name == db.restored:
                out[db.restored] = found
    return out


def _running(listed: dict[str, Database], name: str) -> bool:
    return name in listed and listed[name].running


def _follow_recovery(w: Ports, item: RestoreItem) -> None:
    """RecoveryDBInstance (SQL Server): a database is back when it is listed Running."""
    listed = _listed(w, item)
    for db in item.databases:
        if db.state == DatabaseState.RESTORING and _running(listed, db.restored):
            db.state = DatabaseState.RESTORED


def _follow_restore_table(w: Ports, item: RestoreItem) -> None:
    """RestoreTable creates the new databases (and they are listed) before it has filled them, so a listed database
    is not a restored one. The restore is over when the instance is Running again (it shows TempDBInstanceCreating
    meanwhile) and no restore task of the instance is unfinished; then each database listed Running is restored. A
    failed task fails the item with the cloud's cause; a task that ended without the databases fails it too."""
    running = rds_instance_running(w.rds.instance_status(item.resource_id))
    try:
        tasks = w.rds.restore_tasks(item.resource_id, item.restore_started_epoch or time.time())
    except CloudError as err:
        if w.rds.restore_waits(err):
            raise
        tasks = []              # no task centre (e.g. not permitted): judge by instance and databases alone
        logs.event("restore tasks unavailable", step="restore", resource_id=item.resource_id, code=err.code)
    listed = _listed(w, item)
    unfinished = [t for t in tasks if t.unfinished]
    if not running or unfinished or listed:
        item.cloud_task_seen = True
    if not running or unfinished:
        return
    missing = [db for db in item.databases
               if db.state == DatabaseState.RESTORING and not _running(listed, db.restored)]
    failed = [t for t in tasks if t.failed]
    if missing and (failed or item.cloud_task_seen):
        if failed:
            cause = f"{failed[0].reason_code or failed[0].status}: {failed[0].detail}".strip(": ")
            why = f"the RestoreTable task {failed[0].task_id} ended {failed[0].status} ({cause})"
        else:
            why = f"the restore ended without {', '.join(db.restored for db in missing)}"
        for db in missing:
            db.state = DatabaseState.FAILED
        item.fail("RestoreTableFailed", f"{why}; the live databases were not touched")
        return
    for db in item.databases:
        if db.state == DatabaseState.RESTORING and _running(listed, db.restored):
            db.state = DatabaseState.RESTORED


def _sets_of_jobs(w: Ports, db_instance_id: str, job_ids: list[str]) -> set[str]:
    """The sets the jobs running at an intent made (another's, never adopted)."""
    sets = set()
    for job_id in job_ids:
        job = w.rds.backup_job(db_instance_id, job_id)
        if job is not None and job.backup_id:
            sets.add(job.backup_id)
    return sets
