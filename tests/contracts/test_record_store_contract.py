"""The contract of the records, claims and documents ports, which one store implements: MemoryStore and the
Tablestore adapter on the local cloud."""
import threading

import pytest

from nestbackup.adapters.usage import take_calls
from nestbackup.errors import Conflict
from nestbackup.operations.timeline import TimelineRecords
from nestbackup.ports.claims import LockTaken, TokenClaim
from nestbackup.ports.records import HEADER, RecordExists, StaleWrite
from tests.support.memory.records import MemoryStore


@pytest.fixture
def store(records):
    """The port's side under test (in memory, or Tablestore on a table of its own): it plays the three ports."""
    return records.port


@pytest.fixture
def writes(store):
    """Row writes of this thread since the last call: UpdateRow calls on Tablestore, the same writes in memory."""
    seen = [0]

    def count() -> int:
        if isinstance(store, MemoryStore):
            done, seen[0] = store.versioned_writes - seen[0], store.versioned_writes
            return done
        return take_calls().get("ots:UpdateRow", 0)

    count()
    return count


def test_record_round_trip_with_items_in_one_read(store):
    store.create("backup", "backup-1", "si-1", {"Status": "Creating"},
                 {f"d-{n}": {"status": "Pending", "n": n} for n in range(250)})   # > one batch of 200
    stored = store.read("backup-1")
    assert stored.header == {"Status": "Creating"}
    assert len(stored.items) == 250 and stored.items["d-7"] == {"status": "Pending", "n": 7}
    assert stored.versions[HEADER] == 1 and stored.versions["d-7"] == 1
    assert store.read("backup-missing") is None


def test_a_record_id_is_written_once(store):
    store.create("backup", "backup-1", "si-1", {"Status": "Creating"}, {})
    with pytest.raises(RecordExists):
        store.create("backup", "backup-1", "si-1", {"Status": "Creating"}, {})


