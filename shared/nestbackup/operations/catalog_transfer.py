"""The catalog's export and import: every record (backups, restores, drills: header and items as stored) and the
schedules and backup settings, as JSON lines another deployment imports (disaster recovery from another region,
docs/operating.md). An import creates what is missing and leaves what is there as it is (never overwrites), so it
can be run again after a failure; records keep their ids and statuses. The timeline of an imported record starts at
its import: the source's events are not carried."""
from __future__ import annotations

import re
from typing import Any, Callable

from ..errors import ValidationError
from ..model.drills import DrillRecord
from ..model.hooks import HookSettings
from ..model.ids import is_backup_id, is_drill_id, is_restore_id, is_service_instance_id
from ..model.records import BackupRecord
from ..model.restores import RestoreRecord
from ..ports import Ports
from ..ports.records import RecordExists

KINDS = ("backup", "restore", "drill")
ID_OF = {"backup": is_backup_id, "restore": is_restore_id, "drill": is_drill_id}
READ_RECORD = Callable[[dict[str, Any], dict[str, dict[str, Any]]], Any]
RECORD_OF: dict[str, READ_RECORD] = {"backup": BackupRecord.from_docs, "restore": RestoreRecord.from_docs,
                                     "drill": DrillRecord.from_docs}
COLLECTIONS = ("schedules", "backup-settings")
TOKEN = re.compile(r"(backup|restore|drill):[A-Za-z0-9_.:#-]{0,128}", re.ASCII)
MAX_IMPORT = 100                     # entries one import request takes at most
MAX_IMPORT_BYTES = 2 * 1024 * 1024   # one import request's body at most (a record of many items is large)


def export_page(w: Ports, limit: int = 50, next_token: str | None = None) -> dict[str, Any]:
    """At most `limit` records, kind by kind and newest first within a kind, then (on the last page) the documents;
    NextToken until everything was given."""
    if next_token is not None and not TOKEN.fullmatch(next_token):
        raise ValidationError("nextToken is not a token this API returned")
    kind, _, after = (next_token or "backup:").partition(":")
    entries: list[dict[str, Any]] = []
    for k in KINDS[KINDS.index(kind):]:
        last = after if k == kind and after else None
        while len(entries) < limit:
            ids, more = w.records.list_ids(None, k, limit - len(entries), last)
            for record_id in ids:
                stored = w.records.read(record_id)
                if stored is not None:        # listed, then deleted by retention
                    entries.append({"Kind": k, "RecordId": record_id,
                                    "ServiceInstanceId": stored.header.get("ServiceInstanceId"),
                                    "Header": stored.header, "Items": stored.items})
                last = record_id
            if more is None:
                break
        if len(entries) >= limit:              # the next page lists this kind on after the last id given
            return {"Entries": entries, "NextToken": f"{k}:{last or ''}"}
    entries += [{"Collection": c, "Key": key, "Doc": doc} for c in COLLECTIONS for key, doc, _ in w.documents.docs(c)]
    return {"Entries": entries}


def import_entries(w: Ports, entries: list[Any]) -> dict[str, int]:
    """Create each record and document that is missing; one already there is left as it is."""
    if not isinstance(entries, list) or len(entries) > MAX_IMPORT:
        raise ValidationError(f"Entries must be a list of at most {MAX_IMPORT} exported entries")
    checked = [_check(e) for e in entries]
    created = kept = 0
    for entry in checked:
        if "Collection" in entry:
            fresh = w.documents.create_doc(entry["Collection"], entry["Key"], entry["Doc"])
        else:
            try:
                w.records.create(entry["Kind"], entry["RecordId"], entry["ServiceInstanceId"], entry["Header"],
                                 entry["Items"])
                fresh = True
            except RecordExists:
                fresh = False
        created, kept = created + fresh, kept + (not fresh)
    return {"Created": created, "AlreadyThere": kept}


def _check(entry: Any) -> dict[str, Any]:
    """An entry as export_page gives it, or ValidationError before anything is written: ids of their form, and a
    record this version reads (a listing must never meet a record it cannot show)."""
    if not isinstance(entry, dict):
        raise ValidationError("each entry must be an object as the export gives it")
    if "Collection" in entry:
        if entry["Collection"] not in COLLECTIONS or not is_service_instance_id(entry.get("Key")) \
                or not isinstance(entry.get("Doc"), dict):
            raise ValidationError(f"a document entry needs Collection ({', '.join(COLLECTIONS)}), Key (a service "
                                  f"instance id) and Doc")
        if entry["Collection"] == "schedules" and not isinstance(entry["Doc"].get("Cron"), str):
            raise ValidationError(f"the schedule of {entry['Key']} has no Cron")
        if entry["Collection"] == "backup-settings":
            HookSettings.from_doc(entry["Doc"].get("Hooks"))      # the admin's hooks, checked as a PUT checks them
        return entry
    kind, record_id = entry.get("Kind"), entry.get("RecordId")
    if kind not in KINDS or not ID_OF[kind](record_id) or not is_service_instance_id(entry.get("ServiceInstanceId")) \
            or not isinstance(entry.get("Header"), dict) or not isinstance(entry.get("Items"), dict) \
            or not all(isinstance(i, dict) for i in entry["Items"].values()):
        raise ValidationError("a record entry needs Kind (backup, restore, drill), RecordId (that kind's id), "
                              "ServiceInstanceId, Header and Items")
    header = entry["Header"]
    if header.get("ServiceInstanceId") != entry["ServiceInstanceId"] \
            or header.get(f"{kind.capitalize()}Id") != record_id:
        raise ValidationError(f"record {record_id}: its header names another record or service instance")
    try:
        RECORD_OF[kind](header, entry["Items"]).to_api()
    except Exception as err:  # noqa: BLE001 - whatever a malformed document breaks, it is not an export's
        raise ValidationError(f"record {record_id} is not one this version reads: {type(err).__name__}") from None
    return entry
