"""The flows and the functions they invoke agree on each step's input, output and routing states (ports/steps/),
and a step's input is checked when it is parsed."""
import importlib.util
from pathlib import Path

import pytest

from nestbackup.errors import ValidationError
from nestbackup.ports.steps.advance import AdvanceOutput, AdvanceState
from nestbackup.ports.steps.poll import PollInput, PollOutput, PollState
from nestbackup.ports.steps.table import STEPS

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("flowcheck", ROOT / "scripts" / "flowcheck.py")
flowcheck = importlib.util.module_from_spec(spec)
spec.loader.exec_module(flowcheck)


def test_every_flow_step_uses_only_what_its_function_declares():
    assert flowcheck.check_steps(ROOT / "flows") == []


def _flows_with(tmp_path, old: str, new: str) -> Path:
    (tmp_path / "flows").mkdir()
    for path in (ROOT / "flows").glob("*.yaml"):
        (tmp_path / "flows" / path.name).write_text(path.read_text().replace(old, new))
    return tmp_path / "flows"


def test_a_flow_reading_an_output_field_the_step_does_not_give_is_reported(tmp_path):
    flows = _flows_with(tmp_path, "Generation.$: $Output.Body.Generation", "Generation.$: $Output.Body.Gen")
    assert flowcheck.check_steps(flows) == [
        "backup.yaml: Thaw reads Gen from the output, which ThawOutput does not give",
        "backup.yaml: Poll reads Gen from the output, which PollOutput does not give"]


def test_a_choice_on_a_state_no_step_routes_on_is_reported(tmp_path):
    flows = _flows_with(tmp_path, '$Input.State == "Rename"', '$Input.State == "Renaming"')
    assert flowcheck.check_steps(flows) == [
        "restore.yaml: a Choice compares State with 'Renaming', which no step routes on"]


def test_a_body_field_the_step_does_not_take_is_reported(tmp_path):
    flows = _flows_with(tmp_path, "Batch.$: $Input.Batch", "Batches.$: $Input.Batch")
    assert flowcheck.check_steps(flows) == [
        "backup.yaml: StartFrozenBatch sends Batches, which StartBatchInput does not take",
        "backup.yaml: StartBatch sends Batches, which StartBatchInput does not take"]


def test_every_function_of_the_flows_has_a_contract():
    functions = {p.parent.name for p in (ROOT / "functions").glob("*/index.py")}
    assert set(STEPS) <= functions
    assert functions - set(STEPS) == {"nestbackup-api", "nestbackup-events", "nestbackup-timer"}


def test_a_step_input_is_parsed_and_checked():
    assert PollInput.from_event({"BackupId": "backup-1", "Round": "3"}) == PollInput("backup-1", 3, 1)
    with pytest.raises(ValidationError, match="needs BackupId"):
        PollInput.from_event({"Round": 1})
    with pytest.raises(ValidationError, match="Round must be a whole number"):
        PollInput.from_event({"BackupId": "backup-1", "Round": "soon"})
    with pytest.raises(ValidationError, match="BackupId must be a string"):
        PollInput.from_event({"BackupId": 7})


def test_a_step_output_is_the_event_the_flow_reads():
    assert PollOutput("backup-1", PollState.CONTINUE, 300, 400, 2).to_event() == {
        "BackupId": "backup-1", "State": "Continue", "Wait": 300, "Round": 400, "Generation": 2}
    assert AdvanceOutput("restore-1", AdvanceState.RENAME, 0, 1).to_event()["State"] == "Rename"
