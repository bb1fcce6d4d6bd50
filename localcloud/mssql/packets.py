"""The TDS 7.4 messages a client sends, and their framing: packet header and types, the PRELOGIN answer, the
LOGIN7 record (with its obfuscated password) and the ALL_HEADERS block before a batch or transaction request.

What is real: the 8-byte packet header, messages split over packets of the negotiated size both ways (the
connection in server.py reads and writes them), PRELOGIN, LOGIN7. What is not: no TLS (PRELOGIN answers
ENCRYPT_NOT_SUP), no MARS.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

# Packet types.
SQL_BATCH, RPC, REPLY, ATTENTION, TRANSACTION, LOGIN7, PRELOGIN = 0x01, 0x03, 0x04, 0x06, 0x0E, 0x10, 0x12

LOGIN_PACKET_SIZE = 4096  # what both sides use until the login response negotiates the client's size
HEADER = struct.Struct(">BBHHBB")  # type, status (1 = last packet of the message), length, spid, packet id, window


class Closed(Exception):
    """The peer went away or broke the protocol: end the connection."""


@dataclass
class Login:
    packet_size: int
    user: str
    password: str
    database: str


def parse_login7(p: bytes) -> Login:
    try:
        packet_size = struct.unpack_from("<i", p, 8)[0]

        def field(pointer: int) -> bytes:  # (offset, length in characters) pairs, offsets from the record start
            offset, length = struct.unpack_from("<HH", p, pointer)
            return p[offset:offset + 2 * length]

        # The password is obfuscated: every byte had its nibbles swapped and was XORed with 0xA5.
        password = bytes((((b ^ 0xA5) << 4) & 0xFF) | ((b ^ 0xA5) >> 4) for b in field(44))
        decode = lambda b: b.decode("utf-16-le", "surrogatepass")  # noqa: E731
        return Login(packet_size, decode(field(40)), decode(password), decode(field(68)))
    except (struct.error, UnicodeDecodeError) as e:
        raise Closed(f"bad LOGIN7 record: {e}") from None


def strip_all_headers(payload: bytes) -> bytes:
    """Skip the ALL_HEADERS block that TDS 7.2+ puts before a batch or transaction request."""
    if len(payload) < 4:
        raise Closed("request without ALL_HEADERS")
    total = struct.unpack_from("<I", payload)[0]
    if not 4 <= total <= len(payload):
        raise Closed("bad ALL_HEADERS length")
    return payload[total:]


def prelogin_response() -> bytes:
    options = [
        (0x00, struct.pack(">IH", 0x0F0007D0, 0)),  # VERSION 15.0.2000
        (0x01, b"\x02"),  # ENCRYPTION: ENCRYPT_NOT_SUP
        (0x02, b"\x00"),  # INSTOPT: instance name accepted
        (0x03, b""),  # THREADID
        (0x04, b"\x00"),  # MARS off
    ]
    offset = 5 * len(options) + 1
    head, data = bytearray(), bytearray()
    for kind, value in options:
        head += struct.pack(">BHH", kind, offset + len(data), len(value))
        data += value
    return bytes(head + b"\xff" + data)
