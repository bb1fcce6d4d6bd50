"""A failed record's cause line, root first (docs/statuses.md, "The cause line"): the failure that caused it in full,
then the count of real failures, the phase, what the operation did, the other failures; only the tail is bounded."""
from nestbackup.model.causes import MAX_DETAIL, cause_line, root_cause
from nestbackup.model.records import BackupItem, BackupRecord, ResourceType
from nestbackup.model.restores import RestoreItem
from nestbackup.model.status import ItemStatus


def items(n_failed: int, n_ok: int = 0, message: str = "the snapshot failed") -> list[BackupItem]:
    out = [BackupItem(f"d-{n:04d}", ResourceType.DISK) for n in range(n_failed + n_ok)]
    for item in out[:n_failed]:
        item.fail("SnapshotFailed", message)
    for item in out[n_failed:]:
        item.status = ItemStatus.SUCCEEDED
    return out


def test_the_line_starts_with_the_first_failure_then_counts_and_the_others():
    text = cause_line(items(2, 5))
    assert text == ("d-0000 SnapshotFailed: the snapshot failed — 2 of 7 resources failed; "
                    "also failed: d-0001 SnapshotFailed: the snapshot failed")
    assert cause_line(items(0, 3)) == ""


def test_the_first_failure_is_the_earliest_to_end_not_the_first_listed():
    both = items(2)
    both[0].end_time, both[1].end_time = "2026-12-04T00:00:09Z", "2026-12-04T00:00:03Z"
    assert cause_line(both).startswith("d-0001 SnapshotFailed")
    assert root_cause(both)["ResourceId"] == "d-0001"


def test_only_the_tail_is_bounded_never_the_first_failure():
    long = "line one\nline two " + "x" * 1500
    text = cause_line(items(500, message=long))
    assert text.startswith("d-0000 SnapshotFailed: line one line two " + "x" * 1500 + " — 500 of 500 resources")
    assert "\n" not in text and text.endswith("more failed") and "… and " in text
    assert len(text) - len(" ".join(long.split())) <= MAX_DETAIL + 40


def test_resources_never_touched_are_counted_as_such_not_as_failures():
    restore = [RestoreItem(f"r-{n}", ResourceType.RDS, "set") for n in range(6)]
    restore[2].fail("RestoreTableFailed", "the task failed")
    for item in restore[3:]:
        item.close(ItemStatus.NOT_STARTED, "not started")
    restore[0].close(ItemStatus.ROLLED_BACK, "kept aside")
    restore[1].close(ItemStatus.ROLLED_BACK, "kept aside")
    text = cause_line(restore, "nothing was stopped", "RestoringDatabases")
    assert text == ("r-2 RestoreTableFailed: the task failed — 1 of 6 resources failed, stopped in "
                    "RestoringDatabases; 3 not started; 2 rolled back; nothing was stopped")


def test_without_a_failed_resource_the_operations_cause_comes_first():
    ok = items(0, 2)
    assert cause_line(ok, "ECS refused to stop i-1") == "ECS refused to stop i-1 — 0 of 2 resources failed"
    assert root_cause(ok, "ECS refused to stop i-1")["ResourceId"] is None


def test_a_record_that_fails_keeps_its_own_cause_after_the_first_failure():
    record = BackupRecord("backup-0123456789ab", "si-1", "2026-12-04T00:00:00Z", items=items(1, 1))
    record.status_detail = "the backup flow failed"
    record.refresh_status("2026-12-04T00:01:00Z")
    assert record.status_detail == ("d-0000 SnapshotFailed: the snapshot failed — 1 of 2 resources failed; "
                                    "the backup flow failed")
    assert record.to_api()["Cause"] == {"ResourceId": "d-0000", "Code": "SnapshotFailed",
                                        "Message": "the snapshot failed", "RequestId": None, "Phase": None}
    record.refresh_status("2026-12-04T00:02:00Z")              # once final, not composed again
    assert record.status_detail.count("1 of 2") == 1


def test_a_failure_that_only_follows_from_another_is_never_taken_as_the_cause():
    """A snapshot group failed on its second disk: every member fails at the same moment, and the first listed only
    because of the group; the cause is the disk that failed."""
    group = items(3)
    for item in group:
        item.end_time = "2026-12-04T00:00:05Z"
    group[0].error_code = group[2].error_code = "GroupMemberFailed"
    group[1].error_code = "SnapshotFailed"
    assert root_cause(group)["ResourceId"] == "d-0001"
    assert cause_line(group).startswith("d-0001 SnapshotFailed: ")
