"""PlainBuffer on the server side, built on the SDK's own streams and CRC-8, plus the storage encodings.

The SDK only ever *decodes responses*, so its request-side decoding has gaps that a server hits at once:
  1. `read_column` references an undefined `cell_type` when an update cell carries TAG_CELL_TYPE (DELETE,
     DELETE_ALL, INCREMENT), and checks the cell checksum in a different order than the writer computes it;
  2. `read_primary_key_value` does not know VT_INF_MIN / VT_INF_MAX / VT_AUTO_INCREMENT (GetRange bounds,
     auto-increment primary keys);
  3. a GetRange `rows` blob is ONE 0x75 header followed by the rows back to back;
  4. the constants live on a fake module object (`tablestore.const_module`), filled in by the plainbuffer modules.
`RowReader` overrides exactly those readers; encoding reuses `PlainBufferCodedOutputStream`.

Values inside the server are plain Python: str (STRING), int (INTEGER), float (DOUBLE), bool (BOOLEAN),
bytes (BINARY). The SDK encodes `bytes` as STRING and `bytearray` as BINARY, so `to_wire` converts.
"""
from __future__ import annotations

import base64
import struct

import tablestore.const_module as C  # a ConstModule instance, filled when the tablestore package is imported
from tablestore.error import OTSClientError
from tablestore.metadata import INF_MAX, INF_MIN, PK_AUTO_INCR
from tablestore.plainbuffer.plain_buffer_coded_stream import PlainBufferCodedInputStream, PlainBufferCodedOutputStream
from tablestore.plainbuffer.plain_buffer_crc8 import PlainBufferCrc8 as Crc
from tablestore.plainbuffer.plain_buffer_stream import PlainBufferInputStream, PlainBufferOutputStream

DELETE_ALL = C.DELETE_ALL_VERSION
DELETE_ONE = C.DELETE_ONE_VERSION
INCREMENT = C.INCREMENT

_UNBOUNDED = 1 << 62  # capacity for the SDK's output stream, which insists on one


class PlainBufferError(ValueError):
    """The request's PlainBuffer is malformed (answered as OTSParameterInvalid)."""


# ---------------------------------------------------------------------------------------------- decoding
class RowReader(PlainBufferCodedInputStream):
    """The SDK's coded input stream with the request-side readers fixed."""

    def __init__(self, data: bytes):
        super().__init__(PlainBufferInputStream(data))

    def read_primary_key_value(self, crc):
        s = self.input_stream
        if s.last_tag != C.TAG_CELL_VALUE:
            raise PlainBufferError("Expect TAG_CELL_VALUE in a primary key cell.")
        s.read_raw_little_endian32()
        vt = ord(s.read_raw_byte())
        if vt in (C.VT_INF_MIN, C.VT_INF_MAX, C.VT_AUTO_INCREMENT):
            crc = Crc.crc_int8(crc, vt)
            s.read_tag()
            return {C.VT_INF_MIN: INF_MIN, C.VT_INF_MAX: INF_MAX, C.VT_AUTO_INCREMENT: PK_AUTO_INCR}[vt], crc
        if vt == C.VT_INTEGER:
            value = s.read_int64()
            crc = Crc.crc_int64(Crc.crc_int8(crc, vt), value)
        elif vt in (C.VT_STRING, C.VT_BLOB):
            size = s.read_int32()
            raw = bytes(s.read_bytes(size))
            crc = Crc.crc_bytes(Crc.crc_int32(Crc.crc_int8(crc, vt), size), raw)
            value = raw.decode("utf-8") if vt == C.VT_STRING else raw
        elif vt == C.VT_BOOLEAN:  # not a valid key type; read it so that validation can say so
            value = s.read_boolean()
            crc = Crc.crc_int8(Crc.crc_int8(crc, vt), 1 if value else 0)
        else:
            raise PlainBufferError(f"Unsupported primary key value type: {vt}.")
        s.read_tag()
        return value, crc

    def read_column_value(self, crc):
        value, crc = super().read_column_value(crc)
        return (bytes(value) if isinstance(value, bytearray) else value), crc

    def read_column(self, row_crc):
        """One attribute cell: (name, value, timestamp, cell_type, row_crc); cell_type None means PUT."""
        s = self.input_stream
        s.read_tag()
        if s.last_tag != C.TAG_CELL_NAME:
            raise PlainBufferError("Expect TAG_CELL_NAME in a cell.")
        crc = 0
        size = s.read_raw_little_endian32()
        name = s.read_utf_string(size)
        crc = Crc.crc_string(crc, name)
        s.read_tag()
        value = timestamp = cell_type = None
        if s.last_tag == C.TAG_CELL_VALUE:
            value, crc = self.read_column_value(crc)
        if s.last_tag == C.TAG_CELL_TYPE:
            cell_type = ord(s.read_raw_byte())
            s.read_tag()
        if s.last_tag == C.TAG_CELL_TIMESTAMP:
            timestamp = s.read_int64()
            s.read_tag()
        if s.last_tag != C.TAG_CELL_CHECKSUM:
            raise PlainBufferError("Expect TAG_CELL_CHECKSUM in a cell.")
        # The writer folds in the timestamp, then the cell type (tags are written the other way round).
        expected = crc
        if timestamp is not None:
            expected = Crc.crc_int64(expected, timestamp)
        if cell_type is not None:
            expected = Crc.crc_int8(expected, cell_type)
        got = ord(s.read_raw_byte())
        if got != expected:
            alt = crc  # tolerate the tag order too
            if cell_type is not None:
                alt = Crc.crc_int8(alt, cell_type)
            if timestamp is not None:
                alt = Crc.crc_int64(alt, timestamp)
            if got != alt:
                raise PlainBufferError("Cell checksum mismatch.")
        s.read_tag()
        return name, value, timestamp, cell_type, Crc.crc_int8(row_crc, got)

    def read_request_row(self):
        """(primary_key [(name, value)], cells [(name, value, ts, cell_type)], delete_marker)."""
        s = self.input_stream
        if self.read_header() != C.HEADER:
            raise PlainBufferError("Invalid PlainBuffer header.")
        s.read_tag()
        if s.last_tag != C.TAG_ROW_PK:
            raise PlainBufferError("Expect TAG_ROW_PK.")
        s.read_tag()
        row_crc = 0
        pk, cells = [], []
        while s.last_tag == C.TAG_CELL:
            name, value, row_crc = self.read_primary_key_column(row_crc)
            pk.append((name, value))
        if s.last_tag == C.TAG_ROW_DATA:
            s.read_tag()
            while s.last_tag == C.TAG_CELL:
                name, value, ts, cell_type, row_crc = self.read_column(row_crc)
                cells.append((name, value, ts, cell_type))
        deleted = s.last_tag == C.TAG_DELETE_ROW_MARKER
        if deleted:
            s.read_tag()
        row_crc = Crc.crc_int8(row_crc, 1 if deleted else 0)
        if s.last_tag != C.TAG_ROW_CHECKSUM:
            raise PlainBufferError("Expect TAG_ROW_CHECKSUM.")
        if ord(s.read_raw_byte()) != row_crc:
            raise PlainBufferError("Row checksum mismatch.")
        s.read_tag()
        return pk, cells, deleted


