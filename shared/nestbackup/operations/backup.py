"""Backup use cases: the I/O around the pure steps. Handlers, the API and the CLI call these.

create  -> validate, claim the client token, lock the instance, check and discover it through Compute Nest
           (operations/discovery.py), write the record (Pending; replicas Skipped), start the flow
start   -> start the cloud work of one batch of units (idempotent: ClientTokens, and adoption of RDS jobs)
poll    -> one round: describe every running item in batches, advance, write what changed
finalize-> aggregate, end time, release the lock
"""
from __future__ import annotations

import logging
import re
import secrets
import time
from datetime import datetime, timezone

from ..errors import CloudError, Conflict, NotFound, ValidationError
from ..model.records import (
    BackupItem,
    BackupMethod,
    BackupRecord,
    ResourceType,
    new_record_id,
)
from ..model.status import (
    BACKUP_FINAL,
    ITEM_FINAL,
    BackupStatus,
    ItemStatus,
    backup_job_item_status,
    snapshot_item_status,
)
from ..ports import Ports
from ..ports.flows import BackupFlowInput, execution_name
from ..steps.backup import (
    START_BATCH_UNITS,
    CloudProgress,
    DatabaseFacts,
    DiskFacts,
    advance,
    batch_indexes,
    client_token,
    failed_group_outcomes,
    next_wait,
    plan_items,
    start_units,
)
from .discovery import check_service_instance, discover

log = logging.getLogger("nestbackup.backup")

SERVICE_INSTANCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}\Z")      # \Z, not $: no final newline
CLIENT_TOKEN = re.compile(r"^[\x21-\x7e]{1,64}\Z")
ACTIVE = "active"          # the collection indexing operations not final yet (for the sweeper)
RDS_STARTING = "starting"  # job id of an RDS item whose CreateBackup may or may not have been applied
OWNER_TAG = "nestbackup:backupId"  # on every snapshot and group we make: finds leftovers no record owns


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _log(event: str, **fields) -> None:
    log.info(event, extra={"fields": fields})


# -- create
def create_backup(w: Ports, service_instance_id: str, description: str = "", token: str | None = None,
                  now: float | None = None, lock_holder: str | None = None) -> dict:
    """Write the record and start the flow. `lock_holder`: the operation that already holds the instance's lock
    and runs this backup inside it (a restore's safety backup)."""
    if not isinstance(service_instance_id, str) or not SERVICE_INSTANCE_ID.match(service_instance_id):
        raise ValidationError("ServiceInstanceId must be 1-128 letters, digits or _.:- (e.g. si-0123abcd)")
    if not isinstance(description, str) or len(description) > 256:
        raise ValidationError("Description must be a string of at most 256 characters")
    check_client_token(token)
    now = time.time() if now is None else now
    s, records = w.settings, w.records
    backup_id = new_record_id("backup", int(now * 1000), secrets.token_hex(4))
    existing = claim(records, s, service_instance_id, "backup", backup_id, token, now, take_lock=lock_holder is None)
    if existing:
        return _same_token_answer(records, existing)
    try:     # an unknown service instance, or one being deleted, is refused here: no record is written
        check_service_instance(w, service_instance_id)
        found = discover(w, service_instance_id)
    except (CloudError, NotFound, Conflict):
        records.release_lock(service_instance_id, backup_id)
        forget_token(records, service_instance_id, "backup", token)
        raise
    items = plan_items(disk_facts(found.disks), database_facts(found.databases))
    record = BackupRecord(backup_id, service_instance_id, iso(now), description, items, started_epoch=now)
    if not any(i.status is not ItemStatus.SKIPPED for i in items):
        record.status_detail = (f"nothing to back up: Compute Nest lists no disks or primary RDS instances for "
                                f"{service_instance_id}, and none carry the tag {s.tag_key}={service_instance_id}")
    record.refresh_status(iso(now))
    records.create("backup", backup_id, service_instance_id, record.header_doc(),
                   {i.resource_id: i.to_dict() for i in items})
    _log("backup created", step="create", record_id=backup_id, service_instance_id=service_instance_id, items=len(items))
    if record.status in BACKUP_FINAL:
        records.release_lock(service_instance_id, backup_id)
        return record.to_api()
    records.put_doc(ACTIVE, backup_id, {"Kind": "backup", "ServiceInstanceId": service_instance_id,
                                        "StartedEpoch": now})
    try:
        w.flows.start_once(s.backup_flow, execution_name(backup_id), BackupFlowInput(backup_id))
    except CloudError as err:
        finalize(w, backup_id, error={"Code": err.code, "Detail": f"the backup flow could not start: {err.message}"})
        raise
    return record.to_api()


