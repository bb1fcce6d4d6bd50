"""The catalog's export and import (disaster recovery into another deployment) through the API's edge on the
in-memory ports: an export imported into a fresh store gives the same records and documents, ids and statuses
kept; a second import changes nothing; what the target already has is never overwritten; paging gives every
record once; a tenant is refused; an entry that is not an export's is refused before anything is written."""
import json
import urllib.parse

from nestbackup.api.app import handle
from nestbackup.api.http import Request
from nestbackup.model.drills import DrillRecord
from nestbackup.model.records import BackupItem, BackupRecord, ResourceType, iso_utc, new_record_id
from nestbackup.model.status import BackupStatus, DrillStatus, ItemStatus
from nestbackup.operations import tenants
from tests.support.memory.wiring import MemoryWiring

ADMIN = "admin-token-for-catalog-tests"
T0 = 1_790_000_000.0


def _call(w, method, path, token=ADMIN, body=None):
    path, _, query = path.partition("?")
    req = Request(method, "/api" + path, query=dict(urllib.parse.parse_qsl(query)),
                  headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
                  body=json.dumps(body).encode() if body is not None else b"")
    response = handle(req, lambda: w, admin_token=ADMIN)
    return response.status, response.body


def _backup(w, si, at, status=BackupStatus.CREATED) -> str:
    backup_id = new_record_id("backup", int(at * 1000), "00000000")
    item = BackupItem("d-1", ResourceType.DISK, status=ItemStatus.SUCCEEDED, artifact_id=f"s-{int(at)}")
    record = BackupRecord(backup_id, si, iso_utc(at), "", [item], status=status, started_epoch=at)
    w.records.create("backup", backup_id, si, record.header_doc(), {"d-1": item.to_dict()})
    return backup_id


def _source(n_backups=3) -> MemoryWiring:
    w = MemoryWiring()
    w.seed("si-a")
    for n in range(n_backups):
        _backup(w, "si-a", T0 + n, BackupStatus.CREATE_FAILED if n == 1 else BackupStatus.CREATED)
    drill = DrillRecord("drill-0000000000010000abcd", "backup-x", "si-a", iso_utc(T0), status=DrillStatus.PASSED)
    w.records.create("drill", drill.drill_id, "si-a", drill.header_doc(), {})
    w.documents.put_doc("schedules", "si-a", {"Cron": "0 3 * * *", "KeepLast": 7})
    w.documents.put_doc("backup-settings", "si-a", {"Hooks": None})
    return w


def _export(w, max_results=100) -> list[dict]:
    entries, token = [], None
    while True:
        status, page = _call(w, "GET", f"/admin/catalog?maxResults={max_results}"
                                      + (f"&nextToken={urllib.parse.quote(token)}" if token else ""))
        assert status == 200, page
        entries += page["Entries"]
        token = page.get("NextToken")
        if not token:
            return entries


def _import(w, entries) -> dict:
    status, answer = _call(w, "POST", "/admin/catalog", body={"Entries": entries})
    assert status == 200, answer
    return answer


def _stored(w) -> dict:
    """Every record and document as the store holds it."""
    out = {}
    for kind in ("backup", "restore", "drill"):
        for record_id in w.records.list_ids(None, kind, 1000)[0]:
            stored = w.records.read(record_id)
            out[record_id] = (stored.header, stored.items)
    for collection in ("schedules", "backup-settings"):
        out |= {(collection, key): doc for key, doc, _ in w.documents.docs(collection)}
    return out


def test_an_export_imported_into_a_fresh_store_gives_the_same_records_and_a_second_import_changes_nothing():
    source, target = _source(), MemoryWiring()
    entries = _export(source)
    assert len(entries) == 3 + 1 + 2
    assert _import(target, entries) == {"Created": 6, "AlreadyThere": 0}
    assert _stored(target) == _stored(source)            # ids, statuses, items as they were
    before = _stored(target)
    assert _import(target, entries) == {"Created": 0, "AlreadyThere": 6}
    assert _stored(target) == before
    target.seed("si-a")
    status, page = _call(target, "GET", "/backups?serviceInstanceId=si-a")
    assert status == 200 and sorted(b["Status"] for b in page["Backups"]) == ["CreateFailed", "Created", "Created"]


def test_what_the_target_already_has_is_left_as_it_is():
    source, target = _source(1), MemoryWiring()
    entries = _export(source)
    mine = next(e for e in entries if e.get("Kind") == "backup")
    target.records.create("backup", mine["RecordId"], "si-a", mine["Header"] | {"Description": "the target's"}, {})
    target.documents.put_doc("schedules", "si-a", {"Cron": "0 4 * * *"})
    assert _import(target, entries)["AlreadyThere"] == 2
    assert target.records.read(mine["RecordId"]).header["Description"] == "the target's"
    assert target.records.read(mine["RecordId"]).items == {}
    assert target.documents.get_doc("schedules", "si-a")[0] == {"Cron": "0 4 * * *"}


def test_paging_gives_every_record_once_across_kinds():
    source = _source(25)
    small_pages = _export(source, max_results=7)
    assert [e.get("RecordId") for e in small_pages] == [e.get("RecordId") for e in _export(source)]
    assert len({e["RecordId"] for e in small_pages if "RecordId" in e}) == 26


def test_a_tenant_is_refused_and_a_bad_entry_writes_nothing():
    w = _source(1)
    token = tenants.create_tenant(w, "acme", ["si-a"])["Token"]
    assert _call(w, "GET", "/admin/catalog", token=token)[0] == 403
    assert _call(w, "POST", "/admin/catalog", token=token, body={"Entries": []})[0] == 403
    target = MemoryWiring()
    good = _export(w)[0]
    status, answer = _call(target, "POST", "/admin/catalog",
                           body={"Entries": [good, good | {"RecordId": "backup-000000000000ffffffff"}]})
    assert status == 400 and "header names another record" in answer["Message"]
    broken = good | {"Header": {k: v for k, v in good["Header"].items() if k != "Status"}}
    status, answer = _call(target, "POST", "/admin/catalog", body={"Entries": [broken]})
    assert status == 400 and "not one this version reads" in answer["Message"], answer
    assert _stored(target) == {}
    assert _call(w, "GET", "/admin/catalog?nextToken=nonsense")[0] == 400
