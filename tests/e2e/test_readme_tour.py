"""The README's five-minute tour, run as written: each line of its shell block in order against the `local serve` it
starts (on a free port and a fresh state directory instead of 8900 and .state), every command exiting 0; the
restore takes the id the backup printed. A tour that stops working fails here, not in a newcomer's terminal."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.localcloud import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CLI = ".venv/bin/nestbackup"


def tour() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## A five-minute tour\n.*?```sh\n(.*?)```", readme, re.DOTALL)
    assert block, "the README has no five-minute tour"
    return [re.split(r"\s{2,}#", line)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_readme_tour_runs_as_written(tmp_path):
    port, state = str(free_port()), str(tmp_path / "state")
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    served = None
    said = ""
    try:
        for line in tour():
            line = line.replace("8900", port).replace(".state", state)
            if line.startswith("export "):
                env.update(dict(pair.split("=", 1) for pair in shlex.split(line)[1:]))
                continue
            backup_id = re.search(r"backup-[0-9a-f]{20}", said)
            line = line.replace("<the backup's id>", backup_id.group(0) if backup_id else "<no backup id printed>")
            args = shlex.split(line.removesuffix("&").strip())
            assert args[0] == CLI, line
            args = [sys.executable, "-m", "nestbackup.cli.main", *args[1:]]
            if line.endswith("&"):
                served = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                _wait_healthy(f"http://127.0.0.1:{port}", served)
                continue
            done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, (line, done.stdout[-2000:], done.stderr[-2000:])
            said += done.stdout + done.stderr
        assert served is not None, "the tour starts no local cloud"
    finally:
        if served is not None:
            served.kill()
            served.wait(10)


def _wait_healthy(endpoint: str, proc: subprocess.Popen) -> None:
    import time
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            opener.open(endpoint + "/_local/health", timeout=1).read()
            return
        except OSError:
            assert proc.poll() is None, "local serve exited at start"
            time.sleep(0.1)
    raise AssertionError("local serve did not answer within 60 s")
