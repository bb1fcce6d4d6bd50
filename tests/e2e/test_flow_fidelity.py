"""The product's flows against CloudFlow's real behaviour: cancelling a backup that continued into later executions,
the inputs flows are started with, retries that do not depend on an undocumented error name."""
import json
import time
from pathlib import Path

import pytest
import yaml
from alibabacloud_fnf20190315 import models as fnf_m
from alibabacloud_fnf20190315.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException

from localcloud.fnf.definition import load_flow
from localcloud.fnf.errors import ALL_ERRORS, FC_EXHAUSTED, FC_INTERNAL, FC_THROTTLED, FC_UNHANDLED, StateError
from localcloud.fnf.interpreter import Interpreter
from tests.support import make_fnf
from tests.support.executions import ended_execution
from tests.support.product import start_product

ROOT = Path(__file__).resolve().parents[2]
BACKUP_FLOW = "nestbackup-backup"


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    server = start_product(tmp_path_factory, NESTBACKUP_POLL_ROUNDS_PER_EXECUTION="2")
    yield server
    server.stop()


@pytest.fixture
def fnf(product) -> Client:
    return make_fnf(product.endpoint)


def generations(fnf: Client, flow: str, record_id: str) -> list[str]:
    """The statuses of a record's executions: the record id, then `<record id>-g<n>`."""
    statuses = []
    for n in range(1, 100):
        name = record_id if n == 1 else f"{record_id}-g{n}"
        try:
            statuses.append(fnf.describe_execution(fnf_m.DescribeExecutionRequest(
                flow_name=flow, execution_name=name)).body.status)
        except ClientException as err:
            assert err.code == "ExecutionNotExists"
            return statuses
    return statuses


def test_cancel_stops_the_running_generation_after_ended_ones(product, api, control, fnf, si):
    disk = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0]
    control.faults(stuck=[disk["DiskId"]])                # it polls on: 2 rounds per execution here
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202
    backup_id = record["BackupId"]
    deadline = time.monotonic() + 30
    while True:                                           # the first execution ended, a later one runs
        ran = generations(fnf, BACKUP_FLOW, backup_id)
        if len(ran) >= 2 and ran[0] == "Succeeded" and ran[-1] == "Running":
            break
        assert time.monotonic() < deadline, ran
        time.sleep(0.05)
    status, cancelled = api.call("POST", f"/backups/{backup_id}/cancel")
    assert status == 200 and cancelled["Status"] == "Cancelled", cancelled
    assert cancelled["Resources"][0]["Status"] == "Cancelled"
    deadline = time.monotonic() + 10
    while "Running" in (ran := generations(fnf, BACKUP_FLOW, backup_id)):
        assert time.monotonic() < deadline, ran
        time.sleep(0.05)
    assert ran[0] == "Succeeded" and "Stopped" in ran, ran
    with pytest.raises(ClientException) as info:          # what the cancel met on the ended first execution
        fnf.stop_execution(fnf_m.StopExecutionRequest(flow_name=BACKUP_FLOW, execution_name=backup_id))
    assert info.value.code == "ExecutionAlreadyCompleted"


def test_a_restore_starts_its_flow_with_every_field_the_first_state_reads(product, api, control, fnf, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    status, backup = api.call("POST", "/backups", {"ServiceInstanceId": si})
    backup = api.wait(backup["BackupId"])
    assert backup["Status"] == "Created"
    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
    assert status == 202, restore
    final = api.wait(restore["RestoreId"])
    assert final["Status"] == "Restored", final
    execution = ended_execution(fnf, "nestbackup-restore", restore["RestoreId"])
    assert json.loads(execution.input) == {"RestoreId": restore["RestoreId"], "Round": 0}
    assert execution.status == "Succeeded"


class _Steps:
    """The product's functions for one run of flows/backup.yaml in the interpreter: Prepare fails `failures` times
    with an error whose name CloudFlow does not document."""

    def __init__(self, failures: int, code: str):
        self.failures, self.code = failures, code
        self.calls: list[str] = []
        self.events: list[tuple[str, str, dict]] = []

    def invoke(self, arn, body, state):
        self.calls.append(state)
        if state == "Prepare" and self.failures:
            self.failures -= 1
            raise StateError(self.code, "RuntimeError: the handler failed")
        return {"Prepare": {"BackupId": body["BackupId"], "Batches": [], "State": "Start"},
                "Poll": {"BackupId": body["BackupId"], "State": "Done", "Wait": 2, "Round": 1, "Generation": 1},
                }.get(state, {"BackupId": body.get("BackupId")})

    def emit(self, type, step, detail):
        self.events.append((type, step, detail))

    def checkpoint(self, *args, **kwargs):
        pass

    def sleep(self, *args, **kwargs):
        pass

    def transition(self, state):
        pass

    def cancelled(self):
        return False


def _backup_flow():
    return load_flow((ROOT / "flows/backup.yaml").read_text())


@pytest.mark.parametrize("code", [FC_UNHANDLED, "FC.Unhandled", "UnhandledInvocationError"])
def test_the_backup_flow_retries_a_handler_failure_whatever_its_name(code):
    steps = _Steps(failures=2, code=code)
    out = Interpreter(_backup_flow(), steps, "b-1", {"BackupId": "b-1", "Round": 0, "Generation": 1}).run()
    assert steps.calls.count("Prepare") == 3 and "FinalizeAfterError" not in steps.calls
    assert out == {"Body": {"BackupId": "b-1"}}
    steps = _Steps(failures=3, code=code)                  # a lasting fault: 2 retries, then the Catch
    with pytest.raises(StateError) as info:
        Interpreter(_backup_flow(), steps, "b-2", {"BackupId": "b-2", "Round": 0, "Generation": 1}).run()
    assert info.value.code == "BackupFailed" and steps.calls.count("Prepare") == 3
    assert "FinalizeAfterError" in steps.calls


def test_fc_throttling_gets_the_longer_retry():
    steps = _Steps(failures=5, code=FC_THROTTLED)
    Interpreter(_backup_flow(), steps, "b-3", {"BackupId": "b-3", "Round": 0, "Generation": 1}).run()
    assert steps.calls.count("Prepare") == 6 and "FinalizeAfterError" not in steps.calls
    retried = [d for t, s, d in steps.events if t == "StateRetried"]
    assert [r["delaySeconds"] for r in retried] == [2, 4, 8, 16, 32]


def _states(scope: dict):
    for state in scope["States"]:
        yield state
        for nested in [*(b for b in state.get("Branches") or [] if "States" in b), state.get("Processor")]:
            if nested:
                yield from _states(nested)


def test_every_retry_rule_of_the_product_flows_ends_in_the_wildcard_with_bounded_attempts():
    tasks = 0
    for path in sorted((ROOT / "flows").glob("*.yaml")):
        for state in _states(yaml.safe_load(path.read_text())):
            rules = state.get("Retry") or []
            if state["Type"] == "Task":
                tasks += 1
                assert rules, (path.name, state["Name"])
            if rules:
                where = (path.name, state["Name"])
                assert rules[0]["Errors"] == [FC_THROTTLED, FC_EXHAUSTED, FC_INTERNAL], where
                assert rules[-1]["Errors"] == [ALL_ERRORS], where
                assert all(0 < r["MaxAttempts"] <= 5 for r in rules), where
                assert not any(FC_UNHANDLED in r["Errors"] for r in rules), where
    assert tasks == 13        # 8 in the backup flow (one in each Map; Freeze, Thaw), 3 in the restore flow, 2 in the drill flow
