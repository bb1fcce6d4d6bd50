"""A failed record's StatusDetail: every failed resource with its code and message, in one bounded line."""
from nestbackup.model.causes import MAX_DETAIL, failure_summary, with_cause
from nestbackup.model.records import BackupItem, BackupRecord, ResourceType
from nestbackup.model.status import ItemStatus


def items(n_failed: int, n_ok: int = 0, message: str = "the snapshot failed") -> list[BackupItem]:
    out = [BackupItem(f"d-{n:04d}", ResourceType.DISK) for n in range(n_failed + n_ok)]
    for item in out[:n_failed]:
        item.fail("SnapshotFailed", message)
    for item in out[n_failed:]:
        item.status = ItemStatus.SUCCEEDED
    return out


def test_the_summary_names_each_failed_resource_with_its_code_and_message():
    text = failure_summary(items(2, 5))
    assert text == ("2 of 7 resources failed: d-0000 SnapshotFailed: the snapshot failed; "
                    "d-0001 SnapshotFailed: the snapshot failed")
    assert failure_summary(items(0, 3)) == ""


def test_the_summary_is_one_bounded_line_counting_what_does_not_fit():
    text = failure_summary(items(500, message="line one\nline two " + "x" * 500))
    assert len(text) <= MAX_DETAIL and "\n" not in text
    assert text.startswith("500 of 500 resources failed: d-0000 SnapshotFailed: line one line two")
    assert text.endswith("more") and "… and " in text


def test_a_record_that_fails_keeps_its_own_cause_then_the_resources():
    record = BackupRecord("backup-0123456789ab", "si-1", "2026-12-04T00:00:00Z", items=items(1, 1))
    record.status_detail = "the backup flow failed"
    record.refresh_status("2026-12-04T00:01:00Z")
    assert record.status_detail == "the backup flow failed — 1 of 2 resources failed: d-0000 SnapshotFailed: " \
                                   "the snapshot failed"
    record.refresh_status("2026-12-04T00:02:00Z")              # once final, not appended again
    assert record.status_detail.count("1 of 2") == 1
    assert with_cause("", "") == ""
