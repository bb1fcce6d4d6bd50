"""The record says why: a failed backup's StatusDetail names each failed resource with the cloud's code."""


def test_a_failed_backup_names_each_failed_resource_and_its_code(api, control, si):
    disks = [control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0] for _ in range(3)]
    control.faults(reject={disks[0]["DiskId"]: "IncorrectDiskStatus"}, fail=[disks[1]["DiskId"]])
    record = api.call("POST", "/backups", {"ServiceInstanceId": si})[1]
    final = api.wait(record["BackupId"])
    assert final["Status"] == "PartiallyCreated"                    # the third disk's snapshot was made
    detail = final["StatusDetail"]
    assert detail.startswith((f"{disks[0]['DiskId']} IncorrectDiskStatus: ", f"{disks[1]['DiskId']} SnapshotFailed: "))
    assert "2 of 3 resources failed" in detail, detail
    assert f"{disks[0]['DiskId']} IncorrectDiskStatus: " in detail
    assert f"{disks[1]['DiskId']} SnapshotFailed: " in detail
    assert disks[2]["DiskId"] not in detail
    listed = api.call("GET", f"/backups?serviceInstanceId={si}")[1]["Backups"][0]
    assert listed["StatusDetail"] == detail


def test_one_failing_disk_of_a_snapshot_group_is_named_and_the_others_say_why_they_do_not_count(api, control, si):
    disks = control.seed(ServiceInstanceId=si, Disks=3, DiskSize="8MiB")["Disks"]    # one instance: one group
    bad = disks[1]["DiskId"]
    control.faults(fail=[bad])
    record = api.call("POST", "/backups", {"ServiceInstanceId": si})[1]
    final = api.wait(record["BackupId"])
    items = {i["ResourceId"]: i for i in final["Resources"]}
    assert {i["Method"] for i in items.values()} == {"SnapshotGroup"}
    group = items[bad]["SnapshotGroupId"]
    assert items[bad]["ErrorCode"] == "SnapshotFailed" and group in items[bad]["ErrorMessage"]
    for disk in (disks[0]["DiskId"], disks[2]["DiskId"]):
        item = items[disk]
        assert item["ErrorCode"] == "GroupMemberFailed", item
        assert group in item["ErrorMessage"] and bad in item["ErrorMessage"]
        assert item["ArtifactId"] and item["ArtifactId"] in item["ErrorMessage"]       # its snapshot, kept
    assert f"{bad} SnapshotFailed" in final["StatusDetail"]
    assert final["StatusDetail"].count("GroupMemberFailed") == 2
