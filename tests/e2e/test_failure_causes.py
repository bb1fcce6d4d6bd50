"""The record says why: a failed backup's StatusDetail names each failed resource with the cloud's code."""


def test_a_failed_backup_names_each_failed_resource_and_its_code(api, control, si):
    disks = [control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0] for _ in range(3)]
    control.faults(reject={disks[0]["DiskId"]: "IncorrectDiskStatus"}, fail=[disks[1]["DiskId"]])
    record = api.call("POST", "/backups", {"ServiceInstanceId": si})[1]
    final = api.wait(record["BackupId"])
    assert final["Status"] == "CreateFailed"
    detail = final["StatusDetail"]
    assert detail.startswith("2 of 3 resources failed: "), detail
    assert f"{disks[0]['DiskId']} IncorrectDiskStatus: " in detail
    assert f"{disks[1]['DiskId']} SnapshotFailed: " in detail
    assert disks[2]["DiskId"] not in detail
    listed = api.call("GET", f"/backups?serviceInstanceId={si}")[1]["Backups"][0]
    assert listed["StatusDetail"] == detail
