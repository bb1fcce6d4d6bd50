"""Listings through the API's edge on the in-memory ports: status and time filters, paging past 100, the view across
instances (the admin's, a tenant's own), and an unknown instance answered 404 rather than an empty list."""
import json
import urllib.parse

import pytest

from nestbackup.api.app import handle
from nestbackup.api.http import Request
from nestbackup.model.records import BackupRecord, iso_utc, new_record_id
from nestbackup.model.status import BackupStatus
from nestbackup.operations import tenants
from tests.support.memory.wiring import MemoryWiring

ADMIN = "admin-token-for-listing-tests"
T0 = 1_790_000_000.0          # 2026-09-21T...Z


def _call(w, path, token=ADMIN):
    path, _, query = path.partition("?")
    req = Request("GET", "/api" + path, query=dict(urllib.parse.parse_qsl(query)),
                  headers={"authorization": f"Bearer {token}"})
    response = handle(req, lambda: w, admin_token=ADMIN)
    return response.status, response.body


def _backup(w, si, at, status=BackupStatus.CREATED) -> str:
    """A stored backup record created at `at` (no flow: listings read records only)."""
    backup_id = new_record_id("backup", int(at * 1000), "00000000")
    record = BackupRecord(backup_id, si, iso_utc(at), "", [], status=status, started_epoch=at)
    w.records.create("backup", backup_id, si, record.header_doc(), {})
    return backup_id


@pytest.fixture
def w():
    w = MemoryWiring()
    w.seed("si-a")
    w.seed("si-b")
    return w


def test_paging_past_100_returns_every_record_once_newest_first(w):
    made = [_backup(w, "si-a", T0 + n) for n in range(130)]
    seen, token, pages = [], None, 0
    while True:
        status, page = _call(w, "/backups?serviceInstanceId=si-a&maxResults=100"
                                + (f"&nextToken={token}" if token else ""))
        assert status == 200, page
        seen += [b["BackupId"] for b in page["Backups"]]
        pages += 1
        token = page["NextToken"]
        if not token:
            break
    assert seen == list(reversed(made)) and pages == 2


def test_status_and_time_filters(w):
    old = _backup(w, "si-a", T0, BackupStatus.CREATED)
    failed = _backup(w, "si-a", T0 + 3600, BackupStatus.CREATE_FAILED)
    new = _backup(w, "si-a", T0 + 7200, BackupStatus.CREATED)
    ids = lambda q: [b["BackupId"] for b in _call(w, "/backups?serviceInstanceId=si-a" + q)[1]["Backups"]]  # noqa: E731
    assert ids("&status=Created") == [new, old]
    assert ids("&status=CreateFailed,Created") == [new, failed, old]
    assert ids(f"&since={iso_utc(T0 + 1)}") == [new, failed]
    assert ids(f"&until={iso_utc(T0 + 3600)}") == [failed, old]
    assert ids(f"&since={iso_utc(T0 + 1)}&until={iso_utc(T0 + 3600)}&status=CreateFailed") == [failed]
    status, body = _call(w, "/backups?serviceInstanceId=si-a&status=Fine")
    assert status == 400 and body["Code"] == "InvalidParameter" and "Created" in body["Message"] and body["RequestId"]
    status, body = _call(w, f"/backups?serviceInstanceId=si-a&since={iso_utc(T0 + 10)}&until={iso_utc(T0)}")
    assert status == 400 and "since" in body["Message"]


def test_a_filtered_page_follows_its_token_with_the_same_filter(w):
    for n in range(5):
        _backup(w, "si-a", T0 + n, BackupStatus.CREATED if n % 2 else BackupStatus.CREATE_FAILED)
    status, first = _call(w, "/backups?serviceInstanceId=si-a&status=CreateFailed&maxResults=2")
    assert [b["Status"] for b in first["Backups"]] == ["CreateFailed", "CreateFailed"] and first["NextToken"]
    _, second = _call(w, f"/backups?serviceInstanceId=si-a&status=CreateFailed&maxResults=2"
                         f"&nextToken={first['NextToken']}")
    assert [b["Status"] for b in second["Backups"]] == ["CreateFailed"] and second["NextToken"] is None


def test_without_an_instance_the_admin_sees_every_instance_and_a_tenant_only_its_own(w):
    a, b = _backup(w, "si-a", T0), _backup(w, "si-b", T0 + 1)
    status, page = _call(w, "/backups")
    assert status == 200 and [r["BackupId"] for r in page["Backups"]] == [b, a]
    token = tenants.create_tenant(w, "alpha", ["si-a"])["Token"]
    assert [r["BackupId"] for r in _call(w, "/backups", token)[1]["Backups"]] == [a]
    assert _call(w, "/restores")[1] == {"Restores": [], "NextToken": None}


def test_an_unknown_instance_is_404_and_a_known_one_without_records_is_an_empty_page(w):
    status, body = _call(w, "/backups?serviceInstanceId=si-nobody-knows")
    assert status == 404 and body["Code"] == "NotFound" and "si-nobody-knows" in body["Message"]
    assert _call(w, "/restores?serviceInstanceId=si-nobody-knows")[0] == 404
    assert _call(w, "/backups?serviceInstanceId=si-b") == (200, {"Backups": [], "NextToken": None})
    gone = _backup(w, "si-gone", T0)             # Compute Nest forgot it; its records are still listed
    assert [r["BackupId"] for r in _call(w, "/backups?serviceInstanceId=si-gone")[1]["Backups"]] == [gone]
    assert _call(w, "/restores?serviceInstanceId=si-gone") == (200, {"Restores": [], "NextToken": None})
    json.dumps(body)


def test_each_backup_says_who_asked_for_it_and_records_from_before_say_it_from_their_description(w):
    from nestbackup.operations import schedules
    from nestbackup.operations.backup import create_backup, get_backup
    from nestbackup.operations.restore import advance, create_restore, get_restore
    from tests.support.flowplay import play_backup
    mine = create_backup(w, "si-a", now=T0)
    assert mine["Origin"] == "user" and play_backup(w, mine["BackupId"])["Status"] == "Created"
    schedules.set_schedule(w, "si-b", "0 */2 * * *", now=T0 - 3 * 3600)
    [scheduled] = [r["BackupId"] for r in schedules.tick(w, now=T0)["Results"] if r.get("BackupId")]
    assert get_backup(w, scheduled)["Origin"] == "schedule"
    restore = create_restore(w, mine["BackupId"])
    for _ in range(20):
        advance(w, restore["RestoreId"])
        safety = get_restore(w, restore["RestoreId"]).get("SafetyBackupId")
        if safety:
            break
    assert get_backup(w, safety)["Origin"] == "safety"
    legacy = _backup(w, "si-a", T0 - 60)
    stored = w.records.read(legacy)
    header = {k: v for k, v in stored.header.items() if k != "Origin"} | {"Description": "scheduled (0 3 * * *)"}
    w.records.save(stored, header, stored.items)
    assert get_backup(w, legacy)["Origin"] == "schedule"
