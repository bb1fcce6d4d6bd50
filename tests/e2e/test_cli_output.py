"""The CLI is quiet by default and precise when asked: no log lines or library notices among the human output,
JSON log lines with --log-format json, a live table on a terminal and plain lines elsewhere."""
import json
import os
import pty
import select
import subprocess
import sys
import time

from tests.support.product import ADMIN


def test_the_demo_reads_as_a_story_without_log_lines_or_library_notices():
    done = subprocess.run([sys.executable, "-m", "nestbackup.cli.main", "demo"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    everything = done.stdout + done.stderr
    assert not [line for line in everything.splitlines() if line.startswith("{")]
    assert "Native C++" not in everything and "Traceback" not in everything
    checks = [line for line in done.stdout.splitlines() if line.startswith(("ok  ", "FAIL"))]
    assert len(checks) == 5 and all(line.startswith("ok  ") for line in checks)
    for step in ("== backup", "== the data changes after the backup", "== restore"):
        assert step in done.stderr


def test_json_log_lines_only_when_asked():
    done = subprocess.run([sys.executable, "-m", "nestbackup.cli.main", "--log-format", "json", "demo", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    log_lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert any(line.get("record_id") == result["Backup"]["BackupId"] for line in log_lines)
    assert "Native C++" not in done.stderr


def test_wait_on_a_terminal_is_one_live_table(product, control, si):
    control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB")
    env = {**os.environ, "NESTBACKUP_ENDPOINT": product.endpoint + "/api", "NESTBACKUP_TOKEN": ADMIN,
           "COLUMNS": "140", "TERM": "xterm"}
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "nestbackup.cli.main", "backup", "create", "--instance", si,
                             "--wait"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=secondary, env=env)
    os.close(secondary)
    screen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
        elif proc.poll() is not None:
            break
    out, _ = proc.communicate(timeout=60)
    os.close(primary)
    text = screen.decode(errors="replace")
    assert proc.returncode == 0
    assert "resource" in text and "done" in text and "time" in text and "Succeeded" in text
    assert not [line for line in text.splitlines() if line.strip().startswith("{")]
    assert b"Created" in out                                   # the final record on stdout, as without a terminal
