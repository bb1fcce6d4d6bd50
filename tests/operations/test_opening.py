"""Opening an operation when any write fails: every write of create_backup / create_restore (token, the active index,
the lock, the record, the flow's start) x (refused; applied but its answer lost; the process dies just after). After
the call (and, for a dead process, one sweeper pass with a virtual `now`), a lost answer has not failed the create
(it was read back), and nothing is half-made: every record is final
or has a running flow, the lock and the token are free or owned by such a record, and a retry with the same
ClientToken answers a record that exists."""
import time

import pytest

from nestbackup.errors import CloudError, Conflict, IdempotentParameterMismatch, ValidationError
from nestbackup.model.status import BACKUP_FINAL, RestoreStatus
from nestbackup.operations.backup import create_backup, get_backup, list_backups
from nestbackup.operations.claims import ACTIVE, OPENING_SECONDS, never_written
from nestbackup.operations.opening import TOKEN_TTL_SECONDS
from nestbackup.operations.restore import create_restore, list_restores
from nestbackup.operations.sweeper import sweep
from nestbackup.operations.timeline import TimelineRecords
from nestbackup.ports.flows import generations
from tests.support.flowplay import backed_up
from tests.support.memory.wiring import MemoryWiring

FINAL = {str(s) for s in BACKUP_FINAL} | {str(RestoreStatus.RESTORED), str(RestoreStatus.RESTORE_FAILED)}
WRITES = ["claim_token", "index_active", "acquire_lock", "create", "start_once"]
MODES = ["error", "lost", "die"]


class ProcessDied(BaseException):
    """The function instance ends here: no except clause of the product runs."""


class Faulty:
    """A port whose first call of `write` fails as `mode` says: refused (nothing applied), lost (applied, then an
    error), die (applied, then the process ends)."""

    def __init__(self, port, write: str, mode: str) -> None:
        self._port, self._write, self._mode, self.fired = port, write, mode, False

    def __getattr__(self, name):
        target = getattr(self._port, name)
        method = "put_doc" if self._write == "index_active" else self._write
        if name != method:
            return target

        def call(*args, **kwargs):
            if self.fired or (self._write == "index_active" and args[0] != ACTIVE):
                return target(*args, **kwargs)
            self.fired = True
            if self._mode == "error":
                raise CloudError("InternalError", f"{name} refused by the test", action=name, http_status=500)
            target(*args, **kwargs)
            if self._mode == "lost":
                raise CloudError("InternalError", f"{name} applied, answer lost", action=name, http_status=500)
            raise ProcessDied(name)
        return call


def faulty(w: MemoryWiring, write: str, mode: str) -> MemoryWiring:
    if write == "start_once":
        w.flows = Faulty(w.flows, write, mode)
    else:
        store = Faulty(w.store, write, mode)
        w.records, w.claims, w.documents = TimelineRecords(store), store, store
    return w


def healed(w: MemoryWiring) -> MemoryWiring:
    w.records, w.claims, w.documents = TimelineRecords(w.store), w.store, w.store
    if isinstance(w.flows, Faulty):
        w.flows = w.flows._port
    return w


def _running(w, record_id: str) -> bool:
    flow = w.settings.backup_flow if record_id.startswith("backup-") else w.settings.restore_flow
    return any(e.running for e in generations(w.flows, flow, record_id))


def assert_nothing_half_made(w, si: str, now: float) -> None:
    """At `now`: records final or running; the lock free or a running record's; a token bound to a record, or to an
    id that never wrote one and is past its opening time (the next request with that token reclaims it)."""
    records = {p[len("rec#"):]: c["doc"] for (p, s), c in w.store.rows.items()
               if p.startswith("rec#") and s == "#"}
    for record_id, header in records.items():
        assert header["Status"] in FINAL or _running(w, record_id), (record_id, header["Status"])
    holder = w.store.lock_holder(si, int(time.time() * 1000))
    assert holder is None or (holder in records and _running(w, holder)), holder
    for (p, s), c in w.store.rows.items():
        if p.startswith(f"token#{si}#"):
            assert c["id"] in records or never_written(w, c["id"], now), (s, c)
    for key, _, _ in w.store.docs(ACTIVE):
        assert key in records and records[key]["Status"] not in FINAL, key


