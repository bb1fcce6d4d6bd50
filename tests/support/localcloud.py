"""A local cloud: its /_local/ control plane, and one run in its own process."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from localcloud.fc.syaml import deployer_environment


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


def spawn_local_cloud(state, port: int | None = None, admin_token: str | None = None, throttle_ecs: bool = False):
    """`nestbackup local serve` in its own process (to be killed with SIGKILL); returns (process, endpoint). With no
    port the server binds port 0 and says which one it got, so no other socket can take it between a check and the
    bind (a free-port check once raced another server, whose kill then reset this test's first call). The health
    answer must name this state directory: a server that is not ours is never taken for it. What the server said on
    stderr is in the error. ECS throttling (on by default in `local serve`) is off unless `throttle_ecs`: the tests
    poll the SDKs in tight loops."""
    proc, said = _serve(state, port or 0, admin_token, throttle_ecs)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline, endpoint = time.monotonic() + 60, None
    while time.monotonic() < deadline and proc.poll() is None:
        endpoint = endpoint or _announced_endpoint(said)
        if endpoint is not None:
            try:
                health = json.loads(opener.open(endpoint + "/_local/health", timeout=1).read())
                if Path(health["StateDir"]).resolve() != Path(state).resolve():
                    proc.kill()
                    raise RuntimeError(f"{endpoint} is another local cloud's (state in {health['StateDir']})")
                return proc, endpoint
            except OSError:
                pass
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
        raise RuntimeError("the local cloud did not start in 60 s: " + _said(said))
    raise RuntimeError("the local cloud exited at start: " + _said(said))


def _announced_endpoint(said) -> str | None:
    match = re.search(rb"local cloud on (http://[^ ]+) ", _read(said))
    return match.group(1).decode() if match else None


def _said(said) -> str:
    return _read(said).decode(errors="replace")[-2000:]


def _read(said) -> bytes:
    """What the server wrote so far; pread leaves the offset the server shares with us (a seek could make its next
    line overwrite the first)."""
    fd = said.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0)


def _serve(state, port: int, admin_token: str | None, throttle_ecs: bool):
    token = ["--admin-token", admin_token] if admin_token else []
    token += [] if throttle_ecs else ["--ecs-calls-per-minute", "0"]
    said = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "nestbackup.cli.main", "local", "serve", "--port", str(port),
                             "--state-dir", str(state), *token], stdout=subprocess.DEVNULL, stderr=said,
                            env=deployer_environment())   # not what an in-process local cloud bound into ours
    return proc, said
