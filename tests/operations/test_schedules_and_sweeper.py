"""The timer jobs on the in-memory ports: when a schedule fires, what its retention deletes, and how the sweeper
closes the operations whose flow died."""
import time

import pytest

from nestbackup.decisions.retention import Retention
from nestbackup.errors import NotFound, ValidationError
from nestbackup.operations import schedules
from nestbackup.operations.backup import create_backup, get_backup
from nestbackup.operations.backup_start import start_batch, start_batch_count
from nestbackup.operations.restore import advance, create_restore, get_restore
from nestbackup.operations.sweeper import sweep
from tests.support.flowplay import play_backup
from tests.support.memory.wiring import MemoryWiring

DAY = 86400
MIDNIGHT = 1_900_000_000 - 1_900_000_000 % DAY


@pytest.fixture
def w():
    return MemoryWiring()


def fired(out: dict) -> list[str]:
    return [r["BackupId"] for r in out["Results"] if r.get("BackupId")]


def backup_at(w, when: float, fail: bool = False) -> str:
    """A backup of si-1 started at `when` and played to its end (failed when `fail`)."""
    w.ecs.failing = set(w.ecs.disks) if fail else set()
    backup_id = create_backup(w, "si-1", now=when)["BackupId"]
    assert play_backup(w, backup_id)["Status"] == ("CreateFailed" if fail else "Created")
    return backup_id


