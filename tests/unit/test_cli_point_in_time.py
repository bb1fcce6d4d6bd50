"""The CLI's point-in-time restore: the request it builds, and how a restore to a second is printed."""
import click
import pytest

from nestbackup.cli.errors import CliError
from nestbackup.cli.records import print_record
from nestbackup.cli.restore import restore_body


def test_the_request_names_a_backup_or_an_instance_and_a_second_with_its_databases():
    assert restore_body("backup-1", None, None) == {"BackupId": "backup-1", "SafetyBackup": True}
    assert restore_body(None, "si-1", "2026-12-06T14:05:00Z", databases=("rm-1:app", "rm-1:b:c", "rm-2:x")) == {
        "ServiceInstanceId": "si-1", "RestoreTime": "2026-12-06T14:05:00Z",
        "Databases": {"rm-1": ["app", "b:c"], "rm-2": ["x"]}, "SafetyBackup": True}
    # with a backup, --database selects its databases (a selective restore)
    assert restore_body("backup-1", None, None, databases=("rm-1:app",))["Databases"] == {"rm-1": ["app"]}
    for bad in (("backup-1", "si-1", None), (None, "si-1", None), (None, None, "2026-12-06T14:05:00Z")):
        with pytest.raises(click.UsageError):
            restore_body(*bad)
    with pytest.raises(click.UsageError):
        restore_body(None, "si-1", "2026-12-06T14:05:00Z", databases=("rm-1",))
    with pytest.raises(click.UsageError):
        restore_body(None, "si-1", "2026-12-06T14:05:00Z", resources=("d-1",))
    with pytest.raises(CliError):
        restore_body("backup-1", None, None, databases=("rm-1",))
    # a hooked backup's databases from their sets, not to its moment; only with a backup
    assert restore_body("backup-1", None, None, from_backup_sets=True)["ToConsistentMoment"] is False
    with pytest.raises(click.UsageError):
        restore_body(None, "si-1", "2026-12-06T14:05:00Z", from_backup_sets=True)


def test_a_restore_to_a_second_is_printed_with_its_second(capsys):
    print_record({"RestoreId": "restore-1", "BackupId": "", "RestoreTime": "2026-12-06T14:05:00Z",
                  "Status": "Restored", "Phase": "Done", "ServiceInstanceId": "si-1",
                  "StartTime": "2026-12-06T15:00:00Z", "EndTime": "2026-12-06T15:01:00Z", "Resources": []})
    assert "to 2026-12-06T14:05:00Z" in capsys.readouterr().out
