"""Each step function imports only what the invoked step needs: its dispatch table names every step's operation,
imported on the step's first run, and the RAM derivation follows the same tables."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from nestbackup.handlers import operation
from nestbackup.ports.steps.table import STEPS

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("ram", ROOT / "scripts" / "ram.py")
ram = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ram)


def handler_module(function: str):
    spec = importlib.util.spec_from_file_location(f"index_{function}", ROOT / "functions" / function / "index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("function", ["nestbackup-backup-steps", "nestbackup-restore-steps"])
def test_a_step_functions_table_names_an_operation_for_each_of_its_steps(function):
    table = handler_module(function).OPERATIONS
    assert set(table) == set(STEPS[function])
    assert all(callable(operation(target)) for target in table.values())


def test_the_timers_jobs_are_operations():
    timer = handler_module("nestbackup-timer")
    assert all(callable(operation(target)) for target in [*timer.JOBS.values(), *timer.AFTER.values()])


def loaded_after(function: str, step: str, prefix: str = "nestbackup.operations.") -> set[str]:
    """The product's modules under `prefix` (its operations unless told) a fresh interpreter holds after importing
    `function`'s handler and dispatching `step` (its operation imported, not run)."""
    code = f"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("index", {str(ROOT / "functions" / function / "index.py")!r})
index = importlib.util.module_from_spec(spec); spec.loader.exec_module(index)
from nestbackup.handlers import operation
{"operation(index.OPERATIONS[" + repr(step) + "])" if step else ""}
print(json.dumps(sorted(m for m in sys.modules if m.startswith({prefix!r}))))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": f"{ROOT / 'shared'}:{ROOT}", "PATH": "/usr/bin:/bin"})
    return set(json.loads(out.stdout))


def test_a_cold_start_imports_only_the_operations_of_the_step_it_runs():
    assert loaded_after("nestbackup-backup-steps", "") == set()
    prepare = loaded_after("nestbackup-backup-steps", "Prepare")       # a backup's first step: no poll, no close
    assert "nestbackup.operations.backup_start" in prepare
    assert not {"nestbackup.operations.backup_poll", "nestbackup.operations.closing",
                "nestbackup.operations.notify"} & prepare
    assert "nestbackup.operations.backup_poll" in loaded_after("nestbackup-backup-steps", "Poll")
    assert loaded_after("nestbackup-timer", "") == set()


@pytest.mark.parametrize("step, contracts", [
    ("Prepare", {"prepare", "start"}), ("Start", {"prepare", "start"}),      # one module runs both (backup_start)
    ("Poll", {"poll"}), ("Finalize", {"finalize"})])
def test_a_backup_step_loads_its_own_contract_and_nothing_of_the_restore(step, contracts):
    """Each dataclass costs a cold start its generated methods' compilation (some 1 ms on python3.10): a step creates
    its own contract's, not the other steps' nor the restore's records and decisions."""
    loaded = loaded_after("nestbackup-backup-steps", step, "nestbackup.")
    assert {m for m in loaded if m.startswith("nestbackup.ports.steps.")} == {f"nestbackup.ports.steps.{c}"
                                                                              for c in contracts}
    assert not {"nestbackup.model.restores", "nestbackup.decisions.restore"} & loaded
    if step != "Finalize":      # only the finalize step closes the record (lock, notifications)
        assert not {"nestbackup.operations.closing", "nestbackup.operations.notify"} & loaded


def test_the_ram_derivation_stops_at_a_dispatch_to_no_function(tmp_path, monkeypatch):
    function = tmp_path / "nestbackup-backup-steps"
    function.mkdir()
    (function / "index.py").write_text('OPERATIONS = {"Poll": ("nestbackup.operations.backup_poll", "pol_step")}\n')
    monkeypatch.setattr(ram, "FUNCTIONS", tmp_path)
    with pytest.raises(SystemExit, match="pol_step, not a function of the package"):
        ram.handler_roots("nestbackup-backup-steps", ram.Index())


def test_each_timer_job_reaches_only_what_it_runs_after_itself():
    """The webhook deliveries run after the schedules, the audit's pruning after the sweep: each is filed under its
    job, so the other job's cold start (and the cold-start bench's path for it) does not load it."""
    index = ram.Index()
    schedules = ram.handler_roots("nestbackup-timer", index, step="schedules")
    sweep = ram.handler_roots("nestbackup-timer", index, step="sweep")
    assert "nestbackup.operations.notify:deliver_due" in schedules - sweep
    assert "nestbackup.operations.audit:prune" in sweep - schedules


def test_the_ram_derivation_grants_each_step_what_its_table_entry_reaches():
    index = ram.Index()
    poll = index.actions(ram.handler_roots("nestbackup-backup-steps", index, step="Poll"))
    start = index.actions(ram.handler_roots("nestbackup-backup-steps", index, step="Start"))
    assert "ecs:CreateSnapshotGroup" in start and "ecs:DescribeSnapshotGroups" in poll
    assert start | poll <= ram.group_actions()["backup"]
