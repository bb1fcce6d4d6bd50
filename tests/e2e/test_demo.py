"""The README's main command, as a newcomer runs it."""
import json
import subprocess
import sys


def test_demo_backs_up_a_seeded_instance_and_logs_structured_lines_without_secrets():
    done = subprocess.run([sys.executable, "-m", "nestbackup.cli.main", "demo", "--json"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)                     # stdout is one JSON object
    assert result["Verified"] is True and result["Backup"]["Status"] == "Created"
    engines = {r.get("Engine") for r in result["Backup"]["Resources"]}
    assert {"PostgreSQL", "MySQL"} <= engines
    log_lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert any(line.get("record_id") == result["Backup"]["BackupId"] for line in log_lines)
    assert "local-secret" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
