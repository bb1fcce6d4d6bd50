"""The shell examples of the README's five-minute tour and of `docs/operating.md`, run as written: each line of their
blocks in order against the `local serve` the first line starts (on a free port and a fresh state directory instead
of 8900 and .state), every command exiting 0. A placeholder takes the id the commands before it printed last
(`backup-…`, `restore-…`, `<the backup's id>`). An example that stops working fails here, not in an operator's
terminal."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.localcloud import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CLI = ".venv/bin/nestbackup"


def shell_lines(path: str, after: str = "") -> list[str]:
    """The lines of the ```sh / ``` blocks of `path` (from the heading `after` on), comments dropped."""
    text = (ROOT / path).read_text()
    text = text[text.index(after):] if after else text
    blocks = re.findall(r"^```(?:sh)?\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    if after:
        blocks = blocks[:1]
    lines = [re.split(r"\s{2,}#", line)[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


@pytest.mark.parametrize("path, after", [("README.md", "## A five-minute tour"), ("docs/operating.md", "")])
def test_the_shell_examples_run_as_written(tmp_path, path, after):
    lines = shell_lines(path, after)
    assert lines and lines[0].startswith(f"{CLI} local serve"), lines[:1]
    port, state = str(free_port()), str(tmp_path / "state")
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    served = None
    said = ""
    try:
        for line in lines:
            line = line.replace("8900", port).replace(".state", state)
            if line.startswith("export "):
                env.update(dict(pair.split("=", 1) for pair in shlex.split(line)[1:]))
                continue
            line = _fill(line, said)
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
    finally:
        if served is not None:
            served.kill()
            served.wait(10)


def _fill(line: str, said: str) -> str:
    """The placeholders, each the last id of its kind printed so far."""
    for placeholder, pattern in (("<the backup's id>", r"backup-[0-9a-f]{20}"), ("backup-…", r"backup-[0-9a-f]{20}"),
                                 ("restore-…", r"restore-[0-9a-f]{20}")):
        if placeholder in line:
            found = re.findall(pattern, said)
            assert found, f"{line}: no id printed before it for {placeholder}"
            line = line.replace(placeholder, found[-1])
    return line


def _wait_healthy(endpoint: str, proc: subprocess.Popen) -> None:
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
