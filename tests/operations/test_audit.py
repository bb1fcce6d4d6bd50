"""The audit trail on the in-memory ports: append-only entries, read newest first with filters and paging, pruned by
day after the retention; and the API's edge writing one entry per mutating request, whatever its outcome."""
import json

import pytest

from nestbackup.api.app import handle
from nestbackup.api.http import Request
from nestbackup.api.routes import route_table
from nestbackup.operations import audit
from tests.support.memory.wiring import MemoryWiring

ADMIN = "admin-token-for-tests"
T0 = 1_800_000_000.0            # 2027-01-15T08:00:00Z
DAY = 86400


def _entry(action="CreateBackup", si="si-a", principal="admin"):
    return {"Principal": principal, "Admin": principal == "admin", "Action": action, "ServiceInstanceId": si,
            "RecordId": None, "Tenant": None, "Status": 202, "ErrorCode": None, "SourceIp": None}


def test_an_entry_is_never_overwritten():
    w = MemoryWiring()
    assert audit.append(w, _entry(si="si-a"), "req-1", now=T0)
    assert not audit.append(w, _entry(si="si-b"), "req-1", now=T0)        # the same request at the same time
    assert audit.append(w, _entry(si="si-c"), "req-2", now=T0)            # another request at the same time
    listed = audit.list_entries(w, now=T0 + 1)["Entries"]
    assert [(e["RequestId"], e["ServiceInstanceId"]) for e in listed] == [("req-2", "si-c"), ("req-1", "si-a")]


def test_entries_are_listed_newest_first_filtered_and_paged_across_days():
    w = MemoryWiring(audit_retention_days=10)
    for i in range(10):
        audit.append(w, _entry(si="si-a" if i % 2 else "si-b", action="CreateBackup" if i < 5 else "SetSchedule"),
                     f"req-{i}", now=T0 + i * DAY / 3)
    now = T0 + 4 * DAY
    everything = audit.list_entries(w, now=now)
    assert [e["RequestId"] for e in everything["Entries"]] == [f"req-{i}" for i in range(9, -1, -1)]
    assert everything["NextToken"] is None
    assert [e["RequestId"] for e in audit.list_entries(w, service_instance_id="si-b", action="CreateBackup",
                                                       now=now)["Entries"]] == ["req-4", "req-2", "req-0"]
    assert [e["RequestId"] for e in audit.list_entries(w, since=T0 + 7 * DAY / 3, now=now)["Entries"]] == \
        ["req-9", "req-8", "req-7"]
    paged, token = [], None
    while True:
        page = audit.list_entries(w, limit=3, next_token=token, now=now)
        assert len(page["Entries"]) <= 3
        paged += [e["RequestId"] for e in page["Entries"]]
        token = page["NextToken"]
        if token is None:
            break
    assert paged == [f"req-{i}" for i in range(9, -1, -1)]
    assert all("Epoch" not in e for e in everything["Entries"])


def test_a_sparse_trail_pages_on_by_day_and_ends():
    w = MemoryWiring()
    audit.append(w, _entry(), "old", now=T0)
    now = T0 + 100 * DAY
    page, seen, reads = audit.list_entries(w, now=now), [], 1
    while page["NextToken"]:
        seen += page["Entries"]
        page = audit.list_entries(w, next_token=page["NextToken"], now=now)
        reads += 1
    seen += page["Entries"]
    assert [e["RequestId"] for e in seen] == ["old"] and reads == 4      # 367 days, 92 a page


@pytest.mark.parametrize("token", ["x", "1800000000000", "1800000000000#a b", "١٨٠٠٠٠٠٠٠٠٠٠٠#a"])
def test_a_token_the_trail_did_not_give_is_refused(token):
    from nestbackup.errors import ValidationError
    with pytest.raises(ValidationError):
        audit.list_entries(MemoryWiring(), next_token=token, now=T0)


def test_prune_deletes_whole_days_past_the_retention_and_no_other():
    w = MemoryWiring(audit_retention_days=30)
    for day in range(40):
        audit.append(w, _entry(), f"req-{day}", now=T0 + day * DAY)
    now = T0 + 40 * DAY
    assert audit.prune(w, now=now)["Deleted"] == 1                   # no marker yet: the newest expired day only
    w2 = MemoryWiring(audit_retention_days=30)
    w2.store = w.store
    w2.documents = w.store
    w2.store.put_doc(audit.PRUNED, "through", {"Day": "2027-01-01"})     # before the first entry
    out = audit.prune(w2, now=now)
    assert out["Deleted"] == 9
    kept = [e["RequestId"] for e in audit.list_entries(w2, now=now)["Entries"]]
    assert kept == [f"req-{d}" for d in range(39, 9, -1)]               # the 30 newest days, all of them
    assert audit.prune(w2, now=now) == {"Deleted": 0, "Through": None}   # nothing more to do


def test_a_shortened_retention_clears_the_days_between_and_a_large_day_takes_several_runs(monkeypatch):
    monkeypatch.setattr(audit, "PRUNE_DELETES_PER_RUN", 4)
    w = MemoryWiring(audit_retention_days=10)
    for i in range(6):
        audit.append(w, _entry(), f"busy-{i}", now=T0 + i)
    audit.append(w, _entry(), "next-day", now=T0 + DAY)
    audit.append(w, _entry(), "kept", now=T0 + 12 * DAY)
    w.store.put_doc(audit.PRUNED, "through", {"Day": "2027-01-10"})
    now = T0 + 13 * DAY
    assert audit.prune(w, now=now) == {"Deleted": 4, "Through": "2027-01-14"}
    assert audit.prune(w, now=now) == {"Deleted": 3, "Through": "2027-01-17"}
    assert w.store.docs("audit#2027-01-15") == w.store.docs("audit#2027-01-16") == []
    assert [d["RequestId"] for _, d, _ in w.store.docs("audit#2027-01-27")] == ["kept"]


