"""A restore request's body read into its typed request, and a selection checked against a backup record."""
import pytest

from nestbackup.decisions.selection import NotInBackup, NotSelectable, choose
from nestbackup.errors import ValidationError
from nestbackup.model.records import BackupItem, BackupMethod, BackupRecord, ResourceType
from nestbackup.model.selection import RestoreRequest, Selection
from nestbackup.model.status import BackupStatus, ItemStatus


@pytest.mark.parametrize("body, said", [
    ({"Resources": "d-1"}, "Resources must be a list"),
    ({"Resources": ["d-1", "d-1"]}, "twice"),
    ({"Resources": []}, "the selection is empty"),
    ({"Databases": {"rm-1": []}}, "names no database"),
    ({"Databases": ["rm-1"]}, "Databases must be an object"),
    ({"Databases": {"rm-1": "app"}}, "must be a list"),
    ({"SplitGroups": True}, "SplitGroups applies to a selection"),
    ({"Resources": ["d-1"], "SplitGroups": "yes"}, "SplitGroups must be true or false"),
    ({"SafetyBackup": 1}, "SafetyBackup must be true or false"),
])
def test_a_malformed_selection_is_refused_saying_what_is_wrong(body, said):
    with pytest.raises(ValidationError, match=said):
        RestoreRequest.from_body({"BackupId": "backup-1", **body})


def test_a_body_without_a_selection_asks_for_the_whole_backup():
    request = RestoreRequest.from_body({"BackupId": "backup-1"})
    assert request.selection is None and request.safety_backup is True
    picked = RestoreRequest.from_body({"BackupId": "b", "Resources": ["d-1"], "Databases": {"rm-1": ["app"]}})
    assert picked.selection == Selection(("d-1",), {"rm-1": ("app",)})


def _backup(status=BackupStatus.CREATED, failed=()):
    def disk(rid, group):
        good = rid not in failed
        return BackupItem(rid, ResourceType.DISK, instance_id="i-1", method=BackupMethod.SNAPSHOT_GROUP,
                          group_id=group, status=ItemStatus.SUCCEEDED if good else ItemStatus.FAILED,
                          artifact_id=f"s-{rid}" if good else None)
    rds = BackupItem("rm-1", ResourceType.RDS, engine="MySQL", method=BackupMethod.RDS_BACKUP,
                     status=ItemStatus.SUCCEEDED, artifact_id="set-1", databases=["app", "audit"])
    return BackupRecord("backup-1", "si-1", "t", items=[disk("d-1", "sg-1"), disk("d-2", "sg-1"), rds],
                        status=status)


def test_a_disk_brings_its_group_and_an_instance_named_whole_takes_all_its_databases():
    chosen = choose(_backup(), Selection(("d-1", "rm-1"), {"rm-1": ("app",)}))
    assert chosen.restored == {"d-1": None, "d-2": None, "rm-1": None} and chosen.joined == {"d-2": "sg-1"}
    alone = choose(_backup(), Selection(("d-1",), split_groups=True))
    assert alone.restored == {"d-1": None} and alone.joined == {} and alone.split == {"d-1": "sg-1"}
    both = choose(_backup(), Selection(("d-1", "d-2"), split_groups=True))
    assert both.split == {} and set(both.restored) == {"d-1", "d-2"}     # the whole group: nothing split
    assert choose(_backup(), Selection(databases={"rm-1": ("audit",)})).restored == {"rm-1": ("audit",)}


def test_names_not_in_the_backup_and_what_it_cannot_restore_are_refused_by_name():
    with pytest.raises(NotInBackup, match="d-9, rm-9"):
        choose(_backup(), Selection(("d-9",), {"rm-9": ("app",)}))
    with pytest.raises(NotInBackup, match="rm-1:ghost"):
        choose(_backup(), Selection(databases={"rm-1": ("ghost",)}))
    with pytest.raises(NotInBackup, match="not an RDS instance"):
        choose(_backup(), Selection(databases={"d-1": ("app",)}))
    with pytest.raises(NotSelectable, match="d-2 was not backed up"):
        choose(_backup(BackupStatus.PARTIALLY_CREATED, failed=("d-2",)), Selection(("d-2",), split_groups=True))
    with pytest.raises(NotSelectable, match="group sg-1 with d-2"):
        choose(_backup(BackupStatus.PARTIALLY_CREATED, failed=("d-2",)), Selection(("d-1",)))
    with pytest.raises(NotSelectable, match="CreateFailed"):
        choose(_backup(BackupStatus.CREATE_FAILED), Selection(("d-1",)))
