"""`nestbackup local serve` fires the timer triggers of s.yaml on their cron, as FC does: a schedule set through the
API runs without anyone calling the timer. The cron is s.yaml's own (`0 * * * * *`, every minute at second 0), so
this waits for the next minute: up to a minute and the backup's few seconds."""
import time

import pytest

from tests.support import Control, spawn_local_cloud
from tests.support.product import Api


@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setenv("NESTBACKUP_SCHEDULE_MIN_INTERVAL_MINUTES", "1")     # a schedule of every minute
    proc, endpoint = spawn_local_cloud(tmp_path / "state", admin_token="T")
    yield endpoint
    proc.kill()
    proc.wait(10)


def test_a_schedule_fires_on_local_serve_without_any_manual_call(served):
    api, si = Api(served, token="T"), "si-timer"
    Control(served).seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    status, body = api.call("PUT", f"/service-instances/{si}/schedule", {"Cron": "* * * * *"})
    assert status == 200, body
    deadline = time.monotonic() + 90
    while not (backups := api.call("GET", f"/backups?serviceInstanceId={si}")[1]["Backups"]):
        assert time.monotonic() < deadline, "no scheduled backup within 90 s: the timer trigger did not fire"
        time.sleep(0.5)
    [record] = backups
    assert "scheduled" in record["Description"]
    assert api.wait(record["BackupId"])["Status"] == "Created"
    assert Control(served).stats()["timer:nestbackup-timer/schedules"] >= 1
