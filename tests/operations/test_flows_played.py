"""The operation tests run the real flow files (tests/support/flowplay.py): a change to a flow that breaks a backup or
a restore fails them, in seconds; and a backup that outlives its execution's event budget continues in the next."""
import pytest

from localcloud.fnf.flowfiles import FlowFiles
from nestbackup.operations.backup import create_backup
from tests.operations import test_backup_operations, test_restore_operations
from tests.support import flowplay
from tests.support.flowplay import ROOT, play_backup
from tests.support.memory.wiring import MemoryWiring

A_BACKUP = test_backup_operations.test_a_backup_of_disks_and_a_database_ends_created_with_every_artifact
A_RESTORE = test_restore_operations.test_a_restore_brings_data_back_keeps_later_writes_aside_and_starts_the_instances

CHANGES = {      # file, text, replaced by, a fast test it breaks
    "the backup flow skips Finalize": (
        "backup.yaml", '== "Done"\n        Next: Finalize\n', '== "Done"\n        Next: ContinuedInNextGeneration\n',
        A_BACKUP),
    "the backup flow names a step its function does not know": (
        "backup.yaml", "Step: Poll\n", "Step: Check\n", A_BACKUP),
    "the restore flow never runs the rename": (
        "restore.yaml", '== "Rename"\n        Next: Rename\n', '== "Rename"\n        Next: Pause\n', A_RESTORE),
}


def flows_with(tmp_path, file: str = "", text: str = "", replacement: str = "") -> FlowFiles:
    """A copy of flows/ with `text` replaced in `file`."""
    tmp_path.mkdir()
    for source in (ROOT / "flows").glob("*.yaml"):
        definition = source.read_text()
        if source.name == file:
            assert definition.count(text) == 1, f"{text!r} is not once in {file}"
            definition = definition.replace(text, replacement)
        (tmp_path / source.name).write_text(definition)
    return FlowFiles(tmp_path)


@pytest.mark.parametrize("change", CHANGES)
def test_a_changed_flow_fails_a_fast_test(change, tmp_path, monkeypatch):
    file, text, replacement, fast_test = CHANGES[change]
    monkeypatch.setattr(flowplay, "CATALOG", flows_with(tmp_path / "same"))
    fast_test(MemoryWiring())                                   # the copy itself changes nothing
    monkeypatch.setattr(flowplay, "CATALOG", flows_with(tmp_path / "changed", file, text, replacement))
    with pytest.raises(AssertionError):
        fast_test(MemoryWiring())


def test_a_backup_over_its_execution_budget_continues_in_new_executions_and_ends_created():
    w = MemoryWiring(steps=10, poll_rounds_per_execution=2)    # 10 polls until done, 2 per execution
    w.seed("si-1", instances=1, disks_per_instance=1)
    backup_id = create_backup(w, "si-1")["BackupId"]
    assert play_backup(w, backup_id)["Status"] == "Created"
    ran = {name: e["status"] for (flow, name), e in w.flows.executions.items() if name.startswith(backup_id)}
    assert len(ran) >= 3 and set(ran.values()) == {"Succeeded"}, ran
    assert f"{backup_id}-g2" in ran
