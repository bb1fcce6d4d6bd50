"""One moment for the whole service instance, on the in-memory ports: a restore of a hooked backup brings each
database whose log backups reach the backup's moment T to it (RestoreTime, T rounded down to its second) instead of
from its set; one whose logs do not comes from its set, the record saying why; ToConsistentMoment false restores
every database from its set; the preview and the plan say which and why."""
from __future__ import annotations

import time

from nestbackup.api.app import handle
from nestbackup.api.http import Request
from nestbackup.decisions.restore import moment_second
from nestbackup.model.records import iso_utc_ms
from nestbackup.model.selection import RestoreRequest
from nestbackup.operations import tenants
from nestbackup.operations.backup import create_backup
from nestbackup.operations.backup_settings import set_backup_settings
from nestbackup.operations.loading import read_backup, save
from nestbackup.operations.plan import plan_backup
from nestbackup.operations.restore import create_restore, get_restore
from nestbackup.operations.restore_preview import preview
from tests.support.flowplay import play_backup, play_restore
from tests.support.memory.wiring import MemoryWiring

DATABASES = {"MySQL": {"app": {"t": [1, 2, 3]}}, "PostgreSQL": {"pg": {"t": [7]}}}


def hooked_backup() -> tuple[MemoryWiring, dict, str, float]:
    """A hooked backup of a disk, a MySQL instance (log backup on) and a PostgreSQL one (off), its sets taken 10 s
    ago; then MySQL rows written before its moment T and after it. Answers T (epoch, with milliseconds)."""
    w = MemoryWiring()
    seeded = w.seed("si-1", databases=DATABASES)
    set_backup_settings(w, "si-1", {"Hooks": {"Pre": "fsfreeze -f /data", "Post": "fsfreeze -u /data"}})
    backup_id = create_backup(w, "si-1")["BackupId"]
    assert play_backup(w, backup_id)["Status"] == "Created"
    mysql = seeded["DBInstances"][0]
    start = time.time() - 10
    w.rds.history[mysql] = [(start - 10, contents) for _, contents in w.rds.history[mysql]]
    w.rds.servers[mysql]["app"]["t"].append(4)           # after the set, before T
    w.rds.log(mysql, start + 1)
    w.rds.servers[mysql]["app"]["t"].append(5)           # after T
    w.rds.log(mysql, start + 3.5)
    moment = int(start) + 2.75                           # T: its second begins after the write before it
    stored, record = read_backup(w, backup_id)
    record.quiesce.consistent_at = moment
    save(w, stored, record)
    return w, seeded, backup_id, moment


def test_a_database_whose_logs_reach_the_moment_goes_to_it_and_the_others_come_from_their_set():
    w, seeded, backup_id, moment = hooked_backup()
    mysql, pg = seeded["DBInstances"]
    restore = create_restore(w, backup_id, safety_backup=False)
    items = {i["ResourceId"]: i for i in restore["Resources"]}
    assert restore["ConsistentAt"] == iso_utc_ms(moment)
    second = moment_second(restore["ConsistentAt"])
    assert second == iso_utc_ms(int(moment))[:19] + "Z"  # rounded down: nothing after T
    assert (items[mysql]["RestoredTo"], items[mysql]["RestoreTime"]) == ("consistent-moment", second)
    assert items[mysql]["SourceArtifactId"] == ""        # no set: RDS replays the logs to the second
    assert items[pg]["RestoredTo"] == "backup-set" and "log backup is off" in items[pg]["RestoredToReason"]
    assert items[pg]["SourceArtifactId"] and items[pg]["RestoreTime"] is None
    assert sorted(restore["AtConsistentMoment"]) == sorted([*seeded["Disks"], mysql])
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "Restored", final
    assert w.rds.servers[mysql]["app"]["t"] == [1, 2, 3, 4]   # the write before T, not the one after
    assert w.rds.servers[pg]["pg"]["t"] == [7]
    by_id = {i["ResourceId"]: i for i in final["Resources"]}
    assert by_id[mysql]["Verified"] and f"restored to {second}" in by_id[mysql]["Verification"]
    assert "row counts not compared" in by_id[mysql]["Verification"]
    assert by_id[pg]["Verified"] and "match the backup" in by_id[pg]["Verification"]


