"""The audit trail end to end: each POST, PUT or DELETE leaves one entry with its principal, outcome and the request
id the caller was answered under; only the admin reads it (API and CLI); nothing removes an entry."""
import json
import time
import urllib.error
import urllib.request

import pytest

from tests.support.product import ADMIN, Api, run_cli


def _exchange(api, method, path, body=None):
    """(status, body, the request id the answer carries: the trigger's x-fc-request-id header)."""
    headers = {"authorization": f"Bearer {api.token}", "content-type": "application/json"}
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(api.base + path, data=data, method=method, headers=headers)
    try:
        with api._opener.open(req, timeout=120) as resp:
            return resp.status, json.loads(resp.read()), resp.headers["x-fc-request-id"]
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers["x-fc-request-id"]


def _entry(api, request_id):
    """The one entry of this request (read as the admin)."""
    found = [e for e in api.documented("GET", "/audit", "/audit?maxResults=100")["Entries"]
             if e["RequestId"] == request_id]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def tenant(product, api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    name = "audit-" + si[-8:]
    status, created, request_id = _exchange(api, "POST", "/tenants", {"Name": name, "Instances": [si]})
    assert status == 201
    return name, Api(product.endpoint, created["Token"]), request_id


def test_a_tenant_creation_a_backup_its_cancel_and_a_refusal_each_leave_one_entry(product, api, control, si, tenant):
    name, alpha, created_under = tenant
    entry = _entry(api, created_under)
    assert (entry["Principal"], entry["Admin"], entry["Action"], entry["Status"], entry["Tenant"]) == \
        ("admin", True, "CreateTenant", 201, name)
    assert entry["SourceIp"] == "127.0.0.1" and "ErrorCode" not in entry

    disk = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0]["DiskId"]
    control.faults(stuck=[disk])                              # the backup keeps running until cancelled
    status, record, backup_under = _exchange(alpha, "POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202
    entry = _entry(api, backup_under)
    assert (entry["Principal"], entry["Admin"], entry["Action"], entry["Status"], entry["ServiceInstanceId"],
            entry["RecordId"]) == (name, False, "CreateBackup", 202, si, record["BackupId"])

    status, cancelled, cancel_under = _exchange(alpha, "POST", f"/backups/{record['BackupId']}/cancel")
    assert status == 200 and cancelled["Status"] == "Cancelled", cancelled
    entry = _entry(api, cancel_under)
    assert (entry["Principal"], entry["Action"], entry["Status"], entry["ServiceInstanceId"], entry["RecordId"]) == \
        (name, "CancelBackup", 200, si, record["BackupId"])

    status, refused, refused_under = _exchange(alpha, "POST", "/tenants", {"Name": "x", "Instances": [si]})
    assert (status, refused["Code"], refused["RequestId"]) == (403, "Forbidden", refused_under)
    entry = _entry(api, refused_under)
    assert (entry["Principal"], entry["Action"], entry["Status"], entry["ErrorCode"]) == \
        (name, "CreateTenant", 403, "Forbidden")

    newest_first = [e["RequestId"] for e in api.call("GET", f"/audit?serviceInstanceId={si}")[1]["Entries"]]
    assert newest_first == [cancel_under, backup_under]
    trail = json.dumps(api.call("GET", "/audit?maxResults=100")[1])
    assert ADMIN not in trail and alpha.token not in trail


def test_only_the_admin_reads_the_trail(product, api, tenant):
    name, alpha, _ = tenant
    status, refused = alpha.call("GET", "/audit")
    assert (status, refused["Code"]) == (403, "Forbidden"), refused
    listed = run_cli(product.endpoint, "audit", "list", "--action", "CreateTenant", "--json")
    assert listed.returncode == 0, listed.stderr
    assert name in {e["Tenant"] for e in json.loads(listed.stdout)["Entries"]}
    shown = run_cli(product.endpoint, "audit", "list", "--max-results", "3")
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 4, shown.stdout      # a header row and 3
    assert shown.stdout.splitlines()[0].split()[:3] == ["TIME", "PRINCIPAL", "ACTION"]
    denied = run_cli(product.endpoint, "audit", "list", token=alpha.token)
    assert denied.returncode == 1 and "Forbidden" in denied.stderr


def test_entries_survive_every_route(product, api, tenant, si):
    name, _, created_under = tenant
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    before = api.call("GET", f"/audit?since={since}&maxResults=100")[1]["Entries"]
    for method in ("DELETE", "PUT", "POST"):
        assert api.call(method, "/audit")[0] == 405
    assert api.call("DELETE", f"/tenants/{name}")[0] == 200
    assert api.call("PUT", f"/service-instances/{si}/schedule", {"Cron": "0 3 * * *"})[0] == 200
    assert api.call("DELETE", f"/service-instances/{si}/schedule")[0] == 200
    after = api.call("GET", f"/audit?since={since}&maxResults=100")[1]["Entries"]
    assert after[-len(before):] == before                    # every earlier entry, unchanged
    assert [e["Action"] for e in after[:3]] == ["DeleteSchedule", "SetSchedule", "DeleteTenant"]
    assert _entry(api, created_under)["Tenant"] == name


@pytest.mark.parametrize("query", ["since=yesterday", "since=2026-12-06", "action=drop%20table",
                                   "nextToken=backup-0123456789ab", "maxResults=0"])
def test_a_bad_filter_is_a_400(api, query):
    status, got = api.call("GET", f"/audit?{query}")
    assert (status, got["Code"]) == (400, "InvalidParameter"), got
