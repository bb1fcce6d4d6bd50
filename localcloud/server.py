"""One HTTP server on 127.0.0.1 for every emulated product.

Routing: /_local/* is the control plane (health, faults, stats, seed); a request with x-ots-* headers is Tablestore;
a path under /2023-03-30/ is the Function Compute 3.0 API (ROA); a request naming an action (x-acs-action header or
Action query) is RPC, sent to the product of its API version; other path prefixes go to mounts registered on the
cloud (e.g. the product API).

What a real front refuses is refused here too, before any routing: a Host the server does not serve (421; none at
all, 400), so a web page whose name an attacker points at 127.0.0.1 (DNS rebinding) cannot drive it; a Content-Length
that is not a length (400); and a body that does not arrive within BODY_SECONDS (408), so a client that promises more
bytes than it sends costs a thread a few seconds, not forever.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .cloud import LocalCloud
from .core.errors import ServiceError
from .core.ram import rpc_resource
from .core.rpc import RpcRequest
from .core.signing import verify_acs3, verify_v1

log = logging.getLogger("localcloud")

BODY_SECONDS = 5.0          # the whole body must arrive within this (the SDKs send theirs at once, on loopback)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


class _Refused(Exception):
    """A request answered with an error before it is routed; the connection is closed after the answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every SDK call waits ~40 ms on delayed ACKs
    server: LocalCloudServer

    def log_message(self, fmt, *args):  # quiet by default; the stats endpoint counts calls
        log.debug("%s " + fmt, self.client_address[0], *args)  # noqa: G003 - http.server's own format

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def do_PUT(self):
        self._serve()

    def do_DELETE(self):
        self._serve()

    # The other methods an FC HTTP trigger may list.
    def do_HEAD(self):
        self._serve()

    def do_PATCH(self):
        self._serve()

    def do_OPTIONS(self):
        self._serve()

    def _serve(self) -> None:
        try:
            self._check_host()
            body = self._read_body()
        except _Refused as refused:
            self.close_connection = True
            self._answer(refused.status, {"content-type": "application/json", "connection": "close"}, json.dumps(
                {"Code": refused.code, "Message": refused.message}).encode())
            return
        self._route(body)

    def _check_host(self) -> None:
        host = self.headers.get("host")
        if host is None:
            raise _Refused(400, "MissingHost", "HTTP/1.1 requests must name the host (Host header)")
        if not self.server.serves(host):
            raise _Refused(421, "MisdirectedRequest", f"this server does not serve {host!r}")

    def _read_body(self) -> bytes:
        """The body Content-Length announces, read under one deadline (the socket's timeout is the time left)."""
        raw = self.headers.get("content-length")
        if raw is None:
            return b""
        if not (raw.strip().isascii() and raw.strip().isdigit()):
            raise _Refused(400, "InvalidContentLength", f"Content-Length must be a number of bytes: {raw!r}")
        length, chunks, received = int(raw), [], 0
        deadline = time.monotonic() + BODY_SECONDS
        try:
            while received < length:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                self.connection.settimeout(left)
                chunk = self.rfile.read1(min(length - received, 1 << 20))
                if not chunk:
                    raise _Refused(400, "IncompleteBody", f"the connection closed after {received} of {length} "
                                                          f"bytes of the body")
                chunks.append(chunk)
                received += len(chunk)
        except TimeoutError:
            raise _Refused(408, "RequestTimeout", f"{received} of the {length} bytes of the body arrived in "
                                                  f"{BODY_SECONDS:g} s") from None
        finally:
            self.connection.settimeout(None)
        return b"".join(chunks)

    def _route(self, body: bytes) -> None:
        cloud = self.server.cloud
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            if url.path.startswith("/_local/"):
                from .control import handle_control
                status, out_headers, out = handle_control(cloud, self.command, url, headers, body)
            elif "x-ots-apiversion" in headers:
                status, out_headers, out = self._tablestore(cloud, url.path, headers, body)
            elif url.path.startswith("/2023-03-30/"):
                status, out_headers, out = cloud.fc.handle(self.command, url, headers, body)
            elif "x-acs-action" in headers or "Action=" in (url.query or ""):
                status, out_headers, out = self._rpc(cloud, self.command, url, headers, body)
            else:
                mount = next((m for prefix, m in cloud.mounts.items() if url.path.startswith(prefix)), None)
                if mount is None:
                    status, out_headers, out = 404, {"content-type": "application/json"}, json.dumps(
                        {"Code": "NotFound", "Message": f"No route for {url.path}"}).encode()
                else:
                    status, out_headers, out = mount(self.command, url, headers, body)
        except Exception:  # a bug in the emulator must not look like a cloud answer
            log.exception("local cloud failure on %s %s", self.command, self.path)
            status, out_headers, out = 500, {"content-type": "application/json"}, json.dumps(
                {"Code": "LocalCloudBug", "Message": "The local cloud failed; see its log."}).encode()
        self._answer(status, out_headers, out)

    def _answer(self, status: int, out_headers: dict, out: bytes) -> None:
        self.send_response(status)
        for name, value in out_headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    @staticmethod
    def _tablestore(cloud: LocalCloud, path: str, headers: dict, body: bytes):
        from .tablestore.network import arrival
        network, api = arrival(path)
        cloud.stats.count(f"ots:{api}")
        try:
            cloud.faults.before_call("ots", api)
        except ServiceError as err:
            return cloud.ots.error(api, err)
        answer = cloud.ots.handle(api, headers, body, network)
        if answer[0] < 300 and cloud.faults.lose_response("ots"):
            return cloud.ots.error(api, ServiceError("OTSInternalServerError", "Internal server error.", 500))
        return answer

    @staticmethod
    def _rpc(cloud: LocalCloud, method: str, url, headers: dict, body: bytes):
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        form = {}
        if body and "application/x-www-form-urlencoded" in headers.get("content-type", ""):
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
        action = headers.get("x-acs-action") or query.get("Action", "")
        version = headers.get("x-acs-version") or query.get("Version", "")
        product = cloud.rpc_products.get(version)
        name = product.name if product else "unknown"
        req = RpcRequest(product=name, action=action, params={**query, **form})
        cloud.stats.count(f"{name}:{action}")
        try:
            if headers.get("authorization", "").startswith("ACS3-"):
                req.access_key_id = verify_acs3(method, url.path, query, headers, body, cloud.credentials)
            else:
                req.access_key_id = verify_v1(method, query, form, cloud.credentials)
            cloud.ram.check_token(req.access_key_id,
                                  headers.get("x-acs-security-token") or req.params.get("SecurityToken"))
            for key in ("Action", "Version", "Format", "Timestamp", "SignatureNonce", "SignatureMethod",
                        "SignatureVersion", "AccessKeyId", "Signature", "SecurityToken"):
                req.params.pop(key, None)
            if product is None:
                raise ServiceError("InvalidVersion", f"Specified parameter Version is not valid: {version!r}.", 400)
            cloud.ram.authorize(req.access_key_id, name, action,
                                rpc_resource(name, cloud.region, cloud.account_id, req.params, action))
            cloud.faults.before_call(name, action)
            result = product.dispatch(req)
            if cloud.faults.lose_response(name):
                raise ServiceError("InternalError", "The request processing has failed due to some unknown error.",
                                   500)
            result = {"RequestId": req.request_id, **result}
            return 200, {"content-type": "application/json;charset=utf-8"}, json.dumps(result).encode()
        except ServiceError as err:
            out_headers = {"content-type": "application/json;charset=utf-8"}
            if err.retry_after_ms:
                out_headers["x-acs-retry-after"] = str(err.retry_after_ms)
            payload = {"RequestId": req.request_id, "HostId": "127.0.0.1", "Code": err.code, "Message": err.message,
                       "Recommend": f"https://api.aliyun.com/troubleshoot?q={err.code}"}
            return err.status, out_headers, json.dumps(payload).encode()


class LocalCloudServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256          # the listen backlog (socketserver's default, 5, drops bursts of clients)

    def __init__(self, cloud: LocalCloud, host: str = "127.0.0.1", port: int = 8900) -> None:
        self.cloud = cloud
        super().__init__((host, port), _Handler)
        cloud.bind(self.endpoint)

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def serves(self, host_header: str) -> bool:
        """Whether a request for this Host is ours: a loopback name or the address listened on, with our port. Bound
        to every address (0.0.0.0), any IP literal with our port too: a rebinding attack needs a name."""
        bound, port = self.server_address[:2]
        name, _, given_port = host_header.strip().lower().rpartition(":")
        if given_port != str(port) or not name:
            return False
        if name in LOOPBACK_NAMES or name == bound:
            return True
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            return False
        return ipaddress.ip_address(bound).is_unspecified

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="localcloud-http", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.cloud.close()