def disk_facts(disks) -> list[DiskFacts]:
    return [DiskFacts(d.disk_id, d.instance_id, d.category, d.size_gib, d.multi_attach) for d in disks]


def database_facts(dbs) -> list[DatabaseFacts]:
    return [DatabaseFacts(d.db_instance_id, d.engine, d.db_instance_type, d.master_instance_id) for d in dbs]


def same_token_record(records, record_id: str):
    """The record an earlier request with the same ClientToken created; that request may still be writing it."""
    for _ in range(50):
        stored = records.read(record_id)
        if stored:
            return stored
        time.sleep(0.1)
    raise Conflict(f"a request with this ClientToken is still creating {record_id}")


def _same_token_answer(records, record_id: str) -> dict:
    stored = same_token_record(records, record_id)
    return BackupRecord.from_docs(stored.header, stored.items).to_api()


def check_client_token(token) -> None:
    if token is not None and (not isinstance(token, str) or not CLIENT_TOKEN.match(token)):
        raise ValidationError("ClientToken must be 1-64 printable ASCII characters")


def claim(records, settings, si: str, kind: str, record_id: str, token: str | None, now: float,
          take_lock: bool = True) -> str | None:
    """The id of the operation an earlier request with this ClientToken created (nothing else is done then), or
    None once the token (if any) and the instance's lock are `record_id`'s. A refused lock gives the token back."""
    if token:
        existing = records.claim_token(si, kind, token, record_id)
        if existing:
            return existing
    if take_lock:
        try:
            records.acquire_lock(si, record_id, int(now * 1000), settings.lock_lease_seconds * 1000)
        except Conflict:
            forget_token(records, si, kind, token)
            raise
    return None


def forget_token(records, si: str, kind: str, token: str | None) -> None:
    if token:
        records.forget_token(si, kind, token)


# -- read
def get_backup(w: Ports, backup_id: str) -> dict:
    return load(w, backup_id).to_api()


def load(w: Ports, backup_id: str) -> BackupRecord:
    if not isinstance(backup_id, str) or not re.fullmatch(r"backup-[0-9a-f]{12,40}", backup_id):
        raise NotFound(f"no backup {backup_id!r}")
    stored = w.records.read(backup_id)
    if stored is None or stored.header.get("Kind") != "backup":
        raise NotFound(f"no backup {backup_id}")
    return BackupRecord.from_docs(stored.header, stored.items)


def list_backups(w: Ports, service_instance_id: str, limit: int = 20, after: str | None = None) -> dict:
    if not SERVICE_INSTANCE_ID.match(service_instance_id or ""):
        raise ValidationError("serviceInstanceId must be 1-128 letters, digits or _.:-")
    ids, next_token = w.records.list_ids(service_instance_id, "backup", limit, after)
    out = []
    for record_id in ids:
        stored = w.records.read(record_id)
        if stored:
            out.append(BackupRecord.from_docs(stored.header, stored.items).to_api())
    return {"Backups": out, "NextToken": next_token}


# -- start
def start_batch_count(w: Ports, backup_id: str) -> list[int]:
    record = load(w, backup_id)
    return batch_indexes(len(start_units(record.items)))


def start_batch(w: Ports, backup_id: str, batch: int, now: float | None = None) -> dict:
    stored = w.records.read(backup_id)
    if stored is None:
        raise NotFound(f"no backup {backup_id}")
    record = BackupRecord.from_docs(stored.header, stored.items)
    units = start_units(record.items)[batch * START_BATCH_UNITS:(batch + 1) * START_BATCH_UNITS]
    started = failed = 0
    for unit in units:
        if all(i.status is not ItemStatus.PENDING and i.job_id != RDS_STARTING for i in unit):
            continue
        _start_unit(w, stored, record, unit)
        started += sum(i.status is ItemStatus.RUNNING for i in unit)
        failed += sum(i.status is ItemStatus.FAILED for i in unit)
    return {"BackupId": backup_id, "Batch": batch, "Started": started, "Failed": failed}


