"""Records stored before docs/statuses.md (schema 1, no SchemaVersion) read in its terms, and a backup running across
the change ends in a status of the table. The records were written by schema 1's own code (git main at 1561beb)
through its operations: tests/fixtures/make_schema1_records.py says how."""
import json
from pathlib import Path

import pytest

from nestbackup.model.records import BackupRecord
from nestbackup.model.restores import RestoreRecord
from nestbackup.operations.backup import get_backup
from nestbackup.ports.flows import BackupFlowInput, execution_name
from tests.support.flowplay import play_backup
from tests.support.memory.wiring import MemoryWiring

RECORDS = {r["What"]: r for r in json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "schema1_records.json").read_text())}


def read(what: str) -> dict:
    stored = RECORDS[what]
    assert "SchemaVersion" not in stored["Header"]                 # written before the table
    cls = RestoreRecord if stored["Header"]["Kind"] == "restore" else BackupRecord
    return cls.from_docs(stored["Header"], stored["Items"]).to_api()


def test_a_created_backup_reads_as_it_was_and_stays_restorable():
    api = read("a Created backup")
    assert api["Status"] == "Created" and api["Restorable"] is True and api["Cause"] is None
    assert {r["Status"] for r in api["Resources"]} == {"Succeeded"}


def test_a_cancelled_backup_reads_cancelled_not_failed():
    api = read("a cancelled backup")
    assert api["Status"] == "Cancelled"
    assert {r["Status"] for r in api["Resources"]} == {"Cancelled"} and api["RestorableUntil"] is None


def test_a_failed_backup_that_kept_good_artifacts_reads_partially_created_and_not_restorable():
    api = read("a backup whose disk succeeded and database failed")
    assert api["Status"] == "PartiallyCreated" and api["Restorable"] is False
    assert "restored by selection" in api["RestorableReason"] and api["RestorableUntil"] is None
    assert api["Cause"]["Code"] == "InvalidDBInstanceId.NotFound"


def test_a_cancelled_restore_reads_cancelled_with_its_untouched_resources_not_started():
    api = read("a restore cancelled during its safety backup")
    assert api["Status"] == "Cancelled" and api["Cause"] is None
    assert {r["Status"] for r in api["Resources"]} == {"NotStarted"}


def test_a_failed_restore_reads_with_its_one_real_failure_as_the_cause():
    api = read("a restore where one database failed")
    assert api["Status"] == "RestoreFailed"
    statuses = sorted(r["Status"] for r in api["Resources"])
    assert statuses == ["Failed", "NotStarted", "NotStarted", "RolledBack"]
    failed = next(r for r in api["Resources"] if r["Status"] == "Failed")
    assert api["Cause"]["ResourceId"] == failed["ResourceId"] and api["Cause"]["Code"] == "RestoreTableFailed"


@pytest.mark.parametrize("what", sorted(RECORDS))
def test_every_schema_1_record_reads_and_writes_back_as_schema_2(what):
    stored = RECORDS[what]
    cls = RestoreRecord if stored["Header"]["Kind"] == "restore" else BackupRecord
    record = cls.from_docs(stored["Header"], stored["Items"])
    again = cls.from_docs(record.header_doc(), {i.resource_id: i.to_dict() for i in record.items})
    assert record.header_doc()["SchemaVersion"] == 2 and again.to_api() == record.to_api()


def test_a_backup_running_across_the_change_ends_in_a_status_of_the_table():
    """Its stored record (schema 1, one disk Pending) is put in the store as it was, and its flow runs on under this
    code."""
    stored = RECORDS["a backup still running"]
    w = MemoryWiring()
    w.seed("si-1", instances=1, disks_per_instance=1)      # the same ids as when the record was written
    header, items = stored["Header"], stored["Items"]
    assert set(items) == set(w.ecs.disks)
    w.store.create("backup", header["BackupId"], header["ServiceInstanceId"], header, items)
    w.flows.start_once(w.settings.backup_flow, execution_name(header["BackupId"], 1),
                       BackupFlowInput(header["BackupId"]))           # its execution, as it was running
    assert play_backup(w, header["BackupId"])["Status"] == "Created"
    assert get_backup(w, header["BackupId"])["Restorable"] is True
