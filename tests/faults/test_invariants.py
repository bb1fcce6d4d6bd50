"""The invariant checker of the fault matrix sees each kind of violation: one of each is planted in a state where
all hold, and the checker names it."""
from __future__ import annotations

import pytest

from nestbackup.model.ids import OWNER_TAG
from nestbackup.operations.backup_hooks import FROZEN
from nestbackup.operations.opening import TOKEN_TTL_SECONDS
from nestbackup.ports.records import HEADER
from tests.support.faults import (
    FREEZE,
    THAW,
    FaultPlayer,
    FaultyWiring,
    Injector,
    VirtualClock,
    clock_installed,
    created_backup,
    seeded,
    violations,
)


@pytest.fixture
def state():
    """si-1 seeded and backed up (a snapshot group, a snapshot, an RDS set); every invariant holds."""
    clock = VirtualClock()
    with clock_installed(clock):
        w = FaultyWiring(Injector(), clock)
        seeded(w)
        backup_id = created_backup(w, FaultPlayer(w))
        assert violations(w) == []
        yield w, backup_id


def _items(w, record_id):
    return {s[5:]: cols["doc"] for (p, s), cols in w.raw.store.rows.items()
            if p == f"rec#{record_id}" and s.startswith("item#")}


def _header(w, record_id):
    return w.raw.store.rows[(f"rec#{record_id}", HEADER)]["doc"]


def test_a_record_that_is_not_final(state):
    w, backup_id = state
    _header(w, backup_id)["Status"] = "Creating"
    assert violations(w) == [f"record {backup_id} is Creating, not final"]


def test_a_created_record_whose_artifact_is_gone(state):
    w, backup_id = state
    snapshot = next(i["artifact_id"] for i in _items(w, backup_id).values() if i["method"] == "Snapshot")
    del w.raw.ecs.snapshots[snapshot]
    assert any(v.startswith(f"backup {backup_id} is Created but the artifact of") for v in violations(w))


def test_a_deleted_record_whose_artifact_still_exists(state):
    w, backup_id = state
    _header(w, backup_id)["Status"] = "Deleted"
    found = violations(w)
    assert any(v.startswith(f"backup {backup_id} is Deleted but") for v in found), found


def test_an_orphan_snapshot(state):
    w, backup_id = state
    disk = next(iter(w.raw.ecs.disks))
    orphan = w.raw.ecs._new_snapshot(disk, {OWNER_TAG: "backup-gone"}, None)
    assert f"snapshot {orphan} of {disk} (tagged backup-gone) is owned by no record" in violations(w)


def test_an_orphan_rds_backup_set(state):
    w, _ = state
    rid = next(iter(w.raw.rds.instances))
    job = w.raw.rds.create_backup(rid)
    w.raw.rds.finish(job)
    found = violations(w)
    assert any(v.startswith("RDS backup set") and "owned by no record" in v for v in found), found
    assert any("RDS backup jobs of" in v for v in found), found          # and a job too many for its records


def test_a_duplicate_artifact(state):
    w, backup_id = state
    item = next(i for i in _items(w, backup_id).values() if i["method"] == "Snapshot")
    w.raw.ecs._new_snapshot(item["resource_id"], {OWNER_TAG: backup_id}, None)     # a second snapshot, same backup
    found = violations(w)
    assert f"backup {backup_id} made 2 artifacts of {item['resource_id']}" in found, found


def test_a_lock_held_by_a_record_that_does_not_exist(state):
    w, _ = state
    w.raw.store.acquire_lock("si-1", "backup-dead", int(w.clock.peek() * 1000), 1800 * 1000)
    found = violations(w)
    assert len(found) == 1 and found[0].startswith("the lock of si-1 is held by backup-dead (no record)"), found


def test_a_lock_held_by_a_final_record_or_expired_is_free(state):
    w, backup_id = state
    w.raw.store.acquire_lock("si-1", backup_id, int(w.clock.peek() * 1000), 1800 * 1000)
    assert violations(w) == []
    w.raw.store.release_lock("si-1", backup_id)
    w.raw.store.acquire_lock("si-1", "backup-dead", int(w.clock.peek() * 1000) - 2000, 1000)
    assert violations(w) == []


def test_a_token_naming_no_record(state):
    w, _ = state
    w.raw.store.claim_token("si-1", "backup", "tok", "backup-never-written", "fp", int(w.clock.peek() * 1000),
                            TOKEN_TTL_SECONDS * 1000)
    assert violations(w) == ["client token tok of si-1#backup names backup-never-written, which does not exist"]


def test_an_instance_left_stopped(state):
    w, _ = state
    iid = next(iter(w.raw.ecs.instances))
    w.raw.ecs.instances[iid]["status"] = "Stopped"
    assert violations(w) == [f"instance {iid} left Stopped"]


def test_an_instance_left_frozen_and_a_thaw_still_pending_are_seen(state):
    w, _ = state
    instance = next(iter(w.raw.ecs.instances))
    w.raw.ecs.ran.append((instance, FREEZE))
    w.raw.store.put_doc(FROZEN, "backup-x", {"Since": 0})
    assert violations(w) == [f"instance {instance} left frozen (its pre hook ran, no post hook after it)",
                             "backup backup-x still waits for its thaw"]
    w.raw.ecs.ran.append((instance, THAW))
    w.raw.store.delete_doc(FROZEN, "backup-x")
    assert violations(w) == []