def _start_unit(w: Ports, stored, record: BackupRecord, unit: list[BackupItem]) -> None:
    first = unit[0]
    w.take_retries()
    try:
        if first.method is BackupMethod.SNAPSHOT_GROUP:
            group_id = w.ecs.create_snapshot_group(
                first.instance_id, [i.resource_id for i in unit], name=f"nestbackup-{record.backup_id}",
                description=f"nestbackup {record.backup_id} of {record.service_instance_id}",
                client_token=client_token(record.backup_id, first.instance_id), tags={OWNER_TAG: record.backup_id})
            for item in unit:
                item.status, item.job_id = ItemStatus.RUNNING, group_id
        elif first.method is BackupMethod.SNAPSHOT:
            snapshot_id = w.ecs.create_snapshot(
                first.resource_id, name=f"nestbackup-{record.backup_id}",
                description=f"nestbackup {record.backup_id} of {record.service_instance_id}",
                client_token=client_token(record.backup_id, first.resource_id), tags={OWNER_TAG: record.backup_id})
            first.status, first.artifact_id = ItemStatus.RUNNING, snapshot_id
        else:
            _start_rds(w, stored, first)
    except CloudError as err:
        if err.transient:
            # Not applied, or not known to be: the next poll round starts it again, idempotently.
            _log("backup start deferred", step="start", record_id=record.backup_id, resource_id=first.resource_id,
                 code=err.code, request_id=err.request_id)
            retried = w.take_retries()
            for item in unit:           # said on the timeline; the item stays as it was
                item.retried = f"deferred to the next round after {', '.join(retried[-3:] or [err.code])}"
                w.records.write_item(stored, item.resource_id, item.to_dict())
            return
        for item in unit:
            item.fail(err.code, err.message, err.request_id)
        _log("backup start failed", step="start", record_id=record.backup_id, resource_id=first.resource_id,
             code=err.code, request_id=err.request_id)
    retried = w.take_retries()
    for item in unit:
        if retried:
            item.retried = f"retried after {', '.join(retried[-3:])}" + (f" (+{len(retried) - 3} more)"
                                                                         if len(retried) > 3 else "")
        w.records.write_item(stored, item.resource_id, item.to_dict())


def _capture_counts_after(w: Ports, item: BackupItem) -> None:
    """Row counts again once the set is done: with those from before, the window the set was taken in."""
    if not item.row_counts:
        return
    try:
        databases = w.database(item.resource_id, item.engine)
        item.row_counts_after = {db: databases.row_counts(db) for db in item.row_counts}
    except Exception as err:  # noqa: BLE001 - best effort: without them the window is the count from before
        _log("row counts after the backup skipped", step="poll", resource_id=item.resource_id, reason=str(err))


def _capture_databases(w: Ports, item: BackupItem) -> None:
    """What the restore needs to know: the databases of the instance, and their row counts to verify against."""
    item.databases = [d.name for d in w.rds.databases(item.resource_id) if d.status in ("Running", "")]
    try:
        databases = w.database(item.resource_id, item.engine)
        item.row_counts = {db: databases.row_counts(db) for db in item.databases}
    except (ValidationError, CloudError) as err:     # no account configured, or no connection: verify by presence
        _log("row counts skipped", step="start", resource_id=item.resource_id, reason=str(err))


def _start_rds(w: Ports, stored, item: BackupItem) -> None:
    """CreateBackup has no ClientToken: mark the intent first, and after a crash adopt the job it started. Only a
    manual task that was not already running at the intent can be ours: automatic tasks (the instance's backup
    policy) and tasks started by others before are never adopted."""
    if not item.databases:
        _capture_databases(w, item)
    if item.job_id == RDS_STARTING:
        running = [j for j in w.rds.running_backup_jobs(item.resource_id)
                   if j.mode == "Manual" and j.job_id not in item.jobs_before]
        if running:
            item.status, item.job_id, item.wait_reason = ItemStatus.RUNNING, running[0].job_id, None
            return
        finished = w.rds.manual_backups_since(item.resource_id, item.started_at or time.time() - 3600)
        if finished:               # the job it started has already ended: adopt its backup set
            item.status, item.artifact_id, item.progress = ItemStatus.SUCCEEDED, finished[0], 100
            item.wait_reason = None
            _record_backup_set(w, item)
            return
    else:
        item.jobs_before = [j.job_id for j in w.rds.running_backup_jobs(item.resource_id)]
        item.job_id, item.started_at = RDS_STARTING, time.time()
        w.records.write_item(stored, item.resource_id, item.to_dict())
    retention = w.settings.rds_backup_retention_days if item.engine == "MySQL" else None
    try:
        item.job_id = w.rds.create_backup(item.resource_id, retention)
    except CloudError as err:
        if not w.rds.backup_must_wait(err):
            raise
        # Refused before it was applied (another backup task runs, e.g. an automatic one; the instance is not
        # Running): nothing to adopt. The next poll rounds ask again until the RDS deadline.
        item.job_id, item.started_at, item.jobs_before = None, None, []
        item.wait_reason = f"{err.code}: {err.message}"
        w.records.write_item(stored, item.resource_id, item.to_dict())
        _log("rds backup waits", step="start", resource_id=item.resource_id, code=err.code,
             request_id=err.request_id)
        return
    item.status, item.wait_reason = ItemStatus.RUNNING, None


