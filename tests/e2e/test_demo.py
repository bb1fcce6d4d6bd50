"""The README's main command, as a newcomer runs it."""
import json
import subprocess
import sys


def test_demo_backs_up_restores_and_verifies_a_seeded_instance_with_structured_logs_and_no_secrets():
    done = subprocess.run([sys.executable, "-m", "nestbackup.cli.main", "-v", "demo", "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)                     # stdout is one JSON object
    assert result["Verified"] is True and result["Backup"]["Status"] == "Created"
    assert result["Restore"]["Status"] == "Restored" and result["Restore"]["Verified"] is True
    engines = {r.get("Engine") for r in result["Backup"]["Resources"]}
    assert {"PostgreSQL", "MySQL", "SQLServer"} <= engines
    assert all(result["Checks"].values()) and len(result["Checks"]) == 5
    disks = result["Disks"]
    assert len(disks) == 2 and all(len(d["Sha256AtBackup"]) == 64 and d["Sha256AtBackup"] == d["Sha256AfterRestore"]
                                   for d in disks)
    log_lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert any(line.get("record_id") == result["Backup"]["BackupId"] for line in log_lines)
    assert "local-secret" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
