"""The TDS 7.4 token stream the stand-in answers with (MS-TDS 2.2.7): each reply is a sequence of tokens.

What is real: LOGINACK, ENVCHANGE (database, packet size, transactions), COLMETADATA/ROW with NVARCHAR,
NVARCHAR(MAX), INTN(8) and DECIMALN, DONE with row counts and its status bits, and ERROR/INFO tokens with SQL
Server's numbers. `batch_response` turns the engine's outcomes of one batch into the reply the client expects.
"""
from __future__ import annotations

import struct

from .catalog import SqlError
from .results import Column, Outcome, ResultSet

# Tokens.
COLMETADATA, ERROR, INFO, LOGINACK, ROW, ENVCHANGE, DONE = 0x81, 0xAA, 0xAB, 0xAD, 0xD1, 0xE3, 0xFD
# DONE status bits.
DONE_MORE, DONE_ERROR, DONE_COUNT, DONE_ATTN = 0x01, 0x02, 0x10, 0x20
# ENVCHANGE types.
ENV_DATABASE, ENV_PACKET_SIZE, ENV_BEGIN_TRAN, ENV_COMMIT_TRAN, ENV_ROLLBACK_TRAN = 1, 4, 8, 9, 10

TDS74 = 0x74000004
SERVER_NAME = "localcloud-mssql"
COLLATION = bytes.fromhex("0408d00000")  # Chinese_PRC_CI_AS: LCID 0x0804, case-insensitive, accent-sensitive

_NVARCHAR_LIMIT = 8000  # bytes; longer strings go out as NVARCHAR(MAX)
_PLP_NULL = 0xFFFFFFFFFFFFFFFF


def _ucs2(s: str) -> bytes:
    return s.encode("utf-16-le", "surrogatepass")


def _b_varchar(s: str) -> bytes:
    data = _ucs2(s)
    return bytes([len(data) // 2]) + data


def _us_varchar(s: str) -> bytes:
    data = _ucs2(s)
    return struct.pack("<H", len(data) // 2) + data


def encode_token(token: int, body: bytes) -> bytes:
    return struct.pack("<BH", token, len(body)) + body


def envchange(kind: int, new: str, old: str) -> bytes:
    return encode_token(ENVCHANGE, bytes([kind]) + _b_varchar(new) + _b_varchar(old))


def message(token: int, number: int, severity: int, text: str) -> bytes:
    body = struct.pack("<iBB", number, 1, severity) + _us_varchar(text) + _b_varchar(SERVER_NAME) + _b_varchar("")
    return encode_token(token, body + struct.pack("<i", 1))


def error(e: SqlError) -> bytes:
    return message(ERROR, e.number, e.severity, e.message)


def done(status: int, count: int = 0) -> bytes:
    return struct.pack("<BHHQ", DONE, status, 0, count)


def loginack() -> bytes:
    # interface 1 = SQL_TSQL; program version 15.0.2000 = SQL Server 2019
    return encode_token(LOGINACK, bytes([1]) + struct.pack(">I", TDS74) + _b_varchar("Microsoft SQL Server")
                        + bytes([15, 0, 0x07, 0xD0]))


def _column_codec(column: Column, values: list):
    """TYPE_INFO bytes and a value encoder for one result column."""
    if column.type == "bigint":
        return b"\x26\x08", lambda v: b"\x00" if v is None else b"\x08" + struct.pack("<q", v)
    if column.type == "decimal":
        def encode_decimal(v):
            if v is None:
                return b"\x00"
            t = v.as_tuple()
            magnitude = int("".join(map(str, t.digits))) * 10 ** (int(t.exponent) + column.scale)
            return bytes([17, 0 if t.sign else 1]) + magnitude.to_bytes(16, "little")
        return bytes([0x6A, 17, 38, column.scale]), encode_decimal
    if any(len(_ucs2(v)) > _NVARCHAR_LIMIT for v in values if v is not None):
        # NVARCHAR(MAX): a partially length-prefixed value, sent as one chunk plus the terminator.
        def encode_plp(v):
            if v is None:
                return struct.pack("<Q", _PLP_NULL)
            data = _ucs2(v)
            chunk = struct.pack("<I", len(data)) + data if data else b""  # a zero-length chunk would end the value
            return struct.pack("<Q", len(data)) + chunk + struct.pack("<I", 0)
        return b"\xe7\xff\xff" + COLLATION, encode_plp
    return (b"\xe7" + struct.pack("<H", _NVARCHAR_LIMIT) + COLLATION,
            lambda v: b"\xff\xff" if v is None else struct.pack("<H", len(_ucs2(v))) + _ucs2(v))


def result_tokens(result: ResultSet) -> bytes:
    out = bytearray(struct.pack("<BH", COLMETADATA, len(result.columns)))
    encoders = []
    for i, column in enumerate(result.columns):
        type_info, encode = _column_codec(column, [row[i] for row in result.rows])
        encoders.append(encode)
        out += struct.pack("<IH", 0, 0x0001) + type_info + _b_varchar(column.name)  # user type 0, nullable
    for row in result.rows:
        out.append(ROW)
        for encode, value in zip(encoders, row):
            out += encode(value)
    return bytes(out)


def batch_response(outcomes: list[Outcome], failure: SqlError | None) -> bytes:
    out = bytearray()
    for i, outcome in enumerate(outcomes):
        if outcome.database:
            out += envchange(ENV_DATABASE, *outcome.database)
        for number, text in outcome.infos:
            out += message(INFO, number, 0, text)
        if outcome.result:
            out += result_tokens(outcome.result)
        status = DONE_MORE if i < len(outcomes) - 1 or failure else 0
        if outcome.rowcount is not None:
            status |= DONE_COUNT
        out += done(status, outcome.rowcount or 0)
    if failure:
        out += error(failure) + done(DONE_ERROR)
    if not outcomes and not failure:  # an empty batch (only comments or semicolons)
        out += done(0)
    return bytes(out)
