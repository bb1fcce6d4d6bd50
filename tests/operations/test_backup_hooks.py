"""Quiesce hooks on the in-memory ports through the real backup flow: the pre hook runs on every instance before any
snapshot is created and the post hook after every one is (created, not completed), also when a pre hook fails, a
snapshot cannot be created, the backup is cancelled or no step thawed (the sweeper does); the record lists every run
and the moment T its disks share."""
from __future__ import annotations

import time

import pytest

from nestbackup.api.app import handle
from nestbackup.api.http import Request
from nestbackup.errors import ValidationError
from nestbackup.operations import tenants
from nestbackup.operations.backup import create_backup, get_backup
from nestbackup.operations.backup_hooks import FROZEN, freeze
from nestbackup.operations.backup_settings import get_backup_settings, set_backup_settings
from nestbackup.operations.cancel import cancel_backup
from nestbackup.operations.loading import load_backup
from nestbackup.operations.sweeper import sweep
from tests.support.faults import VirtualClock, clock_installed
from tests.support.flowplay import play_backup
from tests.support.memory.wiring import MemoryWiring

PRE, POST = "sync; fsfreeze -f /data", "fsfreeze -u /data"


def hooked(on_failure: str = "Fail", timeout: int = 30, instances: int = 2, **seed) -> tuple[MemoryWiring, dict]:
    w = MemoryWiring()
    seeded = w.seed("si-1", instances=instances, **seed)
    set_backup_settings(w, "si-1", {"Hooks": {"Pre": PRE, "Post": POST, "TimeoutSeconds": timeout,
                                              "OnFailure": on_failure}})
    return w, seeded


def order(w: MemoryWiring) -> list[str]:
    """What reached ECS, in order: pre / post hook runs and snapshot creates."""
    return [("pre" if detail.endswith(PRE) else "post") if action == "RunCommand" else "create"
            for action, detail in w.ecs.events]


def test_pre_runs_on_every_instance_before_any_snapshot_is_created_and_post_after_all_are():
    w, seeded = hooked()
    backup = play_backup(w, create_backup(w, "si-1")["BackupId"])
    assert backup["Status"] == "Created"
    assert order(w) == ["pre", "pre", "create", "create", "post", "post"]
    runs = {(r["InstanceId"], r["Hook"]): r for r in backup["Hooks"]}
    assert set(runs) == {(i, h) for i in seeded["InstanceIds"] for h in ("Pre", "Post")}
    assert all(r["Status"] == "Success" and r["ExitCode"] == 0 for r in runs.values())
    assert backup["Consistency"] == "ApplicationConsistent" and backup["ConsistencyDetail"] is None
    assert sorted(backup["AtConsistentMoment"]) == sorted(seeded["Disks"])
    record = load_backup(w, backup["BackupId"])
    created = max(i.created_epoch or 0 for i in record.items)
    assert record.quiesce.frozen_at <= created == record.quiesce.consistent_at <= record.quiesce.thawed_at
    assert backup["ConsistentAt"] == record.consistent_at and backup["ConsistentAt"].endswith("Z")
    assert 0 <= backup["FrozenSeconds"] < 5
    assert w.store.docs(FROZEN) == []
    said = [(e["Event"], e["Detail"]) for e in w.records.events(backup["BackupId"])
            if e["Event"] in ("Frozen", "Thawed")]
    assert said == [("Frozen", "pre hook ran on 2 instance(s)"), ("Thawed", "post hook ran on 2 instance(s)")]


def test_a_failed_pre_hook_fails_the_backup_naming_the_instance_and_still_thaws_every_instance_it_ran_on():
    w, seeded = hooked("Fail")
    bad = seeded["InstanceIds"][1]
    w.ecs.command_outcomes[bad] = ("Failed", 1, "fsfreeze: /data: cannot freeze\n")
    backup = play_backup(w, create_backup(w, "si-1")["BackupId"])
    assert backup["Status"] == "CreateFailed"
    assert f"the pre hook on {bad} exited 1" in backup["StatusDetail"] and "cannot freeze" in backup["StatusDetail"]
    assert order(w) == ["pre", "pre", "post", "post"]              # no snapshot; both thawed (the pre ran on both)
    assert {r["ResourceId"]: r["Status"] for r in backup["Resources"]} == dict.fromkeys(seeded["Disks"], "NotStarted")
    assert w.store.docs(FROZEN) == []


