"""Every field a flow reads from its execution input is in the input the product starts it with."""
import importlib.util
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import yaml

from nestbackup.ports.flows import FLOW_INPUTS, BackupFlowInput, DrillFlowInput, RestoreFlowInput

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("flowcheck", ROOT / "scripts" / "flowcheck.py")
flowcheck = importlib.util.module_from_spec(spec)
spec.loader.exec_module(flowcheck)


def reads(text: str) -> set[str]:
    return flowcheck.execution_input_reads(yaml.safe_load(text))


def test_the_product_starts_each_flow_with_every_field_it_reads():
    assert flowcheck.check(ROOT / "flows") == []
    assert {cls.DEFINITION for cls in FLOW_INPUTS} == {yaml.safe_load(p.read_text())["Name"]
                                                       for p in (ROOT / "flows").glob("*.yaml")}
    restore = yaml.safe_load((ROOT / "flows/restore.yaml").read_text())
    assert flowcheck.execution_input_reads(restore) == {"RestoreId", "Round"}      # Advance reads $Input.Round
    backup = yaml.safe_load((ROOT / "flows/backup.yaml").read_text())
    assert flowcheck.execution_input_reads(backup) == {"BackupId", "Round", "Generation"}


def test_a_start_input_without_a_field_the_flow_reads_is_reported():
    @dataclass(frozen=True)
    class RestoreIdOnly:              # what the restore was started with before: {"RestoreId"}
        DEFINITION: ClassVar[str] = "nestbackup-restore"
        RestoreId: str

    problems = flowcheck.check(ROOT / "flows", (BackupFlowInput, RestoreIdOnly, DrillFlowInput))
    assert problems == ["restore.yaml: reads Round from the execution input, which RestoreIdOnly does not start "
                        "it with"]
    assert flowcheck.check(ROOT / "flows", (RestoreFlowInput, DrillFlowInput)) == [
        "backup.yaml: flow 'nestbackup-backup' has no declared start input"]


def test_render_flows_refuses_a_flow_reading_an_unsupplied_field(tmp_path):
    (tmp_path / "flows").mkdir()
    text = (ROOT / "flows/restore.yaml").read_text().replace("Round.$: $Input.Round", "Round.$: $Input.Lap")
    (tmp_path / "flows/restore.yaml").write_text(text)
    assert flowcheck.check(tmp_path / "flows", FLOW_INPUTS) == [
        "restore.yaml: reads Lap from the execution input, which RestoreFlowInput does not start it with"]
    done = subprocess.run([sys.executable, str(ROOT / "scripts/flowcheck.py")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_which_states_see_the_execution_input():
    assert reads("""
        StartAt: Route
        States:
          - {Type: Choice, Name: Route, Branches: [{Condition: '$Input.A > 1', Next: T}], Default: W}
          - {Type: Wait, Name: W, 'Seconds.$': $Input.B, Next: T}
          - Type: Task
            Name: T
            InputConstructor: {x.$: $Input.C}
            Parameters: {body: {y.$: $Input.NotRead, z.$: $Context.Execution.Input.D}}
            OutputConstructor: {o.$: '$Input["NotRead2"]'}
            Next: Later
          - {Type: Pass, Name: Later, OutputConstructor: {q.$: $Input.NotRead3}, End: true}
        """) == {"A", "B", "C", "D"}
    assert reads("""
        StartAt: P
        States:
          - {Type: Pass, Name: P, OutputConstructor: {a.$: $Input.A}, Next: Q}
          - {Type: Pass, Name: Q, OutputConstructor: {b.$: $Input.NotRead}, End: true}
        """) == {"A"}
    assert reads("""
        StartAt: Par
        States:
          - Type: Parallel
            Name: Par
            Branches:
              - StartAt: X
                States: [{Type: Pass, Name: X, OutputConstructor: {x.$: '$Input["E-1"]'}, End: true}]
            Catch: [{Errors: [FnF.ALL], OutputConstructor: {e.$: $Context.Current.Input.F}, Next: Par}]
            End: true
        """) == {"E-1", "F"}
