"""Backup use cases, the record's life from the API's side: create (validate, open it as `opening.py` says: claim
the client token, index it, lock the instance; check and discover it through Compute Nest, write the record with
every item Pending and replicas Skipped, start the flow), read and list. The flow's steps are in backup_start.py
(start the cloud work), backup_poll.py (poll until every item is final) and backup_finalize.py."""
from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from .. import logs
from ..decisions.backup import DatabaseFacts, DiskFacts, plan_items
from ..decisions.encryption import of_database, of_disk
from ..errors import CloudError, NestBackupError, ValidationError
from ..model.copies import check_copy_region
from ..model.hooks import Quiesce
from ..model.ids import check_client_token, check_service_instance_id
from ..model.records import BackupRecord, ResourceType, iso_utc, new_record_id
from ..model.status import BACKUP_FINAL, BackupStatus, ItemStatus
from ..ports.flows import BackupFlowInput
from .backup_settings import hooks_of
from .claims import ACTIVE
from .costs import Meter
from .discovery import check_service_instance, discover
from .loading import load_backup
from .opening import Opening, abandon, begin, earlier_record, ensure_started, fingerprint, start_flow, write_record

if TYPE_CHECKING:
    from ..model.hooks import Quiesce
    from ..ports import Ports
    from ..ports.compute import Disk
    from ..ports.databases import DBInstance
    from .listing import Filter

# -- create
DESCRIPTION_MAX_CHARS = 256


def create_backup(w: Ports, service_instance_id: str, description: str = "", token: str | None = None,
                  now: float | None = None, lock_holder: str | None = None, origin: str = "user",
                  only: list[str] | None = None, backup_lock: tuple[str, int] | None = None,
                  copy_to_region: str | None = None) -> dict:
    """Write the record and start the flow, opened as `operations/opening.py` says (token, index, lock, record,
    flow). `lock_holder`: the operation that already holds the instance's lock and runs this backup inside it (a
    restore's safety backup). `only`: back up just these disks and RDS instances (a partial backup: a selective
    restore's safety backup covers what that restore replaces). `backup_lock`: (mode, days), a schedule's lock, on
    the record from its creation (`operations/locks.py` applies it when the backup ends). `copy_to_region`: each
    disk's snapshot is copied there too (`operations/backup_copies.py`)."""
    check_service_instance_id(service_instance_id)
    copy_to_region = check_copy_region(copy_to_region, w.settings.region)
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX_CHARS:
        raise ValidationError(f"Description must be a string of at most {DESCRIPTION_MAX_CHARS} characters")
    check_client_token(token)
    now = time.time() if now is None else now
    meter = Meter(w) if lock_holder is None else None     # a safety backup's calls are its restore's step's
    s = w.settings
    backup_id = new_record_id("backup", int(now * 1000), secrets.token_hex(4))
    op = Opening("backup", backup_id, service_instance_id, token,
                 fingerprint(ServiceInstanceId=service_instance_id, Kind="backup", Description=description,
                             **({"Only": sorted(only)} if only is not None else {}),
                             **({"CopyToRegion": copy_to_region} if copy_to_region else {})), now,
                 take_lock=lock_holder is None)
    existing = begin(w, op)
    if existing:
        return _same_token_answer(w, existing)
    try:     # an unknown service instance, or one being deleted, is refused here: no record is written
        check_service_instance(w, service_instance_id)
        found = discover(w, service_instance_id)
    except NestBackupError:
        abandon(w, op)
        raise
    disks, databases = found.disks, found.databases
    if only is not None:
        disks = [d for d in disks if d.disk_id in only]
        databases = [d for d in databases if d.db_instance_id in only]
    encryption = database_encryption(w, databases)
    items = plan_items(disk_facts(disks), database_facts(databases, encryption))
    if copy_to_region:
        try:
            ask_copies(items, copy_to_region, bool(s.copy_kms_key_id))
        except ValidationError:
            abandon(w, op)
            raise
    record = BackupRecord(backup_id, service_instance_id, iso_utc(now), description, items, started_epoch=now,
                          not_protected=found.unprotected, origin=origin,
                          scope="whole" if only is None else "partial",
                          quiesce=_quiesce(w, service_instance_id, items), copy_to_region=copy_to_region)
    if not any(i.status is not ItemStatus.SKIPPED for i in items):
        record.status_detail = (f"nothing to back up: Compute Nest lists no disks or primary RDS instances for "
                                f"{service_instance_id}, and none carry the tag {s.tag_key}={service_instance_id}")
    record.refresh_status(iso_utc(now))
    if backup_lock and record.status is BackupStatus.CREATING:     # one that made nothing has nothing to lock
        from ..decisions.locks import new_lock
        record.lock = new_lock(backup_lock[0], now + backup_lock[1] * 86400.0, origin, now)
    write_record(w, op, record.header_doc(), {i.resource_id: i.to_dict() for i in items})
    logs.event("backup created", step="create", record_id=backup_id, service_instance_id=service_instance_id,
               items=len(items))
    if record.status in BACKUP_FINAL:        # final at once: nothing runs, nothing stays claimed
        if op.take_lock:
            w.claims.release_lock(service_instance_id, backup_id)
        w.documents.delete_doc(ACTIVE, backup_id)
        return record.to_api()
    start_flow(w, op, s.backup_flow, BackupFlowInput(backup_id),
               close=lambda cause: _close(w, backup_id, cause))
    if meter:
        meter.charge(backup_id, 0)
    return record.to_api()


