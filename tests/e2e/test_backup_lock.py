"""A compliance-locked backup on the local cloud: its delete, retention and the admin are refused until its date,
ECS itself refuses to delete its snapshot (the official SDK, outside nestbackup), and once the date has passed (the
local ECS's lock clock moved on) retention deletes it."""
import time

import pytest
from alibabacloud_ecs20140526 import models as ecs_m
from Tea.exceptions import TeaException

from nestbackup.decisions.retention import Retention
from nestbackup.handlers import wiring
from nestbackup.model.records import iso_utc
from nestbackup.operations import schedules
from tests.support import make_ecs
from tests.support.product import snapshots_of

DAY = 86400


def test_a_compliance_locked_backup_survives_delete_retention_and_the_admin_until_its_date(product, api, control, si):
    disk = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0]["DiskId"]
    made = [api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"]) for _ in range(2)]
    old, snapshot = made[0]["BackupId"], made[0]["Resources"][0]["ArtifactId"]
    until = iso_utc(time.time() + DAY)
    status, record = api.call("PUT", f"/backups/{old}/lock", {"Mode": "Compliance", "Until": until})
    assert status == 200 and record["Lock"]["CloudLock"] == "Locked" and record["Lock"]["CloudLocked"] == [snapshot]

    status, refused = api.call("DELETE", f"/backups/{old}")              # the admin's token
    assert status == 409 and f"locked (Compliance) until {until}" in refused["Message"]
    status, refused = api.call("DELETE", f"/backups/{old}/lock", {"Reason": "make room"})
    assert status == 409 and "nobody can lift" in refused["Message"]
    assert api.call("PUT", f"/backups/{old}/lock", {"Mode": "Compliance", "Until": iso_utc(time.time() + 3600)})[0] \
        == 409
    with pytest.raises(TeaException) as err:                             # outside nestbackup: ECS refuses too
        make_ecs(product.endpoint).delete_snapshot(ecs_m.DeleteSnapshotRequest(snapshot_id=snapshot))
    assert err.value.code == "OperationDenied.SnapshotLocked"
    assert schedules.apply_retention(wiring(), si, Retention(keep_last=1), time.time()) == []
    assert api.call("GET", f"/backups/{old}")[1]["Status"] == "Created"
    assert snapshot in {s.snapshot_id for s in snapshots_of(product.endpoint, disk)}

    # Its date has passed, for nestbackup and for ECS (whose lock lasts whole days): retention deletes it.
    control.call("POST", "/_local/ecs/lock-clock", {"AdvanceSeconds": 2 * DAY})
    later = time.time() + 2 * DAY
    assert schedules.apply_retention(wiring(), si, Retention(keep_last=1), later) == [old]
    assert api.call("GET", f"/backups/{old}")[1]["Status"] == "Deleted"
    assert snapshot not in {s.snapshot_id for s in snapshots_of(product.endpoint, disk)}
