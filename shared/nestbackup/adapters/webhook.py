"""Webhook POSTs: resolved and checked before connecting, sent to the checked address, never redirected, and all of a
batch in parallel under one total deadline (a receiver that answers slowly, byte by byte, is cut off at it)."""
from __future__ import annotations

import http.client
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from ..decisions.webhooks import WebhookRefused, check_url, refused_address
from ..ports.webhooks import Outcome, Post

PARALLEL = 16
RESPONSE_BYTES = 1024


def resolve(host: str, port: int, allow_private: bool) -> str:
    """The address to connect to. Every address the name resolves to must be allowed, so a name that answers with
    both a public and a private address cannot be used to reach the private one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise ConnectionError(f"cannot resolve {host}: {err}") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        reason = refused_address(address, allow_private)
        if reason:
            raise WebhookRefused(f"{host} resolves to {reason}")
    return addresses[0]


class _Pinned:
    """Connect to the address that was checked, not to whatever the name resolves to by then (DNS rebinding)."""
    address: str

    def connect(self):  # noqa: D102 - http.client hook
        sock = socket.create_connection((self.address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self, http.client.HTTPSConnection):
            sock = self._context.wrap_socket(sock, server_hostname=self.host)
        self.sock = sock


class _PinnedHTTP(_Pinned, http.client.HTTPConnection):
    pass


class _PinnedHTTPS(_Pinned, http.client.HTTPSConnection):
    pass


def post_all(posts: list[Post], deadline_seconds: float, allow_private: bool = False) -> list[Outcome]:
    """Send every POST in parallel; return by `deadline_seconds` whatever happened. A POST still running then has
    its connection shut and counts as failed (its retry carries the same delivery id)."""
    started = time.monotonic()
    open_connections: dict[str, http.client.HTTPConnection] = {}
    lock = threading.Lock()

    def send(post: Post) -> Outcome:
        try:
            host = check_url(post.url)
            parts = urlsplit(post.url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            address = resolve(host, port, allow_private)
            remaining = deadline_seconds - (time.monotonic() - started)
            if remaining <= 0:
                return Outcome(post.key, False, "deadline passed before sending")
            conn = (_PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP)(host, port, timeout=remaining)
            conn.address = address
            with lock:
                open_connections[post.key] = conn
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            conn.request("POST", path, body=post.body, headers=post.headers)
            response = conn.getresponse()
            response.read(RESPONSE_BYTES)
            status = response.status
        except WebhookRefused as err:
            return Outcome(post.key, False, str(err), refused=True)
        except Exception as err:  # noqa: BLE001 - any network failure is a failed attempt
            return Outcome(post.key, False, f"{type(err).__name__}: {err}"[:300])
        finally:
            with lock:
                conn_ = open_connections.pop(post.key, None)
            if conn_ is not None:
                conn_.close()
        if 300 <= status < 400:
            return Outcome(post.key, False, f"HTTP {status}: redirects are not followed")
        return Outcome(post.key, 200 <= status < 300, f"HTTP {status}")

    if not posts:
        return []
    pool = ThreadPoolExecutor(max_workers=min(PARALLEL, len(posts)), thread_name_prefix="webhook")
    futures = {post.key: pool.submit(send, post) for post in posts}
    outcomes = []
    for post in posts:
        remaining = max(0.0, deadline_seconds - (time.monotonic() - started))
        try:
            outcomes.append(futures[post.key].result(timeout=remaining))
        except Exception:  # noqa: BLE001 - the deadline passed (or the worker died)
            outcomes.append(Outcome(post.key, False, f"no answer within the {deadline_seconds:g} s deadline"))
    with lock:                           # cut off whatever is still talking to a slow receiver
        for conn in open_connections.values():
            try:
                if conn.sock is not None:
                    conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    pool.shutdown(wait=False, cancel_futures=True)
    return outcomes


class HttpWebhooks:
    """The webhook port over HTTP(S)."""

    def post_all(self, posts: list[Post], deadline_seconds: float, allow_private: bool = False) -> list[Outcome]:
        return post_all(posts, deadline_seconds, allow_private)