def ask_copies(items: list, region: str, have_key: bool) -> None:
    """A copy in `region` for each disk it snapshots; an RDS item says why it has none. An encrypted disk's copy
    needs the destination's key: refused before anything is made when none is set."""
    from ..model.copies import RDS_NOT_COPIED, SnapshotCopy
    taken = [i for i in items if i.status is not ItemStatus.SKIPPED]
    encrypted = [i.resource_id for i in taken if i.resource_type is ResourceType.DISK
                 and (i.encryption or {}).get("Encrypted")]
    if encrypted and not have_key:
        raise ValidationError(f"disk {encrypted[0]} is encrypted: its copy in {region} needs a KMS key of {region}; "
                              f"set NESTBACKUP_COPY_KMS_KEY_ID")
    for item in taken:
        if item.resource_type is ResourceType.DISK:
            item.copies = [SnapshotCopy(region)]
        else:
            item.not_copied = RDS_NOT_COPIED


def _quiesce(w: Ports, service_instance_id: str, items: list) -> Quiesce | None:
    """The quiesce hooks this backup runs, as the settings say at its start: on the instances they name, else on
    every ECS instance whose disks it snapshots; none when it snapshots no disk."""
    hooks = hooks_of(w, service_instance_id)
    snapshotted = sorted({i.instance_id for i in items if i.resource_type is ResourceType.DISK and i.instance_id
                          and i.status is not ItemStatus.SKIPPED})
    if hooks is None or not snapshotted:
        return None
    from ..model.hooks import Quiesce
    return Quiesce(hooks, list(hooks.instances) if hooks.instances else snapshotted)


def _close(w: Ports, backup_id: str, cause: dict) -> None:
    """Finalize a backup whose flow did not start. Imported here: only this branch needs the poll step's modules
    (the item kinds, costs, notification), which creating a backup otherwise never loads."""
    from .backup_finalize import finalize
    finalize(w, backup_id, error=cause)


def disk_facts(disks: list[Disk]) -> list[DiskFacts]:
    return [DiskFacts(d.disk_id, d.instance_id, d.category, d.size_gib, d.multi_attach,
                      of_disk(d.encrypted, d.kms_key_id, "ECS disk (Encrypted, KMSKeyId)")) for d in disks]


def database_facts(dbs: list[DBInstance], encryption: dict[str, dict | None] | None = None) -> list[DatabaseFacts]:
    return [DatabaseFacts(d.db_instance_id, d.engine, d.db_instance_type, d.master_instance_id,
                          (encryption or {}).get(d.db_instance_id)) for d in dbs]


def database_encryption(w: Ports, dbs: list[DBInstance]) -> dict[str, dict | None]:
    """Each primary's encryption as RDS says it (decisions/encryption.py); None where RDS does not answer: what a
    backup records of it, never a reason to fail."""
    out: dict[str, dict | None] = {}
    for db in dbs:
        if not db.primary:
            continue
        try:
            found = w.rds.describe_encryption(db.db_instance_id)
            out[db.db_instance_id] = of_database(found.tde, found.tde_key, found.disk_key)
        except CloudError as err:
            logs.event("encryption not known", step="create", resource_id=db.db_instance_id, code=err.code)
            out[db.db_instance_id] = None
    return out


def _same_token_answer(w: Ports, record_id: str) -> dict:
    stored = earlier_record(w, record_id)
    record = BackupRecord.from_docs(stored.header, stored.items)
    if record.status is BackupStatus.CREATING:
        ensure_started(w, w.settings.backup_flow, record_id, BackupFlowInput(record_id))
    return record.to_api()


# -- read
def get_backup(w: Ports, backup_id: str) -> dict:
    """The record; while it runs, each resource not started yet says by when it must start (WaitDeadline) or
    fails, beside why it waits (WaitReason)."""
    from .kinds import kind_of
    record = load_backup(w, backup_id)
    out = record.to_api()
    if record.status is BackupStatus.CREATING:
        for item, shown in zip(record.items, out["Resources"]):
            kind = kind_of(item) if item.status is ItemStatus.PENDING or item.starting else None
            if kind is not None:
                shown["WaitDeadline"] = iso_utc(record.started_epoch + kind.deadline_seconds(w.settings))
    return out


def list_backups(w: Ports, service_instance_id: str | None, limit: int = 20, after: str | None = None,
                 flt: Filter | None = None) -> dict:
    """A page of backups, newest first (`operations/listing.py`); None: every service instance's."""
    from .listing import EVERYTHING, list_records  # the listings' module only where a listing runs
    out, next_token = list_records(w, "backup", service_instance_id, limit, after, flt or EVERYTHING,
                                   lambda stored: BackupRecord.from_docs(stored.header, stored.items).to_api())
    return {"Backups": out, "NextToken": next_token}
