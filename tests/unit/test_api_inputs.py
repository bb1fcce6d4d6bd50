"""What the API reads from a caller is parsed strictly: whole numbers only from ASCII digits, no boolean where a
number belongs, no duplicate JSON keys, no JSON extensions, and a body only as application/json."""
import pytest

from nestbackup.api.http import ApiError, Request
from nestbackup.api.inputs import int_param, json_body, require_json_media_type


# Arabic-Indic, Persian and fullwidth twelve, a superscript two: int() and isdigit() take them
@pytest.mark.parametrize("raw", ["\u0661\u0662", "\u06f1\u06f2", "\uff11\uff12", "\u00b2", "12\n", " 12", "+12", "-1", "1_0", "0x1", ""])
def test_a_query_number_is_ascii_digits_only(raw):
    with pytest.raises(ApiError) as refused:
        int_param({"maxResults": raw}, "maxResults", 20, 1, 100)
    assert (refused.value.status, refused.value.code) == (400, "InvalidParameter")


def test_a_query_number_of_ascii_digits_is_read():
    assert int_param({"maxResults": "12"}, "maxResults", 20, 1, 100) == 12
    assert int_param({}, "maxResults", 20, 1, 100) == 20


def _body(raw: bytes) -> Request:
    return Request("PUT", "/x", headers={"content-type": "application/json"}, body=raw)


def _refusal(raw: bytes, **kinds) -> tuple[int, str]:
    with pytest.raises(ApiError) as refused:
        json_body(_body(raw), {"A", "B", "N", "F"}, set(), **kinds)
    return refused.value.status, refused.value.code


@pytest.mark.parametrize("raw", [b'{"A": 1, "A": 2}', b'{"A": {"x": 1, "x": 1}}', b'[{"A": 1}, {"B": 1, "B": 2}]'])
def test_duplicate_keys_are_refused_at_any_depth(raw):
    assert _refusal(raw) == (400, "InvalidJson")


@pytest.mark.parametrize("raw", [b'{"A": NaN}', b'{"A": Infinity}', b'{"A": -Infinity}'])
def test_json_extensions_are_refused(raw):
    assert _refusal(raw) == (400, "InvalidJson")


@pytest.mark.parametrize("raw", ['{"A": 1}'.encode("utf-16"), '{"A": 1}'.encode("utf-32"), b'\xef\xbb\xbf{"A": 1}',
                                 b'{"A": "\xff"}'])
def test_the_body_is_utf8_only(raw):
    assert _refusal(raw) == (400, "InvalidJson")


@pytest.mark.parametrize("value", [b"true", b"false", b"1.0", b"1e2", b'"12"', b'"\xd9\xa1\xd9\xa2"', b"[1]"])
def test_a_whole_number_field_takes_neither_a_boolean_nor_a_fraction_nor_text(value):
    assert _refusal(b'{"N": ' + value + b"}", integers={"N"}) == (400, "InvalidParameter")


@pytest.mark.parametrize("value", [b"1", b"0", b'"true"', b"null"])
def test_a_flag_field_takes_only_true_or_false(value):
    if value == b"null":       # absent
        assert json_body(_body(b'{"F": null}'), {"F"}, set(), flags={"F"}) == {"F": None}
        return
    assert _refusal(b'{"F": ' + value + b"}", flags={"F"}) == (400, "InvalidParameter")


def test_well_typed_fields_are_read():
    assert json_body(_body(b'{"N": 7, "F": false, "A": "x"}'), {"N", "F", "A"}, set(),
                     integers={"N"}, flags={"F"}) == {"N": 7, "F": False, "A": "x"}


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "Application/JSON;charset=\"UTF-8\"", "application/json ; charset=utf-8"])
def test_a_json_media_type_is_accepted(content_type):
    require_json_media_type(Request("POST", "/x", headers={"content-type": content_type}, body=b"{}"))


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1", "application/jsonp",
                                          "application/json; boundary=x", "multipart/form-data; boundary=x",
                                          "application/json, text/plain"])
def test_a_body_of_another_media_type_is_415(content_type):
    headers = {} if content_type is None else {"content-type": content_type}
    with pytest.raises(ApiError) as refused:
        require_json_media_type(Request("POST", "/x", headers=headers, body=b"{}"))
    assert (refused.value.status, refused.value.code) == (415, "UnsupportedMediaType")


def test_a_request_without_a_body_needs_no_media_type():
    require_json_media_type(Request("POST", "/x", headers={}, body=b""))


def test_a_utc_time_is_iso_8601_with_z():
    from nestbackup.api.inputs import utc_time
    assert utc_time({"since": "2026-12-06T04:00:00Z"}, "since") == 1796529600.0
    assert utc_time({"since": "2026-12-06T04:00:00.5Z"}, "since") == 1796529600.5
    assert utc_time({}, "since") is None
    for raw in ["2026-12-06", "2026-12-06T04:00:00+08:00", "2026-02-30T00:00:00Z", "yesterday",
                "\u0662026-12-06T04:00:00Z"]:
        with pytest.raises(ApiError):
            utc_time({"since": raw}, "since")
