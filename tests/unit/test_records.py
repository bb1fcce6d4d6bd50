from nestbackup.model.coverage import NotProtected
from nestbackup.model.records import BackupItem, BackupMethod, BackupRecord, ResourceType
from nestbackup.model.status import BackupStatus, ItemStatus


def _record():
    return BackupRecord("b-1", "si-1", "2026-11-26T16:00:00Z", items=[
        BackupItem("d-1", ResourceType.DISK, instance_id="i-1", method=BackupMethod.SNAPSHOT),
        BackupItem("rm-1", ResourceType.RDS, engine="MySQL", method=BackupMethod.RDS_BACKUP)])


def test_empty_record_is_creating_with_every_item_pending():
    record = _record()
    assert record.refresh_status("t1") is BackupStatus.CREATING
    assert record.end_time is None
    api = record.to_api()
    assert api["Status"] == "Creating"
    assert [r["Status"] for r in api["Resources"]] == ["Pending", "Pending"]
    assert set(api) == {"BackupId", "ServiceInstanceId", "Status", "StatusDetail", "StartTime", "EndTime",
                        "Description", "RestorableUntil", "AwaitingExpiry", "Cost", "NotProtected", "Origin", "Scope",
                        "Resources", "Cause", "Restorable", "RestorableReason",
                        "LastDrill", "LastDrillId", "Lock", "CopyToRegion", "CopyStatus"}
    assert {"ResourceId", "ResourceType", "Status", "ArtifactId", "Progress", "ErrorCode",
            "ErrorMessage"} <= set(api["Resources"][0])


def test_a_failed_item_makes_the_record_fail_once_all_are_final_and_keeps_its_cause():
    record = _record()
    record.item("d-1").status = ItemStatus.SUCCEEDED
    record.item("rm-1").fail("IncorrectDBInstanceState", "The instance is not running.", "REQ-1")
    assert record.refresh_status("t2") is BackupStatus.PARTIALLY_CREATED    # d-1 succeeded (docs/statuses.md)
    assert record.end_time == "t2"
    api = record.to_api()
    assert api["StatusDetail"].startswith("rm-1 IncorrectDBInstanceState: The instance is not running.")
    assert api["Restorable"] is False and "restored by selection" in api["RestorableReason"]
    failed = record.to_api()["Resources"][1]
    assert (failed["ErrorCode"], failed["ErrorMessage"], failed["Engine"]) == \
        ("IncorrectDBInstanceState", "The instance is not running.", "MySQL")


def test_end_time_is_set_once():
    record = _record()
    for item in record.items:
        item.status = ItemStatus.SUCCEEDED
    record.refresh_status("t3")
    record.refresh_status("t4")
    assert (record.status, record.end_time) == (BackupStatus.CREATED, "t3")


def test_items_round_trip_through_dicts():
    item = BackupItem("d-1", ResourceType.DISK, instance_id="i-1", method=BackupMethod.SNAPSHOT_GROUP,
                      status=ItemStatus.RUNNING, group_id="ssg-1", progress=40)
    assert BackupItem.from_dict(item.to_dict()) == item
    assert item.to_api()["SnapshotGroupId"] == "ssg-1"


def test_record_round_trips_through_its_stored_documents():
    record = _record()
    record.item("d-1").status = ItemStatus.RUNNING
    docs = {i.resource_id: i.to_dict() for i in record.items}
    again = BackupRecord.from_docs(record.header_doc(), docs)
    assert again == record


def test_what_a_backup_leaves_unprotected_round_trips_and_is_named_after_any_failure_cause():
    record = _record()
    record.not_protected = [NotProtected.of("oss", "bucket", "assets"), NotProtected.of("kvstore", "instance", "r-1")]
    record.status_detail = "1 of 2 resources failed: d-1 SnapshotFailed: quota"
    docs = {i.resource_id: i.to_dict() for i in record.items}
    again = BackupRecord.from_docs(record.header_doc(), docs)
    assert again == record
    api = again.to_api()
    assert api["NotProtected"][1] == {"ResourceId": "r-1", "ResourceType": "kvstore:instance",
                                      "Reason": "nestbackup does not back up kvstore resources"}
    assert api["StatusDetail"] == ("1 of 2 resources failed: d-1 SnapshotFailed: quota; 2 resources not protected "
                                   "(oss:bucket assets, kvstore:instance r-1)")
    assert BackupRecord.from_docs({k: v for k, v in record.header_doc().items() if k != "NotProtected"},
                                  docs).not_protected == []          # records written before the field


def test_items_written_when_job_id_held_a_group_or_the_rds_intent_read_into_their_own_fields():
    group = BackupItem.from_dict({"resource_id": "d-1", "resource_type": "disk", "method": "SnapshotGroup",
                                  "status": "Running", "job_id": "ssg-1"})
    assert (group.group_id, group.job_id) == ("ssg-1", None)
    rds = BackupItem.from_dict({"resource_id": "rm-1", "resource_type": "rds", "method": "RdsBackup",
                                "status": "Pending", "job_id": "starting"})
    assert (rds.starting, rds.job_id) == (True, None)
    running = BackupItem.from_dict({"resource_id": "rm-1", "resource_type": "rds", "method": "RdsBackup",
                                    "status": "Running", "job_id": "1234"})
    assert (running.starting, running.job_id, running.group_id) == (False, "1234", None)


def test_a_resource_whose_arn_names_no_service_is_not_protected_as_unknown():
    entry = NotProtected.of("", "", "i-abc")
    assert (entry.resource_type, entry.resource_id) == ("unknown", "i-abc") and "cannot tell" in entry.reason
    assert NotProtected.of("oss", "", "new-bucket").resource_type == "oss"


def test_a_record_with_copies_stays_creating_until_they_are_final_and_keeps_them_stored():
    from nestbackup.model.copies import SnapshotCopy
    record = BackupRecord("backup-x", "si-1", "2026-01-01T00:00:00Z",
                          items=[BackupItem("d-1", ResourceType.DISK, status=ItemStatus.SUCCEEDED,
                                            copies=[SnapshotCopy("cn-shanghai", ItemStatus.RUNNING, "s-1", "s-2")])],
                          copy_to_region="cn-shanghai")
    assert record.refresh_status("2026-01-01T00:01:00Z") is BackupStatus.CREATING and record.end_time is None
    record.items[0].copies[0].status = ItemStatus.SUCCEEDED
    assert record.refresh_status("2026-01-01T00:02:00Z") is BackupStatus.CREATED
    again = BackupRecord.from_docs(record.header_doc(), {"d-1": record.items[0].to_dict()})
    assert again.copy_to_region == "cn-shanghai" and again.to_api()["CopyStatus"] == "Created"
    assert again.to_api()["Resources"][0]["Copies"] == [{"Region": "cn-shanghai", "SnapshotId": "s-2",
                                                         "SourceSnapshotId": "s-1", "Status": "Succeeded",
                                                         "ErrorCode": None, "ErrorMessage": None}]
