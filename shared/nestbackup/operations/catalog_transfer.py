"""The catalog's export and import: every record (backups, restores, drills: header and items as stored) and the
schedules and backup settings, as JSON lines another deployment imports (disaster recovery from another region,
docs/operating.md). An import creates what is missing and leaves what is there as it is (never overwrites), so it
can be run again after a failure; records keep their ids and statuses. The timeline of an imported record starts at
its import: the source's events are not carried."""
from __future__ import annotations

import re
from typing import Any

from ..errors import ValidationError
from ..ports import Ports
from ..ports.records import RecordExists

KINDS = ("backup", "restore", "drill")
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
    """An entry as export_page gives it, or ValidationError before anything is written."""
    if not isinstance(entry, dict):
        raise ValidationError("each entry must be an object as the export gives it")
    if "Collection" in entry:
        if entry["Collection"] not in COLLECTIONS or not isinstance(entry.get("Key"), str) or not entry["Key"] \
                or not isinstance(entry.get("Doc"), dict):
            raise ValidationError(f"a document entry needs Collection ({', '.join(COLLECTIONS)}), Key and Doc")
        return entry
    if entry.get("Kind") not in KINDS or not isinstance(entry.get("RecordId"), str) \
            or not isinstance(entry.get("ServiceInstanceId"), str) or not isinstance(entry.get("Header"), dict) \
            or not isinstance(entry.get("Items"), dict) \
            or not all(isinstance(i, dict) for i in entry["Items"].values()):
        raise ValidationError("a record entry needs Kind (backup, restore, drill), RecordId, ServiceInstanceId, "
                              "Header and Items")
    header = entry["Header"]
    if header.get("ServiceInstanceId") != entry["ServiceInstanceId"] \
            or header.get({"backup": "BackupId", "restore": "RestoreId", "drill": "DrillId"}[entry["Kind"]]) \
            != entry["RecordId"]:
        raise ValidationError(f"record {entry['RecordId']}: its header names another record or service instance")
    return entry
