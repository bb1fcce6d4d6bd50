"""A TCP server speaking the TDS 7.4 wire protocol (MS-TDS), so the unmodified `pytds` client talks to it: the
listener, and one thread per connection that logs in and then serves requests.

What is real: PRELOGIN then LOGIN7 and its failures (18456, 4060), SQL batches, ATTENTION acknowledgements,
transaction manager requests answered with the transaction ids the client tracks, one thread per connection,
SQL Server's session ids from 51. The messages are in packets.py, the replies in tokens.py.
What is not: no integrated authentication, no RPC (parameterised queries get an error), and transaction manager
requests are acknowledged without any transaction behind them — every statement is applied immediately. The
statements themselves are run by `engine.Engine`.
"""
from __future__ import annotations

import itertools
import logging
import select
import socket
import struct
import threading

from .catalog import Catalog, SqlError
from .engine import Engine, Session
from .packets import (
    ATTENTION,
    HEADER,
    LOGIN7,
    LOGIN_PACKET_SIZE,
    PRELOGIN,
    REPLY,
    RPC,
    SQL_BATCH,
    TRANSACTION,
    Closed,
    parse_login7,
    prelogin_response,
    strip_all_headers,
)
from .results import Outcome
from .tokens import (
    DONE_ATTN,
    DONE_ERROR,
    ENV_BEGIN_TRAN,
    ENV_COMMIT_TRAN,
    ENV_DATABASE,
    ENV_PACKET_SIZE,
    ENV_ROLLBACK_TRAN,
    ENVCHANGE,
    INFO,
    batch_response,
    done,
    encode_token,
    envchange,
    error,
    loginack,
    message,
)

log = logging.getLogger(__name__)


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
        except (Closed, OSError) as e:
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
                raise Closed("peer closed the connection")
            buf += chunk
        return bytes(buf)

    def read_message(self) -> tuple[int, bytes]:
        """One client message, reassembled from however many packets it was split into."""
        payload, kind = bytearray(), None
        while True:
            packet_type, status, length, _, _, _ = HEADER.unpack(self._recv_exact(HEADER.size))
            if length < HEADER.size:
                raise Closed("bad packet length")
            kind = packet_type if kind is None else kind
            payload += self._recv_exact(length - HEADER.size)
            if status & 0x01:
                return kind, bytes(payload)

    def send(self, data: bytes) -> None:
        """Send one reply message, split into packets no larger than the negotiated packet size."""
        room = self.packet_size - HEADER.size
        out = bytearray()
        for start in range(0, max(len(data), 1), room):
            chunk = data[start:start + room]
            last = start + room >= len(data)
            out += HEADER.pack(REPLY, 1 if last else 0, len(chunk) + HEADER.size, self.spid, self._packet_id, 0)
            out += chunk
            self._packet_id = (self._packet_id + 1) % 256
        self.sock.sendall(out)

    # ------------------------------------------------------------------------------ login
    def login(self) -> bool:
        kind, payload = self.read_message()
        if kind == PRELOGIN:
            self.send(prelogin_response())
            kind, payload = self.read_message()
        if kind != LOGIN7:
            raise Closed(f"expected LOGIN7, got packet type {kind:#x}")
        login = parse_login7(payload)
        server = self.server
        failed = SqlError(18456, f"Login failed for user '{login.user}'.", 14)
        if login.user.lower() != server.user.lower() or login.password != server.password:
            self.send(error(failed) + done(DONE_ERROR))
            return False
        try:
            self.session = server.engine.open_session(login.database, self.disconnect, server.user)
        except SqlError as e:  # SQL Server reports why the database cannot be opened, then the login failure
            self.send(error(e) + error(failed) + done(DONE_ERROR))
            return False
        negotiated = min(max(login.packet_size or LOGIN_PACKET_SIZE, 512), 32767)
        database = self.session.database
        self.send(envchange(ENV_DATABASE, database, "master")
                  + message(INFO, 5701, 0, f"Changed database context to '{database}'.")
                  + loginack()
                  + envchange(ENV_PACKET_SIZE, str(negotiated), str(LOGIN_PACKET_SIZE))
                  + done(0))
        self.packet_size = negotiated
        return True

    # ------------------------------------------------------------------------------ requests
    def serve(self) -> None:
        while True:
            kind, payload = self.read_message()
            if kind == SQL_BATCH:
                self.send(self.batch(strip_all_headers(payload)))
            elif kind == ATTENTION:
                # Replies are sent whole before the next request is read, so there is nothing left to
                # cancel: acknowledge, as the client waits for DONE with the attention bit.
                self.send(done(DONE_ATTN))
            elif kind == TRANSACTION:
                self.send(self.transaction(strip_all_headers(payload)))
            elif kind == RPC:
                self.send(error(SqlError(2812, "Remote procedure calls (parameterised queries, sp_executesql) are "
                                               "not supported by this local SQL Server stand-in; send plain SQL "
                                               "batches.")) + done(DONE_ERROR))
            else:
                raise Closed(f"unsupported packet type {kind:#x}")

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
            raise Closed("empty transaction manager request")
        request = struct.unpack_from("<H", payload)[0]
        out = bytearray()
        if request in (7, 8):  # commit, rollback: everything was applied already, there is nothing to undo
            ended = ENV_COMMIT_TRAN if request == 7 else ENV_ROLLBACK_TRAN
            out += encode_token(ENVCHANGE, bytes([ended, 0, 8]) + struct.pack("<Q", self._transaction))
            self._transaction = 0
            flags_at = 3 + 2 * payload[2] if len(payload) > 2 else len(payload)  # after the B_VARCHAR name
            begin = flags_at < len(payload) and payload[flags_at] & 0x01  # fBeginXact: start the next one at once
        elif request == 5:
            begin = True
        else:
            return error(SqlError(8509, f"Transaction manager request {request} is not supported.")) + done(DONE_ERROR)
        if begin:
            self._transaction = next(self._transactions)
            out += encode_token(ENVCHANGE, bytes([ENV_BEGIN_TRAN, 8]) + struct.pack("<Q", self._transaction) + b"\x00")
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
