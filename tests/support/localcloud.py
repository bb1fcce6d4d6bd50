"""A local cloud: its /_local/ control plane, and one run in its own process."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


class Control:
    """The /_local/ control plane of a running local cloud."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=60) as resp:
            return json.loads(resp.read())

    def faults(self, **spec):
        return self.call("POST", "/_local/faults", spec)

    def clear_faults(self):
        return self.call("DELETE", "/_local/faults")

    def stats(self) -> dict[str, int]:
        return self.call("GET", "/_local/stats")["calls"]

    def seed(self, **spec):
        return self.call("POST", "/_local/seed", spec)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_local_cloud(state, port: int | None = None, admin_token: str | None = None):
    """`nestbackup local serve` in its own process (to be killed with SIGKILL); returns (process, endpoint). A port
    left to it is a free one; if another socket took it between the check and the server's bind (the server exits at
    start), it tries another, up to three times. What the server said on stderr is in the error."""
    for _ in range(1 if port else 3):
        chosen = port or free_port()
        proc, said = _serve(state, chosen, admin_token)
        endpoint = f"http://127.0.0.1:{chosen}"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                opener.open(endpoint + "/_local/health", timeout=1).read()
                return proc, endpoint
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
        else:
            proc.kill()
            raise RuntimeError("the local cloud did not start")
        said.seek(0)
        error = said.read().decode(errors="replace")[-2000:]
    raise RuntimeError(f"the local cloud exited at start: {error}")


def _serve(state, port: int, admin_token: str | None):
    token = ["--admin-token", admin_token] if admin_token else []
    said = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "nestbackup.cli.main", "local", "serve", "--port", str(port),
                             "--state-dir", str(state), *token], stdout=subprocess.DEVNULL, stderr=said)
    return proc, said
