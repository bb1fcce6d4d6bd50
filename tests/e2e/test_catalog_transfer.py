"""The catalog's copy, end to end through the CLI: a backup and a schedule exported from one local cloud are
imported into another (a deployment in the second region), where `backup list` shows the backup with its id and
status; a second import changes nothing."""
from __future__ import annotations

import json

import pytest

from tests.support.localcloud import spawn_local_cloud
from tests.support.product import ADMIN, Api, backup_of, run_cli


class _Served:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint


@pytest.fixture
def second(tmp_path):
    """Another deployment, in its own process (two local clouds in one process would share their credentials)."""
    proc, endpoint = spawn_local_cloud(tmp_path / "second", admin_token=ADMIN)
    yield _Served(endpoint)
    proc.kill()
    proc.wait(10)


def test_a_catalog_exported_from_one_deployment_imports_into_another_once(product, api, control, si, second,
                                                                        tmp_path):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="4MiB")
    backup = backup_of(api, si)
    assert api.call("PUT", f"/service-instances/{si}/schedule", {"Cron": "0 3 * * *", "KeepLast": 3})[0] == 200
    out = tmp_path / "catalog.jsonl"
    exported = run_cli(product.endpoint, "admin", "catalog", "export", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    mine = next(e for e in lines if e.get("RecordId") == backup["BackupId"])
    assert mine["Header"]["Status"] == "Created" and mine["Items"]

    first = run_cli(second.endpoint, "admin", "catalog", "import", str(out), "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["Created"] == len(lines)
    again = run_cli(second.endpoint, "admin", "catalog", "import", str(out), "--json")
    assert json.loads(again.stdout) == {"Created": 0, "AlreadyThere": len(lines)}

    listed = run_cli(second.endpoint, "backup", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    there = {b["BackupId"]: b for b in json.loads(listed.stdout)["Backups"]}
    assert there[backup["BackupId"]]["Status"] == "Created"
    assert there[backup["BackupId"]]["ServiceInstanceId"] == si
    status, schedule = Api(second.endpoint).call("GET", f"/service-instances/{si}/schedule")
    assert status == 200 and schedule["Cron"] == "0 3 * * *", schedule
    refused = run_cli(second.endpoint, "admin", "catalog", "export", token="not-the-admin")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
