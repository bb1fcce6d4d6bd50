"""The flows' part, played by the operation tests: the steps each flow runs, in its order, on the in-memory ports
(what flows/backup.yaml and flows/restore.yaml do through CloudFlow)."""
from __future__ import annotations

from nestbackup.operations.backup import create_backup
from nestbackup.operations.backup_poll import finalize, poll_step
from nestbackup.operations.backup_start import start_batch, start_batch_count
from nestbackup.operations.restore import advance, recover
from nestbackup.operations.restore_rename import rename
from nestbackup.ports import Ports


def play_backup(w: Ports, backup_id: str, max_rounds: int = 50) -> dict:
    execution = w.flows.executions.get((w.settings.backup_flow, backup_id))    # type: ignore[attr-defined]
    if execution:
        execution["played"] = True
    for batch in start_batch_count(w, backup_id):
        start_batch(w, backup_id, batch)
    for round_number in range(max_rounds):
        step = poll_step(w, backup_id, round_number)
        if step["State"] == "Done":
            return finalize(w, backup_id)
    raise AssertionError(f"{backup_id} still polling after {max_rounds} rounds")


def play_started_backups(w) -> None:
    """Run the backup flows an operation started meanwhile (a restore's safety backup), as CloudFlow would."""
    for (flow, name), execution in list(w.flows.executions.items()):
        if flow == w.settings.backup_flow and execution["status"] == "Running" and not execution.get("played"):
            execution["played"] = True
            play_backup(w, execution["input"]["BackupId"])


def play_restore(w: Ports, restore_id: str, max_steps: int = 200, on_phase=None) -> dict:
    round_number = 0
    for _ in range(max_steps):
        play_started_backups(w)
        try:
            step = advance(w, restore_id, round_number)
        except Exception as err:        # the flow's Catch
            return recover(w, restore_id, {"Code": type(err).__name__, "Detail": str(err)})
        if on_phase:
            on_phase(w)
        if step["State"] == "Done":
            return step
        if step["State"] == "Rename":
            rename(w, restore_id)
            round_number = 0
        else:
            round_number = step["Round"]
    raise AssertionError(f"{restore_id} still restoring after {max_steps} steps")


DBS = {"PostgreSQL": {"app": {"t": [1, 2, 3]}}}


def backed_up(w, databases=DBS, **seed) -> tuple[dict, str]:
    """A service instance seeded as asked (disks, and a PostgreSQL database by default) and a Created backup of it."""
    seeded = w.seed("si-1", databases=databases, **seed)
    backup_id = create_backup(w, "si-1")["BackupId"]
    assert play_backup(w, backup_id)["Status"] == "Created"
    return seeded, backup_id