def test_a_pre_hook_that_times_out_under_continue_goes_on_crash_consistent_and_says_so():
    w, seeded = hooked("Continue", timeout=20)
    slow = seeded["InstanceIds"][0]
    w.ecs.command_hangs.add((slow, PRE))
    with clock_installed(VirtualClock(time.time())):
        backup = play_backup(w, create_backup(w, "si-1")["BackupId"])
    assert backup["Status"] == "Created"
    assert backup["Consistency"] == "CrashConsistent" and backup["ConsistentAt"] is None
    assert f"the pre hook on {slow} timed out" in backup["ConsistencyDetail"]
    assert "crash-consistent" in backup["ConsistencyDetail"]
    assert [r["Status"] for r in backup["Hooks"] if r["InstanceId"] == slow] == ["Timeout", "Success"]
    assert order(w)[-2:] == ["post", "post"]


def test_a_snapshot_that_cannot_be_created_still_gets_its_instances_thawed():
    w, seeded = hooked()
    w.ecs.refusals.refuse("CreateSnapshotGroup", "QuotaExceed.Snapshot", times=2, http_status=403)
    backup = play_backup(w, create_backup(w, "si-1")["BackupId"])
    assert backup["Status"] == "CreateFailed"
    assert order(w) == ["pre", "pre", "post", "post"]
    assert [r["Hook"] for r in backup["Hooks"]].count("Post") == 2 and w.store.docs(FROZEN) == []


def test_a_cancelled_backup_thaws_the_instances_its_pre_hook_froze():
    w, _ = hooked()
    backup_id = create_backup(w, "si-1")["BackupId"]
    freeze(w, backup_id)                          # the flow got as far as the freeze
    assert w.store.docs(FROZEN) and order(w) == ["pre", "pre"]
    assert cancel_backup(w, backup_id)["Status"] == "Cancelled"
    assert order(w) == ["pre", "pre", "post", "post"] and w.store.docs(FROZEN) == []


def test_the_sweeper_thaws_a_backup_whose_flow_died_after_the_freeze():
    w, _ = hooked()
    backup_id = create_backup(w, "si-1")["BackupId"]
    freeze(w, backup_id)
    w.flows.executions.clear()                    # the flow is gone: nothing else will thaw
    assert sweep(w)["Thawed"] == [] and order(w) == ["pre", "pre"]          # young: its flow may still thaw it
    later = sweep(w, now=time.time() + 3600)      # the sweeper closes it, and the close thaws
    assert later["Finished"] == [backup_id] and order(w)[-2:] == ["post", "post"]
    assert get_backup(w, backup_id)["Status"] != "Creating" and w.store.docs(FROZEN) == []


def test_a_thaw_the_close_could_not_send_is_sent_by_the_sweeper():
    w, _ = hooked()
    backup_id = create_backup(w, "si-1")["BackupId"]
    freeze(w, backup_id)
    w.ecs.refusals.refuse("RunCommand", "ServiceUnavailable", http_status=503)
    assert cancel_backup(w, backup_id)["Status"] == "Cancelled"        # closed: the cancel does not wait for ECS
    assert order(w) == ["pre", "pre"] and [k for k, _, _ in w.store.docs(FROZEN)] == [backup_id]
    assert sweep(w, now=time.time() + 3600)["Thawed"] == [backup_id]
    assert order(w) == ["pre", "pre", "post", "post"] and w.store.docs(FROZEN) == []
    assert [r["Hook"] for r in get_backup(w, backup_id)["Hooks"]] == ["Pre", "Pre", "Post", "Post"]


def test_without_hooks_the_flow_runs_no_command_and_the_record_says_nothing_of_them():
    w = MemoryWiring()
    w.seed("si-1", instances=1)
    backup = play_backup(w, create_backup(w, "si-1")["BackupId"])
    assert backup["Status"] == "Created" and "Hooks" not in backup and w.ecs.ran == []


def test_hook_settings_are_checked_and_read_back():
    w = MemoryWiring()
    for bad in ({"Pre": "", "Post": "x"}, {"Pre": "x", "Post": "y", "TimeoutSeconds": 5},
                {"Pre": "x", "Post": "y", "OnFailure": "Ignore"}, {"Pre": "x", "Post": "y", "Instances": ["vm-1"]},
                {"Pre": "x", "Post": "y", "Extra": 1}, {"Pre": "x" * 12001, "Post": "y"}, "fsfreeze"):
        with pytest.raises(ValidationError):
            set_backup_settings(w, "si-1", {"Hooks": bad})
    set_backup_settings(w, "si-1", {"Hooks": {"Pre": PRE, "Post": POST, "Instances": ["i-1", "i-1"]}})
    assert get_backup_settings(w, "si-1")["Hooks"] == {"Pre": PRE, "Post": POST, "TimeoutSeconds": 60,
                                                       "OnFailure": "Fail", "Instances": ["i-1"]}
    set_backup_settings(w, "si-1", {"Hooks": None})
    assert get_backup_settings(w, "si-1")["Hooks"] is None


