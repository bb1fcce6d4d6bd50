"""The examples of the README's five-minute tour, `docs/operating.md` and `docs/local-cloud.md`, run as written: each
command of their blocks in order (a command continued by `\\` or an open quote is one) against the `local serve`
the first starts (on a free port and a fresh state directory instead of 8900 and .state), every command exiting 0,
a ```python block run as a script. A placeholder takes the id the commands before it printed last (`backup-…`,
`restore-…`, `drill-…`, `d-…`, `i-…`). An example that stops working fails here, not in an operator's
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
    """The commands of the ``` / ```sh / ```python blocks of `path` (from the heading `after` on, then its first
    block only), comments dropped; a python block is one entry starting "python:"."""
    text = (ROOT / path).read_text()
    text = text[text.index(after):] if after else text
    blocks = re.findall(r"^```(sh|python)?\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    if after:
        blocks = blocks[:1]
    out: list[str] = []
    for kind, block in blocks:
        if kind == "python":
            out.append("python:" + block)
            continue
        pending = ""
        for raw in block.splitlines():
            line = re.split(r"\s{2,}#", raw)[0].strip()
            if not line:
                continue
            pending = f"{pending} {line}".strip()
            if pending.endswith("\\"):
                pending = pending[:-1].strip()
                continue
            try:
                shlex.split(pending)
            except ValueError:          # an open quote: the command goes on on the next line
                continue
            out.append(pending)
            pending = ""
        assert not pending, f"{path}: an unfinished command: {pending}"
    return out


@pytest.mark.parametrize("path, after", [("README.md", "## A five-minute tour"), ("docs/operating.md", ""),
                                         ("docs/local-cloud.md", "")])
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
            if line.startswith("python:"):
                done = subprocess.run([sys.executable, "-c", line.removeprefix("python:")], env=env,
                                      capture_output=True, text=True, timeout=120)
                assert done.returncode == 0, (line, done.stderr[-2000:])
                continue
            args = shlex.split(line.removesuffix("&").strip())
            assert args[0] in (CLI, "curl"), line
            if args[0] == CLI:
                args = [sys.executable, "-m", "nestbackup.cli.main", *args[1:]]
            else:
                args = [*args[:1], "--fail-with-body", "--silent", "--show-error", *args[1:]]
            if line.endswith("&") or args[3:5] == ["local", "serve"]:
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
    for placeholder, pattern in (("backup-…", r"backup-[0-9a-f]{20}"),
                                 ("restore-…", r"restore-[0-9a-f]{20}"), ("d-…", r"\bd-[0-9a-z]{20}\b"),
                                 ("i-…", r"\bi-[0-9a-z]{20}\b"), ("drill-…", r"drill-[0-9a-f]{12,40}")):
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
