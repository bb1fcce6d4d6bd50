"""A TCP server speaking the TDS 7.4 wire protocol (MS-TDS), so the unmodified `pytds` client talks to it.

What is real: the packet framing (8-byte headers, messages split over packets of the negotiated size
both ways), PRELOGIN, LOGIN7 with the obfuscated password, LOGINACK, ENVCHANGE (database, packet
size, transactions), COLMETADATA/ROW with NVARCHAR, NVARCHAR(MAX), INTN(8) and DECIMALN, DONE with
row counts, ERROR/INFO tokens with SQL Server's numbers, ATTENTION acknowledgements, and one thread
per connection.
What is not: no TLS (PRELOGIN answers ENCRYPT_NOT_SUP), no MARS, no integrated authentication, no RPC
(parameterised queries get an error), and transaction manager requests are acknowledged without any
transaction behind them — every statement is applied immediately. The statements themselves are
interpreted by `sql.Engine`.
"""
from __future__ import annotations

import itertools
import logging
import select
import socket
import struct
import threading
from dataclasses import dataclass

from .catalog import Catalog, SqlError
from .sql import Column, Engine, Outcome, ResultSet, Session

log = logging.getLogger(__name__)

# Packet types.
SQL_BATCH, RPC, REPLY, ATTENTION, TRANSACTION, LOGIN7, PRELOGIN = 0x01, 0x03, 0x04, 0x06, 0x0E, 0x10, 0x12
# Tokens.
COLMETADATA, ERROR, INFO, LOGINACK, ROW, ENVCHANGE, DONE = 0x81, 0xAA, 0xAB, 0xAD, 0xD1, 0xE3, 0xFD
# DONE status bits.
DONE_MORE, DONE_ERROR, DONE_COUNT, DONE_ATTN = 0x01, 0x02, 0x10, 0x20
# ENVCHANGE types.
ENV_DATABASE, ENV_PACKET_SIZE, ENV_BEGIN_TRAN, ENV_COMMIT_TRAN, ENV_ROLLBACK_TRAN = 1, 4, 8, 9, 10

TDS74 = 0x74000004
SERVER_NAME = "localcloud-mssql"
LOGIN_PACKET_SIZE = 4096  # what both sides use until the login response negotiates the client's size
COLLATION = bytes.fromhex("0408d00000")  # Chinese_PRC_CI_AS: LCID 0x0804, case-insensitive, accent-sensitive

_HEADER = struct.Struct(">BBHHBB")  # type, status (1 = last packet of the message), length, spid, packet id, window
_NVARCHAR_LIMIT = 8000  # bytes; longer strings go out as NVARCHAR(MAX)
_PLP_NULL = 0xFFFFFFFFFFFFFFFF


class _Closed(Exception):
    """The peer went away or broke the protocol: end the connection."""


# ---------------------------------------------------------------------------------------------- encoding
def _ucs2(s: str) -> bytes:
    return s.encode("utf-16-le", "surrogatepass")