def test_a_moment_outside_the_window_or_an_rds_that_does_not_answer_leaves_the_database_to_its_set():
    w, seeded, backup_id, _ = hooked_backup()
    mysql = seeded["DBInstances"][0]
    stored, record = read_backup(w, backup_id)
    record.quiesce.consistent_at = time.time() - 86400      # before the first logged set
    save(w, stored, record)
    restore = create_restore(w, backup_id, safety_backup=False)
    item = next(i for i in restore["Resources"] if i["ResourceId"] == mysql)
    assert item["RestoredTo"] == "backup-set" and "outside the restorable range" in item["RestoredToReason"]
    assert mysql not in restore["AtConsistentMoment"] and restore["AtConsistentMoment"]      # the disks still are
    play_restore(w, restore["RestoreId"])
    assert get_restore(w, restore["RestoreId"])["Status"] == "Restored"
    assert w.rds.servers[mysql]["app"]["t"] == [1, 2, 3]     # the set's rows

    w, seeded, backup_id, _ = hooked_backup()
    w.rds.refusals.refuse("DescribeBackupPolicy", "Throttling", http_status=503)
    restore = create_restore(w, backup_id, safety_backup=False)
    item = next(i for i in restore["Resources"] if i["ResourceId"] == seeded["DBInstances"][0])
    assert item["RestoredTo"] == "backup-set" and "RDS did not answer" in item["RestoredToReason"]


def test_to_consistent_moment_false_restores_every_database_from_its_set():
    w, seeded, backup_id, _ = hooked_backup()
    mysql = seeded["DBInstances"][0]
    request = RestoreRequest.from_body({"BackupId": backup_id, "SafetyBackup": False, "ToConsistentMoment": False})
    restore = create_restore(w, backup_id, safety_backup=False, to_consistent_moment=request.to_consistent_moment)
    assert restore["ConsistentAt"] is None and restore["AtConsistentMoment"] == []
    assert all("RestoredTo" not in i for i in restore["Resources"])
    play_restore(w, restore["RestoreId"])
    assert w.rds.servers[mysql]["app"]["t"] == [1, 2, 3]
    again = create_restore(w, backup_id, safety_backup=False)   # another request: the default goes to T
    assert mysql in again["AtConsistentMoment"]


def test_the_api_refuses_a_to_consistent_moment_that_is_not_a_flag():
    w, _, backup_id, _ = hooked_backup()
    tenant = tenants.create_tenant(w, "acme", ["si-1"])["Token"]
    answer = handle(Request("POST", "/api/restores",
                            headers={"authorization": f"Bearer {tenant}", "content-type": "application/json"},
                            body=f'{{"BackupId": "{backup_id}", "ToConsistentMoment": "no"}}'.encode()), lambda: w)
    assert answer.status == 400 and "ToConsistentMoment" in answer.body["Message"], answer.body


def test_the_preview_says_which_databases_go_to_the_moment_and_why_not():
    w, seeded, backup_id, moment = hooked_backup()
    mysql, pg = seeded["DBInstances"]
    out = preview(w, RestoreRequest(backup_id))
    assert out["ConsistentAt"] == iso_utc_ms(moment) and mysql in out["AtConsistentMoment"]
    replaced = {r["ResourceId"]: r for r in out["Replaced"]}
    assert replaced[mysql]["RestoredTo"] == "consistent-moment" and "consistent moment" in replaced[mysql]["Action"]
    assert replaced[pg]["RestoredTo"] == "backup-set" and "log backup is off" in replaced[pg]["Action"]
    off = preview(w, RestoreRequest(backup_id, to_consistent_moment=False))
    assert off["AtConsistentMoment"] == [] and all(r.get("RestoredTo") is None for r in off["Replaced"])


def test_plan_says_per_database_whether_a_hooked_backup_s_restore_reaches_the_moment():
    w, seeded, _, _ = hooked_backup()
    mysql, pg = seeded["DBInstances"]
    out = plan_backup(w, "si-1")
    entries = {r["ResourceId"]: r for r in out["Resources"]}
    assert entries[mysql]["ToConsistentMoment"] is True and entries[mysql]["ToConsistentMomentReason"] is None
    assert entries[pg]["ToConsistentMoment"] is False
    assert any(pg in warning and "log backup is off" in warning for warning in out["Warnings"])
    w.rds.instances[mysql]["table_restore"] = False
    entries = {r["ResourceId"]: r for r in plan_backup(w, "si-1")["Resources"]}
    assert "table restore is not enabled" in entries[mysql]["ToConsistentMomentReason"]
