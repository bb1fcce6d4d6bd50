"""Point-in-time restores on the in-memory ports: the databases come back as they were at the second, nothing else
is touched, and what cannot be restored to that second is refused before anything is recorded."""
import time
from datetime import datetime, timezone

import pytest

from nestbackup.errors import Conflict, ValidationError
from nestbackup.operations.restore import get_restore, list_restores
from nestbackup.operations.restore_point_in_time import create_point_in_time_restore, restore_window
from tests.support.flowplay import backed_up, play_restore
from tests.support.memory.wiring import MemoryWiring

MYSQL = {"MySQL": {"app": {"t": [1, 2, 3]}, "other": {"u": [9]}}}


@pytest.fixture
def w():
    return MemoryWiring()


def second(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def written_around_a_second(w, rds: str) -> str:
    """Rows logged before and after the second answered (the backup's own moment taken back before them)."""
    start = time.time() - 10
    w.rds.history[rds] = [(start - 10, contents) for _, contents in w.rds.history[rds]]
    w.rds.servers[rds]["app"]["t"].append(4)
    w.rds.log(rds, start + 1)
    w.rds.servers[rds]["app"]["t"].append(5)
    w.rds.servers[rds]["app"]["t"].remove(1)
    w.rds.log(rds, start + 3)
    return second(start + 2)


def test_databases_come_back_as_they_were_at_the_second_and_no_instance_stops(w):
    seeded, _ = backed_up(w, databases=MYSQL)
    rds = seeded["DBInstances"][0]
    chosen = written_around_a_second(w, rds)
    restore = create_point_in_time_restore(w, "si-1", chosen, {rds: ["app"]}, safety_backup=False)
    assert restore["RestoreTime"] == chosen and restore["BackupId"] == ""
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "Restored", final
    assert w.rds.servers[rds]["app"]["t"] == [1, 2, 3, 4]          # the write before the second, not those after
    assert w.rds.servers[rds]["other"]["u"] == [9]                   # not chosen: untouched
    aside = final["Resources"][0]["Databases"][0]["AsideName"]
    assert w.rds.servers[rds][aside]["t"] == [2, 3, 4, 5]
    assert {w.ecs.instances[i]["status"] for i in seeded["InstanceIds"]} == {"Running"}
    assert final["DowntimeSeconds"] is None and final["Verified"] is True
    assert "row counts not compared" in final["Resources"][0]["Verification"]


def test_the_window_says_each_instance_s_range_or_why_none(w):
    seeded, _ = backed_up(w, databases={**MYSQL, "PostgreSQL": {"pg": {"t": [1]}}})
    assert not restore_window(w, "si-1")["DBInstances"][0]["Restorable"]     # not a whole second since the set
    written_around_a_second(w, seeded["DBInstances"][0])
    by_engine = {d["Engine"]: d for d in restore_window(w, "si-1")["DBInstances"]}
    assert by_engine["MySQL"]["Restorable"] and by_engine["MySQL"]["EarliestRestoreTime"] <= \
        by_engine["MySQL"]["LatestRestoreTime"]
    assert not by_engine["PostgreSQL"]["Restorable"] and "log backup is off" in by_engine["PostgreSQL"]["Reason"]


def test_what_cannot_reach_the_second_is_refused_before_anything_is_recorded(w):
    seeded, _ = backed_up(w, databases={**MYSQL, "PostgreSQL": {"pg": {"t": [1]}}})
    mysql, pg = seeded["DBInstances"]
    written_around_a_second(w, mysql)
    now = time.time()
    with pytest.raises(Conflict, match=f"{pg}: log backup is off"):
        create_point_in_time_restore(w, "si-1", second(now - 1))
    with pytest.raises(Conflict, match="outside the restorable range"):
        create_point_in_time_restore(w, "si-1", second(now - 86400), {mysql: ["app"]})
    w.rds.instances[mysql]["table_restore"] = False
    with pytest.raises(Conflict, match="database and table restore is not enabled"):
        create_point_in_time_restore(w, "si-1", second(now - 1), {mysql: ["app"]})
    with pytest.raises(ValidationError, match="in the future"):
        create_point_in_time_restore(w, "si-1", second(now + 3600), {mysql: ["app"]})
    with pytest.raises(ValidationError, match="UTC second"):
        create_point_in_time_restore(w, "si-1", "yesterday", {mysql: ["app"]})
    with pytest.raises(ValidationError, match="not a primary RDS instance"):
        create_point_in_time_restore(w, "si-1", second(now - 1), {"rm-nope": ["app"]})
    assert list_restores(w, "si-1")["Restores"] == []


def test_a_database_dropped_after_the_second_comes_back_under_its_name(w):
    seeded, _ = backed_up(w, databases=MYSQL)
    rds = seeded["DBInstances"][0]
    chosen = written_around_a_second(w, rds)
    del w.rds.servers[rds]["other"]                                # dropped after the second (not logged again)
    restore = create_point_in_time_restore(w, "si-1", chosen, {rds: ["other"]}, safety_backup=False)
    play_restore(w, restore["RestoreId"])
    final = get_restore(w, restore["RestoreId"])
    assert final["Status"] == "Restored", final
    assert w.rds.servers[rds]["other"]["u"] == [9]


def test_a_retry_with_its_client_token_answers_the_same_restore_even_once_a_database_was_added(w):
    seeded, _ = backed_up(w, databases=MYSQL)
    rds = seeded["DBInstances"][0]
    chosen = written_around_a_second(w, rds)
    first = create_point_in_time_restore(w, "si-1", chosen, token="tok-1", safety_backup=False)
    w.rds.servers[rds]["new"] = {"n": [1]}
    again = create_point_in_time_restore(w, "si-1", chosen, token="tok-1", safety_backup=False)
    assert again["RestoreId"] == first["RestoreId"]
