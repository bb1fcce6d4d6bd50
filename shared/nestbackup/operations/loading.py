"""Reading a record the caller named: a malformed or unknown id, or a record of another kind, is NotFound."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import NotFound
from ..model.ids import is_backup_id, is_restore_id
from ..model.records import BackupRecord

if TYPE_CHECKING:
    from ..model.restores import RestoreRecord
    from ..ports import Ports
    from ..ports.records import StoredRecord


def _read(w: Ports, kind: str, record_id: str, well_formed: bool) -> StoredRecord:
    if not well_formed:
        raise NotFound(f"no {kind} {record_id!r}")
    stored = w.records.read(record_id)
    if stored is None or stored.header.get("Kind") != kind:
        raise NotFound(f"no {kind} {record_id}")
    return stored


def read_backup(w: Ports, backup_id: str) -> tuple[StoredRecord, BackupRecord]:
    stored = _read(w, "backup", backup_id, is_backup_id(backup_id))
    return stored, BackupRecord.from_docs(stored.header, stored.items)


def load_backup(w: Ports, backup_id: str) -> BackupRecord:
    return read_backup(w, backup_id)[1]


def read_restore(w: Ports, restore_id: str) -> tuple[StoredRecord, RestoreRecord]:
    from ..model.restores import RestoreRecord  # imported here: a backup's steps never load a restore's model

    stored = _read(w, "restore", restore_id, is_restore_id(restore_id))
    return stored, RestoreRecord.from_docs(stored.header, stored.items)


def record_api(w: Ports, kind: str, record_id: str) -> dict:
    """A backup's or a restore's record as the API shows it."""
    if kind == "restore":
        return read_restore(w, record_id)[1].to_api()
    return load_backup(w, record_id).to_api()


def save(w: Ports, stored: StoredRecord, record: BackupRecord | RestoreRecord) -> None:
    """Write what changed since `stored` was read (the records port compares row by row: items, then the header)."""
    w.records.save(stored, record.header_doc(), {i.resource_id: i.to_dict() for i in record.items})