def _record_backup_set(w: Ports, item: BackupItem) -> None:
    """What the finished set's entry says: when the cloud deletes it (ExpectExpireTime), and for MySQL whether
    RestoreTable can use it (MetaStatus OK; "" means taken without database/table restore, LARGE too many
    tables). Unknown facts stay None rather than failing a finished backup."""
    try:
        found = w.rds.backup_set(item.resource_id, item.artifact_id)
    except CloudError as err:
        _log("backup set facts unknown", step="poll", resource_id=item.resource_id, code=err.code)
        return
    if found is None:
        return
    item.expires_at = found.expires_at
    if item.engine == "MySQL" and found.meta_status != "OK":
        item.restorable = False
        item.restorable_reason = (f"MetaStatus {found.meta_status!r}: the backup set was taken without database "
                                  f"and table restore enabled (or holds too many tables), so RestoreTable "
                                  f"cannot restore from it")
    else:
        item.restorable, item.restorable_reason = True, None


# -- poll
def poll(w: Ports, backup_id: str, round_number: int = 0, now: float | None = None) -> dict:
    """One poll round over every running item; returns what the flow routes on."""
    now = time.time() if now is None else now
    s = w.settings
    stored = w.records.read(backup_id)
    if stored is None:
        raise NotFound(f"no backup {backup_id}")
    record = BackupRecord.from_docs(stored.header, stored.items)
    if record.status in BACKUP_FINAL:         # closed already (e.g. cancelled): a late step takes no lock back
        return {"BackupId": backup_id, "Done": True, "Wait": 0, "Round": round_number + 1, "Continue": False}
    try:
        w.records.acquire_lock(record.service_instance_id, backup_id, int(now * 1000), s.lock_lease_seconds * 1000)
    except Conflict:
        pass    # a restore runs this backup under its own lock (safety backup): keep polling our own items
    def deadline(item: BackupItem) -> float:
        return record.started_epoch + (s.disk_deadline_seconds if item.resource_type is ResourceType.DISK
                                       else s.rds_deadline_seconds)

    pending = [i for i in record.items if i.status is ItemStatus.PENDING or i.job_id == RDS_STARTING]
    for unit in start_units(pending):
        if now >= deadline(unit[0]):
            for item in unit:
                why = f" (last refusal: {item.wait_reason})" if item.wait_reason else ""
                item.fail("Timeout", f"the backup could not be started before its deadline{why}")
                w.records.write_item(stored, item.resource_id, item.to_dict())
        else:
            _start_unit(w, stored, record, unit)
    running = [i for i in record.items if i.status is ItemStatus.RUNNING]
    seen = _describe(w, running)
    for item in running:
        if advance(item, seen.get(item.resource_id), now, deadline(item)):
            if item.resource_type is ResourceType.RDS and item.status is ItemStatus.SUCCEEDED:
                _capture_counts_after(w, item)
            if item.method is BackupMethod.RDS_BACKUP and item.status is ItemStatus.SUCCEEDED and item.artifact_id:
                _record_backup_set(w, item)
            w.records.write_item(stored, item.resource_id, item.to_dict())
            if item.status is not ItemStatus.RUNNING:
                _log("backup item ended", step="poll", record_id=backup_id, resource_id=item.resource_id,
                     status=str(item.status), code=item.error_code, artifact_id=item.artifact_id)
    done = all(i.status in ITEM_FINAL for i in record.items)
    return {"BackupId": backup_id, "Done": done, "Wait": next_wait(round_number), "Round": round_number + 1,
            "Continue": not done and (round_number + 1) % s.poll_rounds_per_execution == 0}