def _b_varchar(s: str) -> bytes:
    data = _ucs2(s)
    return bytes([len(data) // 2]) + data


def _us_varchar(s: str) -> bytes:
    data = _ucs2(s)
    return struct.pack("<H", len(data) // 2) + data


def _token(token: int, body: bytes) -> bytes:
    return struct.pack("<BH", token, len(body)) + body


def envchange(kind: int, new: str, old: str) -> bytes:
    return _token(ENVCHANGE, bytes([kind]) + _b_varchar(new) + _b_varchar(old))


def message(token: int, number: int, severity: int, text: str) -> bytes:
    body = struct.pack("<iBB", number, 1, severity) + _us_varchar(text) + _b_varchar(SERVER_NAME) + _b_varchar("")
    return _token(token, body + struct.pack("<i", 1))


def error(e: SqlError) -> bytes:
    return message(ERROR, e.number, e.severity, e.message)


def done(status: int, count: int = 0) -> bytes:
    return struct.pack("<BHHQ", DONE, status, 0, count)


def _loginack() -> bytes:
    # interface 1 = SQL_TSQL; program version 15.0.2000 = SQL Server 2019
    return _token(LOGINACK, bytes([1]) + struct.pack(">I", TDS74) + _b_varchar("Microsoft SQL Server")
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


# ---------------------------------------------------------------------------------------------- decoding
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
        raise _Closed(f"bad LOGIN7 record: {e}") from None


def _strip_all_headers(payload: bytes) -> bytes:
    """Skip the ALL_HEADERS block that TDS 7.2+ puts before a batch or transaction request."""
    if len(payload) < 4:
        raise _Closed("request without ALL_HEADERS")
    total = struct.unpack_from("<I", payload)[0]
    if not 4 <= total <= len(payload):
        raise _Closed("bad ALL_HEADERS length")
    return payload[total:]


def _prelogin_response() -> bytes:
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


# ---------------------------------------------------------------------------------------------- connections
class _Connection:
    def __init__(self, server: MssqlServer, sock: socket.socket, spid: int) -> None:
        self.server = server
        self.sock = sock
        self.spid = spid
        self.packet_size = LOGIN_PACKET_SIZE
        self.session: Session | None = None
        self._packet_id = 0
        self._transactions = itertools.count(1)
        self._transaction = 0

    def disconnect(self) -> None:
        """Close the connection from another thread: the blocked recv() returns and the thread ends."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone

    def run(self) -> None:
        try:
            if self.login():
                self.serve()
        except (_Closed, OSError) as e:
            log.debug("mssql connection %d ended: %s", self.spid, e)
        except Exception:  # a bug here must not take the server down, only this connection
            log.exception("mssql connection %d failed", self.spid)
        finally:
            if self.session is not None:
                self.server.engine.close_session(self.session)
            self.sock.close()
            self.server._forget(self)

    # ------------------------------------------------------------------------------ framing
    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise _Closed("peer closed the connection")
            buf += chunk
        return bytes(buf)

    def read_message(self) -> tuple[int, bytes]:
        """One client message, reassembled from however many packets it was split into."""
        payload, kind = bytearray(), None
        while True:
            packet_type, status, length, _, _, _ = _HEADER.unpack(self._recv_exact(_HEADER.size))
            if length < _HEADER.size:
                raise _Closed("bad packet length")
            kind = packet_type if kind is None else kind
            payload += self._recv_exact(length - _HEADER.size)
            if status & 0x01:
                return kind, bytes(payload)

    def send(self, data: bytes) -> None:
        """Send one reply message, split into packets no larger than the negotiated packet size."""
        room = self.packet_size - _HEADER.size
        out = bytearray()
        for start in range(0, max(len(data), 1), room):
            chunk = data[start:start + room]
            last = start + room >= len(data)
            out += _HEADER.pack(REPLY, 1 if last else 0, len(chunk) + _HEADER.size, self.spid, self._packet_id, 0)
            out += chunk
            self._packet_id = (self._packet_id + 1) % 256
        self.sock.sendall(out)

    # ------------------------------------------------------------------------------ login
    def login(self) -> bool:
        kind, payload = self.read_message()
        if kind == PRELOGIN:
            self.send(_prelogin_response())
            kind, payload = self.read_message()
        if kind != LOGIN7:
            raise _Closed(f"expected LOGIN7, got packet type {kind:#x}")
        login = parse_login7(payload)
        server = self.server
        failed = SqlError(18456, f"Login failed for user '{login.user}'.", 14)
        if login.user.lower() != server.user.lower() or login.password != server.password:
            self.send(error(failed) + done(DONE_ERROR))
            return False
        try:
            self.session = server.engine.open_session(login.database, self.disconnect)
        except SqlError as e:  # SQL Server reports why the database cannot be opened, then the login failure
            self.send(error(e) + error(failed) + done(DONE_ERROR))
            return False
        negotiated = min(max(login.packet_size or LOGIN_PACKET_SIZE, 512), 32767)
        database = self.session.database
        self.send(envchange(ENV_DATABASE, database, "master")
                  + message(INFO, 5701, 0, f"Changed database context to '{database}'.")
                  + _loginack()
                  + envchange(ENV_PACKET_SIZE, str(negotiated), str(LOGIN_PACKET_SIZE))
                  + done(0))
        self.packet_size = negotiated
        return True

    # ------------------------------------------------------------------------------ requests
    def serve(self) -> None:
        while True:
            kind, payload = self.read_message()
            if kind == SQL_BATCH:
                self.send(self.batch(_strip_all_headers(payload)))
            elif kind == ATTENTION:
                # Replies are sent whole before the next request is read, so there is nothing left to
                # cancel: acknowledge, as the client waits for DONE with the attention bit.
                self.send(done(DONE_ATTN))
            elif kind == TRANSACTION:
                self.send(self.transaction(_strip_all_headers(payload)))
            elif kind == RPC:
                self.send(error(SqlError(2812, "Remote procedure calls (parameterised queries, sp_executesql) are "
                                               "not supported by this local SQL Server stand-in; send plain SQL "
                                               "batches.")) + done(DONE_ERROR))
            else:
                raise _Closed(f"unsupported packet type {kind:#x}")

    def batch(self, payload: bytes) -> bytes:
        text = payload.decode("utf-16-le", "surrogatepass")
        outcomes: list[Outcome] = []
        try:
            for outcome in self.server.engine.execute(self.session, text):
                outcomes.append(outcome)
        except SqlError as e:
            return batch_response(outcomes, e)
        return batch_response(outcomes, None)

    def transaction(self, payload: bytes) -> bytes:
        """TM_BEGIN_XACT / TM_COMMIT_XACT / TM_ROLLBACK_XACT: report the transaction ids the client tracks."""
        if len(payload) < 2:
            raise _Closed("empty transaction manager request")
        request = struct.unpack_from("<H", payload)[0]
        out = bytearray()
        if request in (7, 8):  # commit, rollback: everything was applied already, there is nothing to undo
            ended = ENV_COMMIT_TRAN if request == 7 else ENV_ROLLBACK_TRAN
            out += _token(ENVCHANGE, bytes([ended, 0, 8]) + struct.pack("<Q", self._transaction))
            self._transaction = 0
            flags_at = 3 + 2 * payload[2] if len(payload) > 2 else len(payload)  # after the B_VARCHAR name
            begin = flags_at < len(payload) and payload[flags_at] & 0x01  # fBeginXact: start the next one at once
        elif request == 5:
            begin = True
        else:
            return error(SqlError(8509, f"Transaction manager request {request} is not supported.")) + done(DONE_ERROR)
        if begin:
            self._transaction = next(self._transactions)
            out += _token(ENVCHANGE, bytes([ENV_BEGIN_TRAN, 8]) + struct.pack("<Q", self._transaction) + b"\x00")
        return bytes(out + done(0))


# ---------------------------------------------------------------------------------------------- server
class MssqlServer:
    def __init__(self, catalog: Catalog, host: str = "127.0.0.1", port: int = 0, user: str = "sa",
                 password: str = "") -> None:
        self.catalog = catalog
        self.engine = Engine(catalog)
        self.host = host
        self.user = user
        self.password = password
        self._requested_port = port
        self._port = 0
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._connections: dict[_Connection, threading.Thread] = {}
        self._stopping = threading.Event()
        self._acceptor: threading.Thread | None = None
        self._wake_reader, self._wake_writer = socket.socketpair()  # wakes the acceptor's select() on close()
        self._spids = itertools.count(51)  # SQL Server numbers user sessions from 51

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> int:
        self._listener = socket.create_server((self.host, self._requested_port))
        self._port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"mssql-accept-{self._port}", daemon=True)
        self._acceptor.start()
        return self._port

    def _accept_loop(self) -> None:
        # select() on the listener and a wake-up socket: closing a listener does not portably wake accept().
        while True:
            readable = select.select([self._listener, self._wake_reader], [], [])[0]
            if self._stopping.is_set():
                return
            if self._listener not in readable:
                continue
            try:
                sock, _ = self._listener.accept()
            except OSError:
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(self, sock, next(self._spids))
            thread = threading.Thread(target=conn.run, name=f"mssql-spid-{conn.spid}", daemon=True)
            with self._lock:
                self._connections[conn] = thread
            thread.start()

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self._connections.pop(conn, None)

    def close(self) -> None:
        if self._stopping.is_set():  # closing twice is harmless
            return
        self._stopping.set()
        self._wake_writer.send(b"x")
        if self._acceptor is not None:
            self._acceptor.join()
        self._wake_reader.close()
        self._wake_writer.close()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            connections = dict(self._connections)
        for conn in connections:
            conn.disconnect()
        for thread in connections.values():
            thread.join(timeout=5)