def decode_row(data: bytes):
    try:
        return RowReader(data).read_request_row()
    except (OTSClientError, struct.error, UnicodeDecodeError, IndexError, TypeError) as exc:
        raise PlainBufferError(str(exc) or "Malformed PlainBuffer.") from exc


def decode_variant(data: bytes):
    """A filter's column_value: one type byte then the value, no length prefix (`write_column_value`)."""
    if not data:
        raise PlainBufferError("Empty column value in filter.")
    vt, rest = data[0], data[1:]
    try:
        if vt == C.VT_INTEGER:
            return struct.unpack("<q", rest[:8])[0]
        if vt == C.VT_DOUBLE:
            return struct.unpack("<d", rest[:8])[0]
        if vt == C.VT_BOOLEAN:
            return rest[:1] != b"\x00"
        if vt in (C.VT_STRING, C.VT_BLOB):
            size = struct.unpack("<i", rest[:4])[0]
            raw = bytes(rest[4:4 + size])
            if len(raw) != size:
                raise PlainBufferError("Truncated column value in filter.")
            return raw.decode("utf-8") if vt == C.VT_STRING else raw
    except (struct.error, UnicodeDecodeError) as exc:
        raise PlainBufferError(str(exc)) from exc
    raise PlainBufferError(f"Unsupported column value type in filter: {vt}.")


# ---------------------------------------------------------------------------------------------- encoding
def to_wire(value):
    return bytearray(value) if isinstance(value, bytes) else value


def _name(name: str) -> bytes:
    # The SDK writes len(name) as the byte length, which is only right for bytes.
    return name.encode("utf-8")


class RowsWriter:
    """Rows the way the service sends them: one header, then rows back to back (a GetRange blob)."""

    def __init__(self) -> None:
        self.stream = PlainBufferOutputStream(_UNBOUNDED)
        self.out = PlainBufferCodedOutputStream(self.stream)
        self.out.write_header()

    def add(self, primary_key, columns=()) -> None:
        """primary_key [(name, value)], columns [(name, value, timestamp)]."""
        crc = self.out.write_primary_key([(_name(n), to_wire(v)) for n, v in primary_key], 0)
        if columns:
            crc = self.out.write_columns([(_name(n), to_wire(v), ts) for n, v, ts in columns], crc)
        self.out.write_row_checksum(Crc.crc_int8(crc, 0))

    def size(self) -> int:
        return self.stream.count()

    def getvalue(self) -> bytes:
        return bytes(self.stream.get_buffer())


def encode_row(primary_key, columns=()) -> bytes:
    w = RowsWriter()
    w.add(primary_key, columns)
    return w.getvalue()


# ---------------------------------------------------------------------------------------------- types
def value_type(value) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INTEGER"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, (bytes, bytearray)):
        return "BINARY"
    if value is INF_MIN:
        return "INF_MIN"
    if value is INF_MAX:
        return "INF_MAX"
    if value is PK_AUTO_INCR:
        return "AUTO_INCREMENT"
    return type(value).__name__


# ---------------------------------------------------------------------------------------------- storage
def key_part(value) -> bytes:
    """Order-preserving, prefix-free encoding of one primary-key value (memcmp order = Tablestore order).

    INTEGER: 8 bytes big-endian with the sign bit flipped. STRING (UTF-8) / BINARY: the bytes with 0x00 escaped
    as 00 FF, terminated by 00 00.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return struct.pack(">Q", value + (1 << 63))
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return raw.replace(b"\x00", b"\x00\xff") + b"\x00\x00"


def successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with prefix (None: no such bound)."""
    p = prefix.rstrip(b"\xff")
    if not p:
        return None
    return p[:-1] + bytes([p[-1] + 1])


_TAG = {bool: "b", int: "i", float: "d", str: "s", bytes: "x"}


def dump_value(value):
    tag = _TAG[type(value)]
    return [tag, base64.b64encode(value).decode() if tag == "x" else value]


def load_value(item):
    tag, v = item
    if tag == "x":
        return base64.b64decode(v)
    if tag == "d":
        return float(v)
    return v