# -- the API's edge

def _call(w, method, path, body=None, token=ADMIN, request_id=None, source_ip="198.51.100.7"):
    headers = {"content-type": "application/json"} | ({"authorization": f"Bearer {token}"} if token else {})
    req = Request(method, "/api" + path, headers=headers, body=b"" if body is None else json.dumps(body).encode(),
                  source_ip=source_ip, **({"request_id": request_id} if request_id else {}))
    response = handle(req, lambda: w, admin_token=ADMIN)
    return response.status, response.body


def _trail(w):
    return _call(w, "GET", "/audit")[1]["Entries"]


def test_each_mutating_request_leaves_one_entry_with_its_principal_outcome_and_request_id():
    w = MemoryWiring()
    w.seed("si-aaaa")
    status, tenant = _call(w, "POST", "/tenants", {"Name": "alpha", "Instances": ["si-aaaa"]}, request_id="r-1")
    assert status == 201
    status, backup = _call(w, "POST", "/backups", {"ServiceInstanceId": "si-aaaa"}, token=tenant["Token"],
                           request_id="r-2")
    assert status == 202
    assert _call(w, "GET", f"/backups/{backup['BackupId']}")[0] == 200                   # a read: no entry
    assert _call(w, "POST", "/backups", {"ServiceInstanceId": "si-other"}, token=tenant["Token"],
                 request_id="r-3")[0] == 404
    assert _call(w, "POST", "/tenants", {"Name": "x", "Instances": ["si-aaaa"]}, token="wrong",
                 request_id="r-4")[0] == 401
    assert _call(w, "PUT", "/service-instances/si-aaaa/schedule", {"Cron": "0 3 * * *", "KeepLast": True},
                 request_id="r-5")[0] == 400
    trail = _trail(w)
    got = [(e["RequestId"], e.get("Principal"), e["Admin"], e["Action"], e["Status"], e.get("ErrorCode"),
            e.get("ServiceInstanceId"), e.get("RecordId"), e.get("Tenant")) for e in trail]
    assert got == [
        ("r-5", "admin", True, "SetSchedule", 400, "InvalidParameter", "si-aaaa", None, None),
        ("r-4", None, False, "CreateTenant", 401, "Unauthorized", None, None, "x"),
        ("r-3", "alpha", False, "CreateBackup", 404, "NotFound", "si-other", None, None),
        ("r-2", "alpha", False, "CreateBackup", 202, None, "si-aaaa", backup["BackupId"], None),
        ("r-1", "admin", True, "CreateTenant", 201, None, None, None, "alpha"),
    ]
    assert {e["SourceIp"] for e in trail} == {"198.51.100.7"}
    assert tenant["Token"] not in json.dumps(trail) and ADMIN not in json.dumps(trail)


def test_a_tenant_cannot_read_the_trail_and_nothing_removes_an_entry():
    w = MemoryWiring()
    tenant = _call(w, "POST", "/tenants", {"Name": "beta", "Instances": ["si-bbbb"]})[1]
    status, refused = _call(w, "GET", "/audit", token=tenant["Token"])
    assert (status, refused["Code"]) == (403, "Forbidden")
    assert all(route.method == "GET" for route in route_table() if route.path.startswith("/audit"))
    for method in ("DELETE", "PUT", "POST"):
        assert _call(w, method, "/audit")[0] == 405
    assert [e["Action"] for e in _trail(w)] == ["CreateTenant"]       # a 405 is no route's request


class _AuditStoreDown:
    """The documents port, refusing every write to the audit trail (the store failing after the operation)."""

    def __init__(self, store) -> None:
        self.store = store

    def create_doc(self, collection, key, doc):
        if collection.startswith(audit.PREFIX):
            raise ConnectionError("the store is unreachable")
        return self.store.create_doc(collection, key, doc)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_an_entry_the_store_refuses_is_logged_whole_and_the_answer_stands(caplog):
    w = MemoryWiring()
    w.documents = _AuditStoreDown(w.store)
    status, tenant = _call(w, "POST", "/tenants", {"Name": "gamma", "Instances": ["si-cccc"]}, request_id="r-9")
    assert status == 201 and tenant["Name"] == "gamma"
    [line] = [r for r in caplog.records if r.getMessage() == "audit entry not stored"]
    assert line.fields["request_id"] == "r-9" and line.fields["Action"] == "CreateTenant"
    assert line.fields["Tenant"] == "gamma" and tenant["Token"] not in json.dumps(line.fields)


def test_the_timers_sweep_job_prunes_the_trail():
    from pathlib import Path

    from tests.support.flowplay import _handler_on
    w = MemoryWiring(audit_retention_days=1)
    audit.append(w, _entry(), "long-ago", now=1_000_000_000.0)
    w.store.put_doc(audit.PRUNED, "through", {"Day": "2001-09-01"})
    timer = _handler_on(Path(__file__).parents[2] / "functions" / "nestbackup-timer" / "index.py", w)
    out = timer({"payload": '{"Job": "sweep"}'}, None)
    assert out["AuditPruned"] == {"Deleted": 1, "Through": "2002-10-06"}        # 400 days a run
    assert audit.list_entries(w, now=1_000_000_000.0)["Entries"] == []
