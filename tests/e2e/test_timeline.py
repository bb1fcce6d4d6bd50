"""Each record keeps a timeline: what happened to it and to each resource, in order, in the API and the CLI."""
import json

from nestbackup.model import timeline
from tests.support.product import run_cli


def test_a_backup_timeline_lists_what_happened_in_order(product, api, control, si):
    disks = [control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0] for _ in range(2)]
    control.faults(fail=[disks[1]["DiskId"]])
    record = api.call("POST", "/backups", {"ServiceInstanceId": si})[1]
    final = api.wait(record["BackupId"])
    status, body = api.call("GET", f"/backups/{record['BackupId']}/events")
    assert status == 200
    events = body["Events"]
    assert events[0]["Event"] == "Created" and events[-1]["Event"] == "PartiallyCreated"
    assert [e["Time"] for e in events] == sorted(e["Time"] for e in events)
    good, bad = disks[0]["DiskId"], disks[1]["DiskId"]
    of_good = [e["Event"] for e in events if e["ResourceId"] == good]
    assert of_good[0] == "Planned" and "Started" in of_good and of_good[-1] == "Succeeded"
    assert of_good.index("Started") < of_good.index("Succeeded")
    [failed] = [e for e in events if e["ResourceId"] == bad and e["Event"] == "Failed"]
    assert failed["Detail"].startswith("SnapshotFailed:")
    items = {i["ResourceId"]: i for i in final["Resources"]}
    assert items[good]["StartTime"] <= items[good]["EndTime"] and items[bad]["EndTime"]

    shown = run_cli(product.endpoint, "backup", "describe", record["BackupId"])
    assert shown.returncode == 0, shown.stderr
    assert "Timeline:" in shown.stdout and f"{bad}  Failed  SnapshotFailed" in shown.stdout
    as_json = json.loads(run_cli(product.endpoint, "backup", "describe", record["BackupId"], "--json").stdout)
    assert as_json["Events"] == events and as_json["BackupId"] == record["BackupId"]


def test_a_restore_timeline_shows_its_phases_and_databases(product, api, control, si, pg_db):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    backup = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})[1]
    assert api.wait(restore["RestoreId"])["Status"] == "Restored"
    events = api.call("GET", f"/restores/{restore['RestoreId']}/events")[1]["Events"]
    phases = [e["Detail"] for e in events if e["Event"] == "Phase"]
    assert phases.index("StoppingInstance") < phases.index("RestoringData") < phases.index("StartingInstance")
    assert any(e["Event"] == "DatabaseRenamed" and pg_db[0] in e["Detail"] for e in events), events
    assert events[-1]["Event"] == "Restored"
    assert len(events) <= timeline.MAX_EVENTS
    shown = run_cli(product.endpoint, "restore", "describe", restore["RestoreId"])
    assert shown.returncode == 0 and "Phase  RestoringData" in shown.stdout


def test_another_tenants_timeline_does_not_exist(api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    record = api.call("POST", "/backups", {"ServiceInstanceId": si})[1]
    status, tenant = api.call("POST", "/tenants", {"Name": "tl-" + si[-8:], "Instances": ["si-other-" + si[-6:]]})
    from tests.support.product import Api
    other = Api(api.base.removesuffix("/api"), tenant["Token"])
    status, body = other.call("GET", f"/backups/{record['BackupId']}/events")
    assert status == 404 and body["Code"] == "NotFound"
    api.wait(record["BackupId"])


def test_events_are_derived_and_bounded_per_resource():
    before = {"resource_id": "d-1", "status": "Running", "progress": 10}
    after = {"resource_id": "d-1", "status": "Running", "progress": 90}
    assert [e["Detail"] for e in timeline.item_events(before, after, "t")] == ["25%", "50%", "75%"]
    assert timeline.item_events(after, dict(after), "t") == []          # no change, no event


def test_waiting_and_refusals_are_on_the_timeline():
    before = {"resource_id": "rm-1", "status": "Pending"}
    after = {"resource_id": "rm-1", "status": "Pending", "wait_reason": "BackupJobExists: an automatic backup runs"}
    assert [e["Event"] for e in timeline.item_events(before, after, "t")] == ["Waiting"]
    assert timeline.item_events(after, dict(after), "t") == []


def test_throttling_the_start_met_is_on_the_timeline(api, control, si):
    disk = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0]["DiskId"]
    # Throttling is drawn at random per call: a few backups make sure one of them meets it at its start.
    for seed in range(10):
        control.faults(throttle=0.6, products=["ecs"], seed=seed)
        record = api.call("POST", "/backups", {"ServiceInstanceId": si})
        while record[0] in (502, 503):      # the API's own discovery may be throttled past its retries
            record = api.call("POST", "/backups", {"ServiceInstanceId": si})
        final = api.wait(record[1]["BackupId"], timeout=300)
        control.clear_faults()
        events = api.call("GET", f"/backups/{final['BackupId']}/events")[1]["Events"]
        retried = [e for e in events if e["ResourceId"] == disk and e["Event"] == "Retried"]
        if retried:
            assert "Throttling.User" in retried[0]["Detail"], retried
            return
    raise AssertionError("no start met throttling in 10 backups, or its retries are not on the timeline")
