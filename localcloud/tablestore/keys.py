"""Primary keys: validation against a table's schema, and the order-preserving byte keys rows are stored under
(range bounds included)."""
from __future__ import annotations

from tablestore.metadata import INF_MAX, INF_MIN

from . import errors
from .codec import key_part, successor, value_type
from .storage import INT64, TableInfo, value_size

MAX_PK_VALUE = 1024
_VT = {"INTEGER": "VT_INTEGER", "STRING": "VT_STRING", "BINARY": "VT_BLOB", "DOUBLE": "VT_DOUBLE",
       "BOOLEAN": "VT_BOOLEAN", "INF_MIN": "VT_INF_MIN", "INF_MAX": "VT_INF_MAX",
       "AUTO_INCREMENT": "VT_AUTO_INCREMENT"}


def check_pk(table: TableInfo, pk: list, *, bound: bool = False, auto: bool = False) -> list:
    """Validate a primary key against the schema; return its values in schema order."""
    schema = table.pk
    if len(pk) != len(schema):
        raise errors.invalid_pk(f"Validate PK size fail. Input: {len(pk)}, Meta: {len(schema)}.")
    values = []
    for (name, value), (sname, stype, sauto) in zip(pk, schema):
        if name != sname:
            raise errors.invalid_pk(f"Validate PK name fail. Input: {name}, Meta: {sname}.")
        vtype = value_type(value)
        if vtype in ("INF_MIN", "INF_MAX"):
            if not bound:
                raise errors.invalid_pk(f"Validate PK type fail. Input: {_VT[vtype]}, Meta: {_VT[stype]}.")
        elif vtype == "AUTO_INCREMENT":
            if not (auto and sauto):
                raise errors.invalid_pk(f"Validate PK type fail. Input: VT_AUTO_INCREMENT, Meta: {_VT[stype]}.")
        elif vtype != stype:
            raise errors.invalid_pk(f"Validate PK type fail. Input: {_VT.get(vtype, vtype)}, Meta: {_VT[stype]}.")
        elif stype in ("STRING", "BINARY") and value_size(value) > MAX_PK_VALUE:
            raise errors.invalid(f"The length of primary key column: '{name}' exceeds the MaxLength: "
                                         f"{MAX_PK_VALUE} with CurrentLength: {value_size(value)}.")
        elif stype == "INTEGER" and not INT64[0] <= value <= INT64[1]:
            raise errors.invalid(f"Primary key column '{name}' is out of the INTEGER range.")
        values.append(value)
    return values


def key(values: list) -> bytes:
    return b"".join(key_part(v) for v in values)


def bound(values: list) -> bytes | None:
    """A range bound as a byte string comparable with row keys (None: above every key)."""
    parts: list[bytes] = []
    for v in values:
        if v is INF_MIN:
            return b"".join(parts)
        if v is INF_MAX:
            return successor(b"".join(parts))
        parts.append(key_part(v))
    return b"".join(parts)


def lt(a: bytes | None, b: bytes | None) -> bool:
    """a < b for range bounds, None standing for "above every key"."""
    return a is not None and (b is None or a < b)
