"""Backup locks on the in-memory ports, through the API: who may lock, what a lock refuses (delete, retention,
cancel, the admin), that a Compliance lock only extends and locks the snapshots in ECS, that a Governance lock is
lifted only by the admin with a reason (kept on the record and in the audit trail), and a schedule's lock."""
from __future__ import annotations

import json
import time

import pytest

from nestbackup.adapters.ecs import SNAPSHOT_LOCKED_CODE
from nestbackup.api.app import handle
from nestbackup.api.http import Request
from nestbackup.decisions.retention import Retention
from nestbackup.errors import CloudError, Conflict, ValidationError
from nestbackup.model.records import iso_utc
from nestbackup.operations import schedules
from nestbackup.operations.artifacts import delete_backup
from nestbackup.operations.backup import create_backup, get_backup
from nestbackup.operations.cancel import cancel_backup
from nestbackup.operations.tenants import create_tenant
from tests.support.flowplay import play_backup
from tests.support.memory.wiring import MemoryWiring

DAY = 86400
ADMIN = "admin-token"


@pytest.fixture
def w():
    w = MemoryWiring(admin_token_secret="nestbackup-admin-token")
    w.secrets.values["nestbackup-admin-token"] = ADMIN
    w.seed("si-1", instances=1, disks_per_instance=2, databases={"PostgreSQL": {"app": {"t": [1, 2]}}})
    return w


def call(w, method: str, path: str, body: dict | None = None, token: str = ADMIN,
         query: dict | None = None) -> tuple[int, dict]:
    req = Request(method, "/api" + path, query=query or {}, headers={"authorization": f"Bearer {token}",
                                                  "content-type": "application/json"},
                  body=json.dumps(body).encode() if body is not None else b"")
    out = handle(req, lambda: w)
    return out.status, out.body


def created(w, when: float | None = None) -> str:
    backup_id = create_backup(w, "si-1", now=when)["BackupId"]
    assert play_backup(w, backup_id)["Status"] == "Created"
    return backup_id


def until(days: float) -> str:
    return iso_utc(time.time() + days * DAY)


def test_a_compliance_lock_refuses_delete_retention_the_admin_and_shortening_and_locks_the_snapshots(w):
    old, new = created(w, time.time() - 2 * DAY), created(w)
    status, record = call(w, "PUT", f"/backups/{old}/lock", {"Mode": "Compliance", "Until": until(3)})
    assert status == 200, record
    lock = record["Lock"]
    assert lock["Mode"] == "Compliance" and lock["CloudLock"] == "Locked" and lock["By"] == "admin"
    snapshots = [i["ArtifactId"] for i in record["Resources"] if i["ResourceType"] == "disk"]
    assert sorted(lock["CloudLocked"]) == sorted(snapshots) and "RDS" in lock["NotLockedInCloud"]
    assert all(w.ecs.locks[s] >= time.time() + 3 * DAY - 5 for s in snapshots)      # whole days reaching Until

    status, refused = call(w, "DELETE", f"/backups/{old}")
    assert status == 409 and "locked (Compliance) until" in refused["Message"] and old in refused["Message"]
    assert schedules.apply_retention(w, "si-1", Retention(keep_last=1), time.time()) == []
    preview = schedules.preview_retention(w, "si-1", keep_last=1)
    assert preview["WouldDelete"] == [] and [k["BackupId"] for k in preview["KeptByLock"]] == [old]
    with pytest.raises(CloudError) as err:                 # outside nestbackup, ECS refuses too
        w.ecs.delete_snapshot(snapshots[0])
    assert err.value.code == SNAPSHOT_LOCKED_CODE

    status, body = call(w, "DELETE", f"/backups/{old}/lock", {"Reason": "cleanup"})
    assert status == 409 and "nobody can lift" in body["Message"]
    for change in ({"Mode": "Compliance", "Until": until(2)}, {"Mode": "Governance", "Until": until(5)}):
        status, body = call(w, "PUT", f"/backups/{old}/lock", change)
        assert status == 409, body
    status, body = call(w, "PUT", f"/backups/{old}/lock", {"Mode": "Compliance", "Until": until(5)})
    assert status == 200 and body["Lock"]["Until"] > lock["Until"]
    assert get_backup(w, old)["Status"] == "Created" and get_backup(w, new)["Status"] == "Created"

    # Its date passed (and ECS's lock of whole days with it): the delete goes through.
    later = time.time() + 6 * DAY
    w.ecs.locks = {sid: end for sid, end in w.ecs.locks.items() if end > later}    # ECS's own clock, moved on
    assert delete_backup(w, old, now=later)["Status"] == "Deleted"


def test_a_lock_past_the_longest_lock_or_in_the_past_is_refused_and_a_deleted_backup_is_not_locked(w):
    backup_id = created(w)
    assert call(w, "PUT", f"/backups/{backup_id}/lock", {"Mode": "Compliance", "Until": until(40000)})[0] == 400
    assert call(w, "PUT", f"/backups/{backup_id}/lock", {"Mode": "Compliance", "Until": until(-1)})[0] == 400
    assert call(w, "PUT", f"/backups/{backup_id}/lock", {"Mode": "Frozen", "Until": until(1)})[0] == 400
    assert call(w, "PUT", f"/backups/{backup_id}/lock", {"Mode": "Compliance", "Until": "tomorrow"})[0] == 400
    assert call(w, "DELETE", f"/backups/{backup_id}")[0] == 200
    status, body = call(w, "PUT", f"/backups/{backup_id}/lock", {"Mode": "Governance", "Until": until(1)})
    assert status == 409 and "Deleted" in body["Message"]


