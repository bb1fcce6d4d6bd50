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