def test_parallel_savers_of_different_items_lose_nothing_and_a_stale_saver_is_refused(store):
    store.create("backup", "backup-1", "si-1", {"Status": "Creating"}, {f"d-{n}": {"v": 0} for n in range(20)})

    def bump(rid):
        stored = store.read("backup-1")          # each writer saves the whole record from its own fresh read
        store.save(stored, stored.header, {**stored.items, rid: {"v": 1}})

    threads = [threading.Thread(target=bump, args=(f"d-{n}",)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(doc == {"v": 1} for doc in store.read("backup-1").items.values())

    first, second = store.read("backup-1"), store.read("backup-1")
    store.save(first, first.header, {**first.items, "d-0": {"v": 2}})
    with pytest.raises(StaleWrite):
        store.save(second, second.header, {**second.items, "d-0": {"v": 3}})
    assert store.read("backup-1").items["d-0"] == {"v": 2}
    store.save(first, {"Status": "Created"}, first.items)
    with pytest.raises(StaleWrite):
        store.save(second, {"Status": "CreateFailed"}, second.items)
    assert store.read("backup-1").header == {"Status": "Created"}


def test_a_save_writes_only_the_rows_that_changed_and_follows_them(store, writes):
    store.create("backup", "backup-s", "si-1", {"Status": "Creating"}, {f"d-{n}": {"v": 0} for n in range(5)})
    stored = store.read("backup-s")
    assert writes() == 0
    store.save(stored, dict(stored.header), {rid: dict(doc) for rid, doc in stored.items.items()})
    assert writes() == 0                                        # unchanged: nothing written

    store.save(stored, stored.header, {**stored.items, "d-1": {"v": 1}, "d-3": {"v": 3}})
    assert writes() == 2
    assert stored.items["d-1"] == {"v": 1} and stored.versions["d-1"] == 2 and stored.versions["d-0"] == 1
    again = store.read("backup-s")
    assert again.items == stored.items and again.versions == stored.versions

    store.save(stored, {"Status": "Created"}, {"d-1": {"v": 1}})   # items left out are left as they are
    assert writes() == 1 and stored.versions[HEADER] == 2
    store.save(stored, {"Status": "Created"}, stored.items)       # what it wrote is what it was read as now
    assert writes() == 0
    with pytest.raises(ValueError):
        store.save(stored, stored.header, {"d-99": {"v": 0}})


def test_rows_saved_before_a_stale_one_stay_saved_and_the_record_says_so(store):
    store.create("backup", "backup-p", "si-1", {"Status": "Creating"}, {"d-0": {"v": 0}, "d-1": {"v": 0}})
    mine, theirs = store.read("backup-p"), store.read("backup-p")
    store.save(theirs, theirs.header, {**theirs.items, "d-1": {"v": "theirs"}})
    with pytest.raises(StaleWrite):
        store.save(mine, {"Status": "Created"}, {"d-0": {"v": "mine"}, "d-1": {"v": "mine"}})
    assert mine.items["d-0"] == {"v": "mine"} and mine.versions["d-0"] == 2 and mine.versions["d-1"] == 1
    now = store.read("backup-p")
    assert now.items == {"d-0": {"v": "mine"}, "d-1": {"v": "theirs"}}
    assert now.header == {"Status": "Creating"}                  # the header comes after the items: not written


def test_the_timeline_over_the_store_saves_like_it_and_keeps_each_resources_times(store, writes):
    records = TimelineRecords(store)
    records.create("backup", "backup-t", "si-1", {"Status": "Creating"},
                   {rid: {"resource_id": rid, "status": "Pending"} for rid in ("d-0", "d-1")})
    stored = records.read("backup-t")
    done = {"resource_id": "d-0", "status": "Succeeded", "start_time": None, "end_time": None}
    records.save(stored, stored.header, {**stored.items, "d-0": dict(done)})
    assert writes() == 1
    assert stored.items["d-0"]["end_time"] and stored.items["d-0"]["start_time"]
    records.save(stored, stored.header, {**stored.items, "d-0": dict(done)})   # a copy from before the stamps
    assert writes() == 0
    assert [e["Event"] for e in records.events("backup-t")] == ["Created", "Planned", "Planned", "Succeeded"]


def test_listing_is_newest_first_with_paging(store):
    ids = [f"backup-{n:012x}" for n in range(7)]
    for record_id in ids:
        store.create("backup", record_id, "si-1", {}, {})
    store.create("backup", "backup-other", "si-2", {}, {})
    page1, token = store.list_ids("si-1", "backup", limit=3)
    page2, token2 = store.list_ids("si-1", "backup", limit=3, after=token)
    page3, token3 = store.list_ids("si-1", "backup", limit=3, after=token2)
    assert page1 + page2 + page3 == list(reversed(ids))
    assert token3 is None


def test_the_listing_of_every_instance_holds_each_instance_s_records_newest_first(store):
    store.create("backup", "backup-000000000001", "si-1", {}, {})
    store.create("backup", "backup-000000000003", "si-2", {}, {})
    store.create("backup", "backup-000000000002", "si-1", {}, {})
    store.create("restore", "restore-000000000004", "si-1", {}, {})
    page, token = store.list_ids(None, "backup", limit=2)
    assert page == ["backup-000000000003", "backup-000000000002"]
    assert store.list_ids(None, "backup", limit=2, after=token) == (["backup-000000000001"], None)
    assert store.list_ids(None, "restore") == (["restore-000000000004"], None)


def test_lock_conflict_names_the_holder_and_an_expired_lease_is_taken_over(store):
    store.acquire_lock("si-1", "backup-a", now_ms=1_000, lease_ms=500)
    store.acquire_lock("si-1", "backup-a", now_ms=1_100, lease_ms=500)       # renewal by the holder
    with pytest.raises(LockTaken, match="backup-a") as taken:
        store.acquire_lock("si-1", "backup-b", now_ms=1_200, lease_ms=500)
    assert isinstance(taken.value, Conflict) and taken.value.holder == "backup-a"
    store.acquire_lock("si-1", "backup-b", now_ms=2_000, lease_ms=500)       # a's lease ran out at 1,600
    assert store.release_lock("si-1", "backup-a") is False
    assert store.release_lock("si-1", "backup-b") is True
    store.acquire_lock("si-1", "backup-c", now_ms=2_100, lease_ms=500)


def test_only_one_of_many_racing_lockers_wins(store):
    winners = []

    def race(n):
        try:
            store.acquire_lock("si-race", f"op-{n}", now_ms=10_000, lease_ms=60_000)
            winners.append(n)
        except Conflict:
            pass

    threads = [threading.Thread(target=race, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_client_token_binds_one_record_id_and_its_fingerprint_until_it_expires(store):
    assert store.claim_token("si-1", "backup", "tok-1", "backup-1", "fp-1", now_ms=1_000, ttl_ms=60_000) is None
    assert store.claim_token("si-1", "backup", "tok-1", "backup-2", "fp-2", now_ms=2_000, ttl_ms=60_000) == \
        TokenClaim("backup-1", "fp-1")
    assert store.claim_token("si-2", "backup", "tok-1", "backup-9", "fp-9", now_ms=2_000, ttl_ms=60_000) is None
    assert store.forget_token("si-1", "backup", "tok-1", "backup-2") is False       # only its holder gives it back
    assert store.forget_token("si-1", "backup", "tok-1", "backup-1") is True
    assert store.claim_token("si-1", "backup", "tok-1", "backup-3", "fp-3", now_ms=3_000, ttl_ms=60_000) is None
    assert store.claim_token("si-1", "backup", "tok-1", "backup-4", "fp-4", now_ms=63_000, ttl_ms=60_000) == \
        TokenClaim("backup-3", "fp-3")                                              # its last valid millisecond
    assert store.claim_token("si-1", "backup", "tok-1", "backup-5", "fp-5", now_ms=63_001, ttl_ms=60_000) is None
    assert store.claim_token("si-1", "backup", "tok-1", "backup-6", "fp-6", now_ms=63_002, ttl_ms=60_000) == \
        TokenClaim("backup-5", "fp-5")                                              # an expired token is new


def test_concurrent_claims_of_one_token_bind_it_once(store):
    won = []

    def race(n):
        if store.claim_token("si-race", "restore", "tok", f"restore-{n}", "fp", now_ms=1_000, ttl_ms=60_000) is None:
            won.append(n)

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1


def test_documents_are_created_once_and_updated_only_from_the_version_read(store):
    assert store.create_doc("schedules", "si-1", {"Cron": "0 3 * * *"}) is True
    assert store.create_doc("schedules", "si-1", {"Cron": "0 4 * * *"}) is False
    doc, version = store.get_doc("schedules", "si-1")
    assert doc == {"Cron": "0 3 * * *"}
    assert store.update_doc("schedules", "si-1", {"Cron": "0 5 * * *"}, version) == version + 1
    with pytest.raises(StaleWrite):
        store.update_doc("schedules", "si-1", {"Cron": "0 6 * * *"}, version)
    store.put_doc("schedules", "si-0", {"Cron": "* * * * *"})
    assert [key for key, _, _ in store.docs("schedules")] == ["si-0", "si-1"]
    store.delete_doc("schedules", "si-1")
    assert store.get_doc("schedules", "si-1") is None and store.get_doc("nothing", "x") is None


def test_a_records_events_come_back_in_order_and_apart_from_the_record(store):
    store.create("backup", "backup-e", "si-1", {"Status": "Creating"}, {"d-1": {"v": 0}})
    store.append_events("backup-e", [{"Event": "Created"}, {"Event": "Planned"}])
    store.append_events("backup-e", [{"Event": "Started"}])
    assert [e["Event"] for e in store.events("backup-e", 10)] == ["Created", "Planned", "Started"]
    assert [e["Event"] for e in store.events("backup-e", 2)] == ["Created", "Planned"]
    assert set(store.read("backup-e").items) == {"d-1"}
    assert store.read("backup-missing") is None


def test_counters_add_up_across_writers_at_once_and_each_write_counts_itself_as_the_call_it_is(store):
    store.add_counts("costs", "r1", {"Invocations": 1, "ecs:CreateSnapshot": 2})

    def add():
        for _ in range(5):
            store.add_counts("costs", "r1", {"Invocations": 1, "ecs:CreateSnapshot": 1})

    writers = [threading.Thread(target=add) for _ in range(8)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    got = store.counts("costs", "r1")
    assert got["Invocations"] == 41 and got["ecs:CreateSnapshot"] == 42
    # Where a write is a cloud call (Tablestore's UpdateRow with INCREMENT), it is counted with the rest.
    assert {k: v for k, v in got.items() if k.startswith("ots:")} in ({}, {"ots:UpdateRow": 41})
    assert store.counts("costs", "missing") == {}
    with pytest.raises(ValueError):
        store.add_counts("costs", "r1", {"not a name": 1})