def test_a_governance_lock_is_lifted_only_by_the_admin_with_a_reason_kept_on_the_record_and_in_the_audit(w):
    backup_id = created(w)
    tenant = create_tenant(w, "team-a", ["si-1"])["Token"]
    status, record = call(w, "PUT", f"/backups/{backup_id}/lock", {"Mode": "Governance", "Until": until(2)}, tenant)
    assert status == 200 and record["Lock"]["By"] == "team-a" and "Governance" in record["Lock"]["NotLockedInCloud"]
    assert not w.ecs.locks                                  # ECS locks in compliance mode only
    assert call(w, "PUT", f"/backups/{backup_id}/lock", {"Mode": "Governance", "Until": until(1)}, tenant)[0] == 409
    status, body = call(w, "DELETE", f"/backups/{backup_id}/lock", {"Reason": "mine"}, tenant)
    assert status == 409 and "only the admin" in body["Message"]
    assert call(w, "DELETE", f"/backups/{backup_id}", token=tenant)[0] == 409
    assert call(w, "DELETE", f"/backups/{backup_id}/lock", {})[0] == 400          # a reason is required
    status, record = call(w, "DELETE", f"/backups/{backup_id}/lock", {"Reason": "ticket OPS-12: disk replaced"})
    assert status == 200 and record["Lock"]["Lifted"]["Reason"] == "ticket OPS-12: disk replaced"
    entries = call(w, "GET", "/audit", query={"action": "UnlockBackup"})[1]["Entries"]
    [lifted] = [e for e in entries if e["Status"] == 200]
    assert lifted["Reason"] == "ticket OPS-12: disk replaced" and lifted["RecordId"] == backup_id
    assert call(w, "DELETE", f"/backups/{backup_id}", token=tenant)[1]["Status"] == "Deleted"


def test_a_schedule_locks_every_backup_it_takes_from_its_creation_and_a_cancel_is_refused(w):
    w.ecs.steps = 0                                          # snapshots stay progressing until finished
    schedules.set_schedule(w, "si-1", "0 3 * * *", now=time.time() - DAY, lock_mode="Compliance", lock_days=7)
    assert schedules.get_schedule(w, "si-1")["LockMode"] == "Compliance"
    [fired] = [r["BackupId"] for r in schedules.tick(w)["Results"] if r.get("BackupId")]
    record = get_backup(w, fired)
    assert record["Status"] == "Creating" and record["Lock"]["Mode"] == "Compliance"
    with pytest.raises(Conflict, match="locked"):
        cancel_backup(w, fired)
    w.ecs.steps = 1
    w.ecs.finish(*w.ecs.snapshots)
    done = play_backup(w, fired)
    assert done["Status"] == "Created" and done["Lock"]["CloudLock"] == "Locked"
    assert set(done["Lock"]["CloudLocked"]) <= set(w.ecs.locks) and done["Lock"]["CloudLocked"]
    with pytest.raises(ValidationError):
        schedules.set_schedule(w, "si-1", "0 3 * * *", lock_mode="Compliance")     # days missing


def test_a_snapshot_ecs_would_not_lock_is_named_on_the_record_and_locking_again_retries_it(w):
    backup_id = created(w)
    w.ecs.refusals.refuse("LockSnapshot", "Throttling.User")
    status, record = call(w, "PUT", f"/backups/{backup_id}/lock", {"Mode": "Compliance", "Until": until(1)})
    assert status == 200 and record["Lock"]["CloudLock"] == "Failed" and len(record["Lock"]["CloudLockFailed"]) == 1
    status, record = call(w, "PUT", f"/backups/{backup_id}/lock", {"Mode": "Compliance", "Until": until(1)})
    assert record["Lock"]["CloudLock"] == "Locked" and "CloudLockFailed" not in record["Lock"]


def test_the_sweeper_locks_in_ecs_what_a_compliance_lock_left_pending_or_refused(w):
    from nestbackup.operations.locks import LOCKING
    from nestbackup.operations.sweeper import sweep
    backup_id = created(w)
    w.ecs.refusals.refuse("LockSnapshot", "Throttling.User")
    record = call(w, "PUT", f"/backups/{backup_id}/lock", {"Mode": "Compliance", "Until": until(1)})[1]
    assert record["Lock"]["CloudLock"] == "Failed" and w.documents.get_doc(LOCKING, backup_id)
    assert sweep(w)["CloudLocksFinished"] == []                          # young: its request may still be on it
    assert sweep(w, now=time.time() + 400)["CloudLocksFinished"] == [backup_id]
    assert get_backup(w, backup_id)["Lock"]["CloudLock"] == "Locked"
    assert w.documents.get_doc(LOCKING, backup_id) is None


def test_a_compliance_lock_of_databases_only_says_the_cloud_does_not_lock_them_and_calls_no_lock():
    w = MemoryWiring(admin_token_secret="nestbackup-admin-token")
    w.secrets.values["nestbackup-admin-token"] = ADMIN
    w.seed("si-2", instances=0, databases={"PostgreSQL": {"app": {"t": [1]}}})
    backup_id = create_backup(w, "si-2")["BackupId"]
    assert play_backup(w, backup_id)["Status"] == "Created"
    record = call(w, "PUT", f"/backups/{backup_id}/lock", {"Mode": "Compliance", "Until": until(1)})[1]
    assert "CloudLock" not in record["Lock"] and "RDS cannot lock" in record["Lock"]["NotLockedInCloud"]
    assert w.ecs.refusals.calls["LockSnapshot"] == 0
    assert call(w, "DELETE", f"/backups/{backup_id}")[0] == 409