def poll_step(w: Ports, backup_id: str, round_number: int, generation: int = 1) -> dict:
    """The flow's poll step. Its `State` routes the flow: Done -> finalize, Wait -> wait `Wait` s and poll again,
    Continue -> this execution has used its event budget; the next generation was started and this one ends."""
    out = poll(w, backup_id, round_number)
    state = "Done" if out["Done"] else "Continue" if out["Continue"] else "Wait"
    if state == "Continue":
        w.flows.start_once(w.settings.backup_flow, execution_name(backup_id, generation + 1),
                           BackupFlowInput(backup_id, out["Round"], generation + 1))
    return {"BackupId": backup_id, "State": state, "Wait": out["Wait"], "Round": out["Round"],
            "Generation": generation}


def _describe(w: Ports, running: list[BackupItem]) -> dict[str, CloudProgress]:
    seen: dict[str, CloudProgress] = {}
    snapshots = [i for i in running if i.method is BackupMethod.SNAPSHOT]
    if snapshots:
        found = w.ecs.describe_snapshots([i.artifact_id for i in snapshots])
        for item in snapshots:
            snap = found.get(item.artifact_id)
            if snap:
                seen[item.resource_id] = CloudProgress(snapshot_item_status(snap.status), snap.progress,
                                                       snap.snapshot_id, *_snapshot_error(snap.status))
    grouped = [i for i in running if i.method is BackupMethod.SNAPSHOT_GROUP]
    if grouped:
        groups = w.ecs.describe_snapshot_groups(sorted({i.job_id for i in grouped}))
        failed = {gid: g for gid, g in groups.items() if g.status == "failed"}
        # a failed group does not say which disk failed; each member snapshot's own status does
        own = w.ecs.describe_snapshots([m.snapshot_id for g in failed.values() for m in g.snapshots]) \
            if failed else {}
        for gid, group in failed.items():
            seen.update(failed_group_outcomes(gid, {
                m.disk_id: (m.snapshot_id, own[m.snapshot_id].status if m.snapshot_id in own else "", m.progress)
                for m in group.snapshots if m.disk_id}))
        for item in grouped:
            group = groups.get(item.job_id)
            member = next((m for m in group.snapshots if m.disk_id == item.resource_id), None) if group else None
            if member and item.job_id not in failed:
                seen[item.resource_id] = CloudProgress(snapshot_item_status(member.status or group.status),
                                                       member.progress, member.snapshot_id)
    for item in running:
        if item.method is BackupMethod.RDS_BACKUP:
            job = w.rds.backup_job(item.resource_id, item.job_id)
            if job:
                status = backup_job_item_status(job.status)
                seen[item.resource_id] = CloudProgress(
                    status, job.progress, job.backup_id,
                    "BackupJobFailed" if status is ItemStatus.FAILED else None,
                    f"RDS backup job {job.job_id} ended {job.status}" if status is ItemStatus.FAILED else None)
    return seen


def _snapshot_error(status: str) -> tuple[str | None, str | None]:
    if status == "failed":
        return "SnapshotFailed", "ECS reported the snapshot as failed"
    return None, None


# -- finalize
def finalize(w: Ports, backup_id: str, error: dict | None = None, now: float | None = None) -> dict:
    """Aggregate and close the record, release the lock. With `error` (the flow's Catch), every item not yet final
    fails with that cause."""
    now = time.time() if now is None else now
    stored = w.records.read(backup_id)
    if stored is None:
        raise NotFound(f"no backup {backup_id}")
    record = BackupRecord.from_docs(stored.header, stored.items)
    if error:
        code, detail = str(error.get("Code") or "FlowFailed"), str(error.get("Detail") or "the backup flow failed")
        for item in record.items:
            if item.status not in ITEM_FINAL:
                item.fail(code, detail)
                w.records.write_item(stored, item.resource_id, item.to_dict())
        record.status_detail = record.status_detail or detail
    status = record.refresh_status(iso(now))
    if status is BackupStatus.CREATING:          # not final: nothing to close yet
        return {"BackupId": backup_id, "Status": str(status)}
    w.records.write_header(stored, record.header_doc())
    w.records.release_lock(record.service_instance_id, backup_id)
    w.records.delete_doc(ACTIVE, backup_id)
    from .notify import notify
    notify(w, record.service_instance_id, record.to_api())
    _log("backup finished", step="finalize", record_id=backup_id, status=str(status))
    return {"BackupId": backup_id, "Status": str(status)}