def _attempt(create):
    try:
        return create()
    except (CloudError, Conflict, ProcessDied):
        return None


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("write", WRITES)
def test_a_backup_whose_create_meets_a_failed_write_is_finished_or_closed_and_frees_what_it_claimed(write, mode):
    w = MemoryWiring()
    w.seed("si-1", instances=1, disks_per_instance=1)
    t0 = time.time()
    answer = _attempt(lambda: create_backup(faulty(w, write, mode), "si-1", token="tok", now=t0))
    healed(w)
    assert (answer is not None) is (mode == "lost" or (write, mode) == ("claim_token", "error")), answer
    if mode == "die":
        sweep(w, now=t0 + OPENING_SECONDS + 1000)
    assert_nothing_half_made(w, "si-1", t0 + OPENING_SECONDS + 1000)
    again = create_backup(w, "si-1", token="tok", now=t0 + OPENING_SECONDS + 1000)
    assert again["Status"] in FINAL or _running(w, again["BackupId"])
    if answer:
        assert again["BackupId"] == answer["BackupId"]
    assert_nothing_half_made(w, "si-1", t0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("write", WRITES)
def test_a_restore_whose_create_meets_a_failed_write_is_finished_or_closed_and_frees_what_it_claimed(write, mode):
    w = MemoryWiring()
    _, backup_id = backed_up(w)
    t0 = time.time()
    answer = _attempt(lambda: create_restore(faulty(w, write, mode), backup_id, token="tok", safety_backup=False,
                                             now=t0))
    healed(w)
    assert (answer is not None) is (mode == "lost" or (write, mode) == ("claim_token", "error")), answer
    if mode == "die":
        sweep(w, now=t0 + OPENING_SECONDS + 1000)
    assert_nothing_half_made(w, "si-1", t0 + OPENING_SECONDS + 1000)
    again = create_restore(w, backup_id, token="tok", safety_backup=False, now=t0 + OPENING_SECONDS + 1000)
    assert again["Status"] in FINAL or _running(w, again["RestoreId"])
    if answer:
        assert again["RestoreId"] == answer["RestoreId"]
    assert_nothing_half_made(w, "si-1", t0)


def test_a_lock_held_by_an_operation_that_never_wrote_its_record_is_free_once_its_opening_time_is_over():
    w = MemoryWiring()
    w.seed("si-1", instances=1, disks_per_instance=1)
    t0 = time.time()
    assert _attempt(lambda: create_backup(faulty(w, "acquire_lock", "die"), "si-1", now=t0)) is None
    healed(w)
    with pytest.raises(Conflict):                      # it may still be writing: the lock is its
        create_backup(w, "si-1", now=t0 + 1)
    record = create_backup(w, "si-1", now=t0 + OPENING_SECONDS + 1)      # no sweeper ran: no lease ran out either
    assert record["Status"] == "Creating" and _running(w, record["BackupId"])


def test_a_retry_with_the_same_token_starts_the_flow_of_a_create_that_died_before_starting_it():
    w = MemoryWiring()
    w.seed("si-1", instances=1, disks_per_instance=1)
    t0 = time.time()
    assert _attempt(lambda: create_backup(faulty(w, "start_once", "error"), "si-1", token="tok", now=t0)) is None
    healed(w)
    failed = get_backup(w, w.store.rows[("token#si-1#backup", "tok")]["id"])
    assert failed["Status"] == "CreateFailed" and "could not start" in failed["StatusDetail"]
    w2 = MemoryWiring()
    w2.seed("si-1", instances=1, disks_per_instance=1)
    assert _attempt(lambda: create_backup(faulty(w2, "start_once", "die"), "si-1", token="tok", now=t0)) is None
    healed(w2)
    w2.flows.executions.clear()                        # the process died before the start reached CloudFlow
    again = create_backup(w2, "si-1", token="tok", now=t0 + 5)
    assert again["Status"] == "Creating" and _running(w2, again["BackupId"])


def test_the_sweeper_closes_a_record_whose_flow_never_started_with_that_cause():
    w = MemoryWiring()
    w.seed("si-1", instances=1, disks_per_instance=1)
    w.ecs.steps = 0                                    # its snapshot would never end
    t0 = time.time()
    assert _attempt(lambda: create_backup(faulty(w, "start_once", "die"), "si-1", token="tok", now=t0)) is None
    healed(w)
    w.flows.executions.clear()
    backup_id = w.store.rows[("token#si-1#backup", "tok")]["id"]
    assert sweep(w, now=t0 + OPENING_SECONDS + 1000)["Finished"] == [backup_id]
    final = get_backup(w, backup_id)
    assert final["Status"] == "CreateFailed" and "FlowNeverStarted" in str(final["Resources"])
    assert w.store.lock_holder("si-1", 0) is None and not w.store.docs(ACTIVE)


# -- the ClientToken: bound to its request's fingerprint, for a documented time
def test_the_same_token_with_another_request_is_refused_as_the_cloud_refuses_it():
    w = MemoryWiring()
    w.seed("si-1", instances=1, disks_per_instance=1)
    w.seed("si-2", instances=1, disks_per_instance=1)
    first = create_backup(w, "si-1", "nightly", token="tok")
    assert create_backup(w, "si-1", "nightly", token="tok")["BackupId"] == first["BackupId"]
    with pytest.raises(IdempotentParameterMismatch):
        create_backup(w, "si-1", "another description", token="tok")
    assert create_backup(w, "si-2", "nightly", token="tok")["BackupId"] != first["BackupId"]   # per instance


def test_a_restore_token_is_bound_to_its_backup_and_options():
    w = MemoryWiring()
    _, backup_id = backed_up(w)
    first = create_restore(w, backup_id, token="tok", safety_backup=False)
    assert create_restore(w, backup_id, token="tok", safety_backup=False)["RestoreId"] == first["RestoreId"]
    with pytest.raises(IdempotentParameterMismatch):
        create_restore(w, backup_id, token="tok", safety_backup=True)


def test_an_expired_token_is_a_new_request():
    w = MemoryWiring()
    w.seed("si-1", instances=1, disks_per_instance=1)
    t0 = time.time()
    first = create_backup(w, "si-1", "nightly", token="tok", now=t0)
    w.flows.end(w.settings.backup_flow, first["BackupId"], "Failed")
    sweep(w, now=t0 + 1000)                                             # closed: the instance is free
    later = t0 + TOKEN_TTL_SECONDS + 1
    again = create_backup(w, "si-1", "another description", token="tok", now=later)
    assert again["BackupId"] != first["BackupId"] and again["Description"] == "another description"


def test_a_listing_row_whose_record_was_never_committed_is_skipped():
    w = MemoryWiring()
    _, backup_id = backed_up(w)
    restore = create_restore(w, backup_id, safety_backup=False)
    w.store.rows[("si#si-1#restore", "restore-01a249a1c81a2be6ddf3")] = {}     # items and listing, no header
    w.store.rows[("si#si-1#backup", "backup-01a249a1c81a2be6ddf3")] = {}
    assert [r["RestoreId"] for r in list_restores(w, "si-1")["Restores"]] == [restore["RestoreId"]]
    assert [b["BackupId"] for b in list_backups(w, "si-1")["Backups"]] == [backup_id]


@pytest.mark.parametrize("token", ["", "x" * 65, "with space", "tab\t", "é", 7])
def test_a_malformed_client_token_is_refused_before_anything_is_claimed(token):
    w = MemoryWiring()
    w.seed("si-1", instances=1, disks_per_instance=1)
    with pytest.raises(ValidationError, match="ClientToken"):
        create_backup(w, "si-1", token=token)
    assert not [k for k in w.store.rows if k[0].startswith(("token#", "lock#", ACTIVE))]
    assert create_backup(w, "si-1", token="x" * 64)["Status"] == "Creating"       # 64 printable ASCII: fine


def test_a_token_whose_first_request_died_before_its_record_answers_409_then_is_reclaimed(monkeypatch):
    from nestbackup.operations import opening
    monkeypatch.setattr(opening, "WAIT_FOR_RECORD_SECONDS", 0)
    w = MemoryWiring()
    w.seed("si-1", instances=1, disks_per_instance=1)
    t0 = time.time()
    assert _attempt(lambda: create_backup(faulty(w, "claim_token", "die"), "si-1", token="tok", now=t0)) is None
    healed(w)
    dead = w.store.rows[("token#si-1#backup", "tok")]["id"]
    with pytest.raises(Conflict, match="still creating"):          # it may still be writing it
        create_backup(w, "si-1", token="tok", now=t0 + 1)
    record = create_backup(w, "si-1", token="tok", now=t0 + OPENING_SECONDS + 1)
    assert record["BackupId"] != dead and _running(w, record["BackupId"])
    assert create_backup(w, "si-1", token="tok", now=t0 + OPENING_SECONDS + 2)["BackupId"] == record["BackupId"]


def test_a_token_whose_request_died_just_after_claiming_it_is_given_back_by_the_sweeper():
    w = MemoryWiring()
    w.seed("si-1", instances=1, disks_per_instance=1)
    t0 = time.time()
    assert _attempt(lambda: create_backup(faulty(w, "claim_token", "die"), "si-1", token="tok", now=t0)) is None
    healed(w)
    assert ("token#si-1#backup", "tok") in w.store.rows
    sweep(w, now=t0 + OPENING_SECONDS + 1)
    assert not [k for k in w.store.rows if k[0].startswith(("token#", "lock#"))] and not w.store.docs(ACTIVE)


def test_a_safety_backup_whose_flow_cannot_start_fails_its_restore_with_the_cause_and_frees_the_instance():
    from nestbackup.operations.restore import advance, get_restore
    w = MemoryWiring()
    _, backup_id = backed_up(w)
    restore_id = create_restore(w, backup_id)["RestoreId"]              # with a safety backup, inside its lock
    faulty(w, "start_once", "error")
    with pytest.raises(CloudError):
        advance(w, restore_id)                                          # the safety backup's flow does not start
    healed(w)
    for _ in range(5):                                                  # the flow's retry of the step
        if advance(w, restore_id)["State"] == "Done":
            break
    final = get_restore(w, restore_id)
    assert final["Status"] == "RestoreFailed" and "could not start" in final["StatusDetail"], final["StatusDetail"]
    assert get_backup(w, final["SafetyBackupId"])["Status"] == "CreateFailed"
    assert w.store.lock_holder("si-1", 0) is None and not w.store.docs(ACTIVE)