def test_only_the_admin_sets_hooks_and_a_tenant_reads_its_own():
    w = MemoryWiring(admin_token_secret="nestbackup-admin-token")
    w.secrets.values["nestbackup-admin-token"] = "admin-token"
    w.seed("si-1", instances=1)
    tenant = tenants.create_tenant(w, "acme", ["si-1"])["Token"]
    body = b'{"Hooks": {"Pre": "fsfreeze -f /data", "Post": "fsfreeze -u /data"}}'

    def call(method: str, token: str, data: bytes = b"") -> tuple[int, dict]:
        answer = handle(Request(method, "/api/service-instances/si-1/backup-settings",
                                headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
                                body=data), lambda: w)
        return answer.status, answer.body

    status, refused = call("PUT", tenant, body)
    assert status == 403 and "admin" in refused["Message"] and refused["Code"]
    assert call("PUT", "admin-token", body)[0] == 200
    status, shown = call("GET", tenant)
    assert status == 200 and shown["Hooks"]["Pre"] == "fsfreeze -f /data"
    assert call("PUT", "admin-token", b'{"Hooks": {"Pre": "x"}}')[0] == 400


def test_the_plan_says_whether_a_backup_would_be_quiesced():
    from nestbackup.operations.plan import plan_backup
    w = MemoryWiring()
    w.seed("si-1", instances=2)
    before = plan_backup(w, "si-1")
    assert before["Consistency"] == "CrashConsistent" and any("no quiesce hooks" in x for x in before["Warnings"])
    set_backup_settings(w, "si-1", {"Hooks": {"Pre": PRE, "Post": POST}})
    after = plan_backup(w, "si-1")
    assert after["Consistency"] == "ApplicationConsistent" and not any("hooks" in x for x in after["Warnings"])


def test_a_cancel_landing_just_before_the_pre_hook_is_sent_still_ends_with_a_thaw_after_it():
    """The cancel's close finds the freeze listed but no pre hook sent yet: it does not thaw ahead of the pre hook;
    the Freeze step, reading the record closed after its pre hook, thaws with a token of its own."""
    w, _ = hooked()
    backup_id = create_backup(w, "si-1")["BackupId"]
    send = w.ecs.run_command

    def cancel_first(*args, **kwargs):
        if not w.ecs.ran:
            assert cancel_backup(w, backup_id)["Status"] == "Cancelled"
        return send(*args, **kwargs)
    w.ecs.run_command = cancel_first
    assert freeze(w, backup_id)["State"] == "Failed"
    assert order(w) == ["pre", "pre", "post", "post"] and w.store.docs(FROZEN) == []


def test_a_stopped_instance_gets_no_hook_and_does_not_fail_the_backup():
    w, seeded = hooked()
    running, stopped = seeded["InstanceIds"]
    w.ecs.instances[stopped]["status"] = "Stopped"
    backup = play_backup(w, create_backup(w, "si-1")["BackupId"])
    assert backup["Status"] == "Created" and backup["Consistency"] == "ApplicationConsistent"
    assert [(r["InstanceId"], r["Hook"], r["Status"]) for r in backup["Hooks"]] == [
        (running, "Pre", "Success"), (stopped, "Pre", "NotRun"), (running, "Post", "Success")]
    assert {iid for iid, _ in w.ecs.ran} == {running}


def test_a_disk_whose_create_was_deferred_past_the_thaw_is_not_at_the_moment_and_the_record_says_so():
    w, seeded = hooked()
    w.ecs.refusals.refuse("CreateSnapshotGroup", "IncorrectDiskStatus.CreatingSnapshot", http_status=403)
    backup = play_backup(w, create_backup(w, "si-1")["BackupId"])
    assert backup["Status"] == "Created"
    late = sorted(set(seeded["Disks"]) - set(backup["AtConsistentMoment"]))
    assert len(late) == 2 and backup["ConsistentAt"] and backup["Consistency"] == "CrashConsistent"
    assert all(d in backup["ConsistencyDetail"] for d in late) and "deferred" in backup["ConsistencyDetail"]
    assert order(w) == ["pre", "pre", "create", "post", "post", "create"]
