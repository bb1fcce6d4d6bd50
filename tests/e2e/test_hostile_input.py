"""Hostile input still gets a clear 4xx in the API's own words: never a 5xx, never the record store's codes."""
import json

import pytest

from nestbackup.model.ids import SERVICE_INSTANCE_ID

DEEP = b'{"ServiceInstanceId": "si-x", "Description": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize("body, code", [
    (DEEP, "InvalidJson"),                                                       # a RecursionError before
    (b'{"ServiceInstanceId": "si-x", "Description": "' + b"[{" * 100 + b'\\"]"}', None),   # in a string: fine
    (json.dumps({"ServiceInstanceId": "si-x", "Description": "a\ud800b"}).encode(), "InvalidParameter"),
    (json.dumps({"ServiceInstanceId": "si-x", "Description": "nul\x00here"}).encode(), "InvalidParameter"),
    (json.dumps({"ServiceInstanceId": "si-x", "Description": "bell\x07"}).encode(), "InvalidParameter"),
    (json.dumps({"ServiceInstanceId": "si-x\n"}).encode(), "InvalidParameter"),
    (json.dumps({"ServiceInstanceId": "si-x", "ClientToken": "tok\n"}).encode(), "InvalidParameter"),
])
def test_malformed_bodies_get_400(api, body, code):
    status, got = api.call("POST", "/backups", body)
    if code is None:          # accepted as input (whatever the unknown instance then gets)
        assert status < 500 and got.get("Code") not in ("InvalidJson", "InvalidParameter"), got
        return
    assert (status, got["Code"]) == (400, code), got
    assert got["Message"] and got["RequestId"]


def test_text_with_line_breaks_and_tabs_is_still_accepted(api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    status, got = api.call("POST", "/backups", {"ServiceInstanceId": si, "Description": "before upgrade\n\tv2 → v3"})
    assert status == 202 and got["Description"] == "before upgrade\n\tv2 → v3"
    api.wait(got["BackupId"])


@pytest.mark.parametrize("token", ["x" * 5000, "backup-zz", "'; DROP", "restore-0123456789ab", "%00"])
def test_a_paging_token_the_api_did_not_give_is_a_400_in_its_own_words(api, token):
    from urllib.parse import quote
    status, got = api.call("GET", f"/backups?serviceInstanceId=si-x&nextToken={quote(token)}")
    assert (status, got["Code"]) == (400, "InvalidParameter"), got
    assert "OTS" not in json.dumps(got)


def test_a_paging_token_from_the_api_still_pages(api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    ids = [api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"]]
    api.wait(ids[0])
    ids.append(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    api.wait(ids[1])
    status, first = api.call("GET", f"/backups?serviceInstanceId={si}&maxResults=1")
    assert status == 200 and first["NextToken"]
    status, second = api.call("GET", f"/backups?serviceInstanceId={si}&maxResults=1&nextToken={first['NextToken']}")
    assert status == 200 and [b["BackupId"] for b in first["Backups"] + second["Backups"]] == ids[::-1]


def test_ids_are_matched_whole():
    assert SERVICE_INSTANCE_ID.match("si-1")
    assert not SERVICE_INSTANCE_ID.match("si-1\n")


def _raw(api, method: str, path: str, body: bytes, content_type: str | None):
    """A request with exactly this body and Content-Type (the Api client always says JSON)."""
    import urllib.error
    import urllib.request
    headers = {"authorization": f"Bearer {api.token}"} | ({"content-type": content_type} if content_type else {})
    req = urllib.request.Request(api.base + path, data=body, method=method, headers=headers)
    try:
        with api._opener.open(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


# Arabic-Indic, Persian and fullwidth ten, and a superscript two: int() and isdigit() take them
@pytest.mark.parametrize("value", ["\u0661\u0660", "\u06f1\u06f0", "\uff11\uff10", "\u00b2"])
def test_a_query_number_in_other_digits_is_refused(api, value):
    from urllib.parse import quote
    status, got = api.call("GET", f"/backups?serviceInstanceId=si-x&maxResults={quote(value)}")
    assert (status, got["Code"]) == (400, "InvalidParameter"), got


@pytest.mark.parametrize("field, value", [("KeepLast", True), ("KeepDays", True), ("KeepLast", False)])
def test_a_boolean_is_not_a_count(api, si, field, value):
    status, got = api.call("PUT", f"/service-instances/{si}/schedule", {"Cron": "0 3 * * *", field: value})
    assert (status, got["Code"]) == (400, "InvalidParameter"), got
    assert api.call("GET", f"/service-instances/{si}/schedule")[0] == 404         # nothing was stored


def test_a_duplicate_key_is_refused(api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    body = b'{"ServiceInstanceId": "si-other", "ServiceInstanceId": "' + si.encode() + b'"}'
    status, got = api.call("POST", "/backups", body)
    assert (status, got["Code"]) == (400, "InvalidJson") and "twice" in got["Message"], got
    assert api.call("GET", f"/backups?serviceInstanceId={si}")[1]["Backups"] == []


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1"])
def test_a_body_that_is_not_said_to_be_json_is_415(api, si, content_type):
    body = json.dumps({"ServiceInstanceId": si}).encode()
    status, got = _raw(api, "POST", "/backups", body, content_type)
    assert (status, got["Code"]) == (415, "UnsupportedMediaType"), got
    assert got["Message"] and got["RequestId"]


def test_json_with_its_charset_is_read(api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")        # a schedule needs an instance Compute Nest knows
    status, got = _raw(api, "PUT", f"/service-instances/{si}/schedule", b'{"Cron": "0 3 * * *", "KeepLast": 3}',
                       "application/json; charset=utf-8")
    assert status == 200 and got["KeepLast"] == 3, got
    assert api.call("DELETE", f"/service-instances/{si}/schedule")[0] == 200


def test_a_body_where_none_is_read_is_refused_not_ignored(api):
    status, got = api.call("POST", "/backups/backup-0123456789ab/cancel", {"Force": True})
    assert (status, got["Code"]) == (400, "InvalidParameter") and "Force" in got["Message"], got


def test_a_repeated_query_parameter_is_refused_not_read_as_its_last_value(api, control, si):
    """FC's HTTP trigger joins a repeated parameter's values with commas; the API takes one value of each."""
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    status, got = api.call("GET", f"/backups?serviceInstanceId=si-other&serviceInstanceId={si}")
    assert (status, got["Code"]) == (400, "InvalidParameter"), got
    assert got["Message"].startswith("serviceInstanceId takes one value"), got
    status, got = api.call("GET", f"/backups?serviceInstanceId={si}&maxResults=5&maxResults=100")
    assert (status, got["Code"]) == (400, "InvalidParameter") and "maxResults" in got["Message"], got
    assert api.call("GET", f"/backups?serviceInstanceId={si}&maxResults=5")[0] == 200