def test_a_schedule_fires_once_per_due_time_and_not_before(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    schedules.set_schedule(w, "si-1", "0 */2 * * *", now=MIDNIGHT + 3600)
    assert fired(schedules.tick(w, now=MIDNIGHT + 3660)) == []                 # 01:01: the next fire is 02:00
    first = fired(schedules.tick(w, now=MIDNIGHT + 7205))
    assert len(first) == 1
    assert fired(schedules.tick(w, now=MIDNIGHT + 7260)) == []                 # a second tick at 02:01: done already
    assert schedules.get_schedule(w, "si-1")["LastFireTime"].startswith("2030-03-17T02:00")
    play_backup(w, first[0])
    assert get_backup(w, first[0])["Status"] == "Created"


def test_a_tick_starts_at_most_its_budget_and_the_next_tick_takes_the_rest_first():
    w = MemoryWiring(schedule_starts_per_tick=3)
    names = [f"si-{n}" for n in range(7)]
    for si in names:
        w.seed(si, instances=1, disks_per_instance=1)
        schedules.set_schedule(w, si, "0 3 * * *", now=MIDNIGHT)
    started: list[str] = []
    for minute in range(4):
        out = schedules.tick(w, now=MIDNIGHT + 3 * 3600 + 60 * minute + 1)
        assert out["Fired"] <= 3
        assert out["Deferred"] == max(0, len(names) - len(started) - 3)
        started += [r["ServiceInstanceId"] for r in out["Results"] if r.get("BackupId")]
    assert sorted(started) == names                  # every schedule fired, each once, over three ticks
    assert all(schedules.get_schedule(w, si)["LastFireTime"].endswith("03:00:00Z") for si in names)


def test_a_schedule_shows_its_next_run_and_its_last_real_run_with_the_backup_it_started(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    shown = schedules.set_schedule(w, "si-1", "0 */2 * * *", now=MIDNIGHT + 3600)
    assert shown["LastFireTime"] is None and shown["LastBackupId"] is None            # set is not a run
    assert shown["NextRunTime"] == "2030-03-17T02:00:00Z"
    assert schedules.get_schedule(w, "si-1", now=MIDNIGHT + 3700)["LastFireTime"] is None
    [backup_id] = fired(schedules.tick(w, now=MIDNIGHT + 7205))
    shown = schedules.get_schedule(w, "si-1", now=MIDNIGHT + 7210)
    assert shown["LastFireTime"] == "2030-03-17T02:00:00Z" and shown["LastBackupId"] == backup_id
    assert shown["LastBackupStatus"] == "Creating" and shown["NextRunTime"] == "2030-03-17T04:00:00Z"
    play_backup(w, backup_id)
    assert schedules.get_schedule(w, "si-1")["LastBackupStatus"] == "Created"
    again = schedules.set_schedule(w, "si-1", "0 */2 * * *", keep_last=3, now=MIDNIGHT + 7300)
    assert again["LastBackupId"] == backup_id                                         # a new rule keeps the history
    assert schedules.set_schedule(w, "si-1", "0 3 * * *", enabled=False, now=MIDNIGHT)["NextRunTime"] is None


def test_a_schedule_of_an_instance_compute_nest_does_not_know_is_refused(w):
    with pytest.raises(NotFound, match="si-nobody"):
        schedules.set_schedule(w, "si-nobody", "0 3 * * *", now=MIDNIGHT)
    assert w.documents.get_doc(schedules.SCHEDULES, "si-nobody") is None


def test_a_disabled_schedule_never_fires(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    schedules.set_schedule(w, "si-1", "0 */2 * * *", enabled=False, now=MIDNIGHT)
    assert schedules.tick(w, now=MIDNIGHT + DAY)["Schedules"] == 0 and not w.flows.executions


def test_a_schedule_that_cannot_back_up_says_why_and_the_others_still_fire(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    w.seed("si-gone", instances=1, disks_per_instance=1)
    for si in ("si-1", "si-gone"):
        schedules.set_schedule(w, si, "0 */2 * * *", now=MIDNIGHT)
    del w.computenest.instances["si-gone"]                                     # Compute Nest forgot it since
    out = schedules.tick(w, now=MIDNIGHT + 7205)
    results = {r["ServiceInstanceId"]: r for r in out["Results"]}
    assert results["si-1"]["BackupId"] and "si-gone" in results["si-gone"]["Error"]
    assert out["Fired"] == 1


def test_a_scheduled_backup_that_does_not_start_says_why_on_its_schedule_until_one_starts(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    schedules.set_schedule(w, "si-1", "0 */2 * * *", now=MIDNIGHT)
    w.claims.acquire_lock("si-1", "restore-elsewhere", int((MIDNIGHT + 7205) * 1000), 3600 * 1000)
    [result] = schedules.tick(w, now=MIDNIGHT + 7205)["Results"]
    shown = schedules.get_schedule(w, "si-1")
    assert "busy" in result["Error"] and shown["LastError"] == result["Error"]
    assert shown["LastErrorTime"].startswith("2030-03-17T02:00:05")
    w.claims.release_lock("si-1", "restore-elsewhere")
    assert len(fired(schedules.tick(w, now=MIDNIGHT + 4 * 3600 + 5))) == 1
    shown = schedules.get_schedule(w, "si-1")
    assert shown["LastError"] is None and shown["LastErrorTime"] is None
    assert shown["LastFireTime"].startswith("2030-03-17T04:00")


def cron_of_length(n: int) -> str:
    """A valid daily-enough cron (the 1st of January and maybe October, 03:00) exactly `n` characters long."""
    months = ("10" if n % 2 == 0 else "1") + ",1" * ((n - 10) // 2 if n % 2 == 0 else (n - 9) // 2)
    cron = f"0 3 1 {months} *"
    assert len(cron) == n
    return cron


def test_a_cron_too_long_for_the_scheduled_backups_description_is_refused_when_set(w):
    # a scheduled backup's description is "scheduled (<cron>)", and a description holds at most 256 characters
    longest = 256 - len("scheduled ()")
    w.seed("si-1", instances=1, disks_per_instance=1)
    with pytest.raises(ValidationError, match=f"Cron must be at most {longest} characters"):
        schedules.set_schedule(w, "si-1", cron_of_length(longest + 1), now=MIDNIGHT)
    with pytest.raises(NotFound):
        schedules.get_schedule(w, "si-1")
    schedules.set_schedule(w, "si-1", cron_of_length(longest), now=MIDNIGHT)        # the longest allowed backs up
    [backup_id] = fired(schedules.tick(w, now=MIDNIGHT + 400 * DAY))
    assert get_backup(w, backup_id)["Description"] == f"scheduled ({cron_of_length(longest)})"


def test_keep_days_deletes_only_what_is_older_and_never_the_newest_created(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    now = time.time()
    old, older_still_created, recent = (backup_at(w, now - days * DAY) for days in (5, 3, 0.5))
    deleted = schedules.apply_retention(w, "si-1", Retention(keep_days=1), now)
    assert deleted == [old, older_still_created]
    assert [get_backup(w, b)["Status"] for b in (old, older_still_created, recent)] == ["Deleted", "Deleted",
                                                                                       "Created"]
    assert schedules.apply_retention(w, "si-1", Retention(keep_days=1), now + 30 * DAY) == []  # newest stays


def test_a_failed_backup_never_counts_towards_keep_last(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    now = time.time()
    first = backup_at(w, now - 3 * DAY)
    failed = backup_at(w, now - 2 * DAY, fail=True)
    last = backup_at(w, now - DAY)
    assert schedules.apply_retention(w, "si-1", Retention(keep_last=2), now) == [failed]
    assert get_backup(w, first)["Status"] == get_backup(w, last)["Status"] == "Created"


def test_the_sweeper_leaves_young_and_running_operations_alone(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    w.ecs.steps = 0
    backup_id = create_backup(w, "si-1")["BackupId"]
    nothing = {"Abandoned": [], "LeftForNextSweep": 0, "CancelledSetsDeleted": [], "CancelledSetsWaiting": 0,
               "UnwantedArtifactsDeleted": [], "UndoSnapshotsDeleted": [], "DrillsClosed": [], "DrillsStarted": [],
               "ObjectivesBreached": [], "CloudLocksFinished": [], "Thawed": []}
    assert sweep(w) == {"Finished": [], "Running": 1, **nothing}                           # too young to judge
    assert sweep(w, now=time.time() + 1000) == {"Finished": [], "Running": 1, **nothing}  # its flow still runs
    assert get_backup(w, backup_id)["Status"] == "Creating"


def test_the_sweeper_closes_a_backup_whose_flow_died_and_frees_the_instance(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    w.ecs.steps = 0                                                            # its snapshot never ends
    backup_id = create_backup(w, "si-1")["BackupId"]
    w.flows.end(w.settings.backup_flow, backup_id, "Failed")
    assert sweep(w, now=time.time() + 1000)["Finished"] == [backup_id]
    final = get_backup(w, backup_id)
    assert final["Status"] == "CreateFailed" and "FlowEnded" in final["StatusDetail"] + str(final["Resources"])
    assert w.store.lock_holder("si-1", 0) is None
    assert sweep(w, now=time.time() + 2000)["Finished"] == []                  # nothing left to sweep
    assert sweep(w, now=time.time() + 2000)["Running"] == 0


def test_the_sweeper_counts_what_finished_before_the_flow_died(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    backup_id = create_backup(w, "si-1")["BackupId"]                           # its snapshot ends at the first look
    w.flows.end(w.settings.backup_flow, backup_id, "Failed")
    sweep(w, now=time.time() + 1000)
    assert get_backup(w, backup_id)["Resources"][0]["Status"] == "Succeeded"


def test_a_backup_closed_while_its_rds_job_runs_hands_the_set_to_the_timer(w):
    w.seed("si-1", instances=0, databases={"PostgreSQL": {"app": {"t": [1]}}})
    w.rds.steps = 0                                                            # its job runs on
    backup_id = create_backup(w, "si-1")["BackupId"]
    for batch in start_batch_count(w, backup_id):
        start_batch(w, backup_id, batch)
    w.flows.end(w.settings.backup_flow, backup_id, "Failed")
    w.rds.refusals.refuse("DescribeBackupTasks", "InternalError", http_status=500)    # the sweeper's poll fails
    assert sweep(w, now=time.time() + 1000)["Finished"] == [backup_id]
    final = get_backup(w, backup_id)
    assert final["Status"] == "CreateFailed" and "its set is deleted when the job ends" in str(final["Resources"])
    w.rds.finish()                                                             # the job ends: its set is no record's
    assert w.rds.sets
    sweep(w, now=time.time() + 2000)
    assert not w.rds.sets


def test_a_handed_over_set_is_deleted_even_once_its_job_dropped_out_of_the_task_list(w):
    """DescribeBackupTasks answers for a finished job only for a while: the timer then finds the set the job made
    as the backup does (made since the intent, not listed then) and deletes it, rather than forgetting it."""
    w.seed("si-1", instances=0, databases={"PostgreSQL": {"app": {"t": [1]}}})
    w.rds.steps = 0
    backup_id = create_backup(w, "si-1")["BackupId"]
    for batch in start_batch_count(w, backup_id):
        start_batch(w, backup_id, batch)
    w.flows.end(w.settings.backup_flow, backup_id, "Failed")
    w.rds.refusals.refuse("DescribeBackupTasks", "InternalError", http_status=500)
    assert sweep(w, now=time.time() + 1000)["Finished"] == [backup_id]
    w.rds.finish()
    w.rds.forget_finished = True                                               # the ended job is no longer listed
    made = list(w.rds.sets)
    assert len(made) == 1
    assert sweep(w, now=time.time() + 2000)["CancelledSetsDeleted"] == made
    assert not w.rds.sets


def _restore_with_its_instances_stopped(w) -> tuple[dict, str]:
    """A restore advanced by hand (not by its flow) to RestoringData, its instance stopped."""
    seeded = w.seed("si-1", instances=1, disks_per_instance=1)
    backup_id = backup_at(w, time.time())
    restore_id = create_restore(w, backup_id, safety_backup=False)["RestoreId"]
    for _ in range(10):
        if get_restore(w, restore_id)["Phase"] == "RestoringData":
            break
        advance(w, restore_id)
    return seeded, restore_id


def test_the_sweeper_closes_a_restore_whose_flow_died_and_starts_its_instances(w):
    seeded, restore_id = _restore_with_its_instances_stopped(w)
    assert {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]} == {"Stopped"}
    w.flows.end(w.settings.restore_flow, restore_id, "Failed")
    assert sweep(w, now=time.time() + 1000)["Finished"] == [restore_id]
    final = get_restore(w, restore_id)
    assert final["Status"] == "RestoreFailed" and "FlowEnded" in final["StatusDetail"]
    assert {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]} == {"Running"}


def test_a_restore_whose_instances_cannot_be_started_yet_stays_open_until_they_are(w):
    seeded, restore_id = _restore_with_its_instances_stopped(w)
    w.flows.end(w.settings.restore_flow, restore_id, "Failed")
    w.ecs.refusals.refuse("StartInstances", "InternalError", http_status=500)
    assert sweep(w, now=time.time() + 1000)["Finished"] == []
    assert get_restore(w, restore_id)["Status"] == "Restoring"                 # not final with its instances down
    assert {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]} == {"Stopped"}
    assert sweep(w, now=time.time() + 1400)["Finished"] == [restore_id]
    assert get_restore(w, restore_id)["Status"] == "RestoreFailed"
    assert {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]} == {"Running"}



def test_a_retention_dry_run_lists_what_the_rule_would_delete_and_deletes_nothing(w):
    w.seed("si-1", instances=1, disks_per_instance=1)
    old, middle, new = (backup_at(w, MIDNIGHT + n * DAY) for n in range(3))
    with pytest.raises(NotFound, match="no retention rule"):
        schedules.preview_retention(w, "si-1", now=MIDNIGHT + 3 * DAY)
    schedules.set_schedule(w, "si-1", "0 3 * * *", keep_last=1, now=MIDNIGHT)
    preview = schedules.preview_retention(w, "si-1", now=MIDNIGHT + 3 * DAY)
    assert [b["BackupId"] for b in preview["WouldDelete"]] == [old, middle] and preview["Kept"] == 1
    assert preview["DryRun"] is True and preview["WouldDelete"][0]["Status"] == "Created"
    assert [b["BackupId"] for b in schedules.preview_retention(w, "si-1", keep_days=2, now=MIDNIGHT + 2.5 * DAY)[
        "WouldDelete"]] == [old]
    assert {get_backup(w, b)["Status"] for b in (old, middle, new)} == {"Created"}       # nothing deleted
