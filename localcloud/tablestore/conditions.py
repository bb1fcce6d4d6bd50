"""Column conditions and read filters: a serialized `table_store_filter.Filter` evaluated against one row.

`columns` is {name: value} of the row's attribute columns (latest version). A missing row is an empty dict.
"""
from __future__ import annotations

import re
from functools import lru_cache

from google.protobuf.message import DecodeError
from tablestore.protobuf import table_store_filter_pb2 as fpb

from .codec import PlainBufferError, decode_variant, value_type
from .errors import invalid


class Filter:
    """A parsed filter tree; `matches(columns)` evaluates it, `pagination` is a top-level column page."""

    def __init__(self, raw: bytes, allow_pagination: bool):
        try:
            proto = fpb.Filter.FromString(raw)
        except DecodeError as exc:
            raise invalid("Invalid filter: the column condition cannot be parsed.") from exc
        self.pagination: tuple[int, int] | None = None
        if proto.type == fpb.FT_COLUMN_PAGINATION:
            if not allow_pagination:
                raise invalid("ColumnPaginationFilter is not allowed in a condition.")
            page = fpb.ColumnPaginationFilter.FromString(proto.filter)
            if page.offset < 0 or page.limit < 0:
                raise invalid("Invalid ColumnPaginationFilter: offset and limit must not be negative.")
            self.pagination = (page.offset, page.limit)
            self._eval = lambda columns: True
        else:
            self._eval = _compile(proto)

    def matches(self, columns: dict) -> bool:
        return self._eval(columns)

    def page(self, names: list[str]) -> list[str]:
        if self.pagination is None:
            return names
        offset, limit = self.pagination
        return names[offset:offset + limit]


def _compile(proto):
    try:
        if proto.type == fpb.FT_SINGLE_COLUMN_VALUE:
            return _single(fpb.SingleColumnValueFilter.FromString(proto.filter))
        if proto.type == fpb.FT_COMPOSITE_COLUMN_VALUE:
            comp = fpb.CompositeColumnValueFilter.FromString(proto.filter)
            subs = [_compile(sub) for sub in comp.sub_filters]
            if comp.combinator == fpb.LO_NOT:
                if len(subs) != 1:
                    raise invalid("The NOT operator requires exactly one sub condition.")
                only = subs[0]
                return lambda cols: not only(cols)
            if len(subs) < 2:
                raise invalid("The AND/OR operators require at least two sub conditions.")
            if comp.combinator == fpb.LO_AND:
                return lambda cols: all(f(cols) for f in subs)
            if comp.combinator == fpb.LO_OR:
                return lambda cols: any(f(cols) for f in subs)
            raise invalid(f"Unknown logical operator: {comp.combinator}.")
        if proto.type == fpb.FT_COLUMN_PAGINATION:
            raise invalid("ColumnPaginationFilter cannot be nested.")
    except DecodeError as exc:
        raise invalid("Invalid filter: the column condition cannot be parsed.") from exc
    raise invalid(f"Unknown filter type: {proto.type}.")


_CAST = {fpb.VT_INTEGER: int, fpb.VT_DOUBLE: float, fpb.VT_STRING: str}


@lru_cache(maxsize=256)
def _regex(pattern: str):
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise invalid(f"Invalid regex: {pattern!r}.") from exc


def _single(s):
    name = s.column_name
    comparator = s.comparator
    pass_if_missing = not s.filter_if_missing
    if comparator in (fpb.CT_EXIST, fpb.CT_NOT_EXIST):
        want = comparator == fpb.CT_EXIST
        return lambda cols: (name in cols) == want
    if comparator not in _ORDERED:
        raise invalid(f"Unknown comparator: {comparator}.")
    try:
        target = decode_variant(s.column_value)
    except PlainBufferError as exc:
        raise invalid(str(exc)) from exc
    transform = None
    if s.HasField("value_trans_rule"):
        rx = _regex(s.value_trans_rule.regex)
        cast = _CAST.get(s.value_trans_rule.cast_type, str) if s.value_trans_rule.HasField("cast_type") else str

        def transform(value):
            if not isinstance(value, str):
                return _MISSING
            m = rx.search(value)
            if m is None:
                return _MISSING
            text = m.group(1) if m.re.groups else m.group(0)
            try:
                return cast(text)
            except ValueError:
                return _MISSING

    def check(cols):
        if name not in cols:
            return pass_if_missing
        value = cols[name]
        if transform is not None:
            value = transform(value)
            if value is _MISSING:
                return pass_if_missing
        return compare(value, target, comparator)
    return check


_MISSING = object()
_ORDERED = {fpb.CT_EQUAL, fpb.CT_NOT_EQUAL, fpb.CT_GREATER_THAN, fpb.CT_GREATER_EQUAL, fpb.CT_LESS_THAN,
            fpb.CT_LESS_EQUAL}


def compare(value, target, comparator) -> bool:
    """Tablestore compares values of the same type only: STRING/BINARY bytewise, numbers numerically.

    A type mismatch satisfies NOT_EQUAL and nothing else. (Python's code-point order on str is UTF-8 byte order.)
    """
    if value_type(value) != value_type(target):
        return comparator == fpb.CT_NOT_EQUAL
    if comparator == fpb.CT_EQUAL:
        return value == target
    if comparator == fpb.CT_NOT_EQUAL:
        return value != target
    if comparator == fpb.CT_GREATER_THAN:
        return value > target
    if comparator == fpb.CT_GREATER_EQUAL:
        return value >= target
    if comparator == fpb.CT_LESS_THAN:
        return value < target
    if comparator == fpb.CT_LESS_EQUAL:
        return value <= target
    raise invalid(f"Unknown comparator: {comparator}.")
