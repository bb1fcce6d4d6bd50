import pytest

from nestbackup.model.status import (
    BackupStatus,
    ItemStatus,
    aggregate_backup,
    backup_job_item_status,
    snapshot_item_status,
)

P, R, S, F = ItemStatus.PENDING, ItemStatus.RUNNING, ItemStatus.SUCCEEDED, ItemStatus.FAILED
K = ItemStatus.SKIPPED


@pytest.mark.parametrize("items, expected", [
    ([P, P], BackupStatus.CREATING),          # the empty record, before any cloud call
    ([R, S], BackupStatus.CREATING),
    ([R, F], BackupStatus.CREATING),          # a failure does not end the record while others run
    ([S, F], BackupStatus.PARTIALLY_CREATED),  # completed with issues (docs/statuses.md)
    ([F, F], BackupStatus.CREATE_FAILED),
    ([S, S], BackupStatus.CREATED),
    ([], BackupStatus.CREATE_FAILED),          # nothing to back up is not a success
    ([S, K], BackupStatus.CREATED),            # a skipped replica is final and not a failure
    ([R, K], BackupStatus.CREATING),
    ([K], BackupStatus.CREATE_FAILED),         # only skipped items: nothing was backed up
], ids=["empty-record", "running", "running-with-failure", "partial", "failed", "created", "no-resources",
        "skipped-replica", "running-with-skipped", "only-skipped"])
def test_aggregate_backup(items, expected):
    assert aggregate_backup(items) is expected


@pytest.mark.parametrize("raw, expected", [("progressing", R), ("accomplished", S), ("failed", F), ("new", R)])
def test_snapshot_status_mapping(raw, expected):
    assert snapshot_item_status(raw) is expected


@pytest.mark.parametrize("raw, expected", [("NoStart", R), ("Uploading", R), ("Finished", S), ("Failed", F)])
def test_backup_job_status_mapping(raw, expected):
    assert backup_job_item_status(raw) is expected


def test_statuses_render_as_compute_nest_names():
    assert str(BackupStatus.CREATE_FAILED) == "CreateFailed"
    assert f"{ItemStatus.SUCCEEDED}" == "Succeeded"
