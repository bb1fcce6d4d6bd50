"""Operating it: schedules fired by the timer handler, retention deleting real artifacts, the sweeper."""
import importlib.util
import json
import time
from pathlib import Path

from alibabacloud_ecs20140526 import models as ecs_m
from alibabacloud_rds20140815 import models as rds_m

from nestbackup.handlers import wiring
from nestbackup.operations import schedules, sweeper
from tests.support import make_ecs, make_fnf, make_rds, wait_until
from tests.support.product import snapshots_of

ROOT = Path(__file__).resolve().parents[2]


def timer(job: str) -> dict:
    spec = importlib.util.spec_from_file_location("timer_index", ROOT / "functions/nestbackup-timer/index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    event = {"triggerTime": "2026-11-26T03:00:00Z", "triggerName": job, "payload": json.dumps({"Job": job})}
    return module.handler(json.dumps(event).encode(), None)


def test_a_due_schedule_fires_once_on_the_timer_handler(product, api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    schedules.set_schedule(wiring(), si, "0 */2 * * *", now=time.time() - 3 * 3600)   # due: a slot in the last 3 h
    first = timer("schedules")
    assert first["Fired"] >= 1 and not first["Errors"]
    again = timer("schedules")
    status, page = api.call("GET", f"/backups?serviceInstanceId={si}")
    assert len(page["Backups"]) == 1 and again["Errors"] == []
    assert api.wait(page["Backups"][0]["BackupId"])["Status"] == "Created"
    assert "scheduled" in page["Backups"][0]["Description"] and page["Backups"][0]["Origin"] == "schedule"
    shown = api.call("GET", f"/service-instances/{si}/schedule")[1]      # the last real run and its backup
    assert shown["LastBackupId"] == page["Backups"][0]["BackupId"] and shown["LastBackupStatus"] == "Created"
    assert shown["LastFireTime"] and shown["NextRunTime"] > shown["LastFireTime"]


def test_a_schedule_that_cannot_be_evaluated_fails_alone_and_says_so(product, api, control):
    import uuid
    w = wiring()
    good = ["si-good-" + uuid.uuid4().hex[:8] for _ in range(3)]
    for si in good:
        control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
        schedules.set_schedule(w, si, "0 */2 * * *", now=time.time() - 3 * 3600)
    bad = "si-bad-" + uuid.uuid4().hex[:8]             # stored before crons were checked: it can never be evaluated
    w.documents.put_doc(schedules.SCHEDULES, bad, {"Cron": "0 0 30 2 *", "LastFire": time.time() - 3 * 3600})
    out = timer("schedules")
    assert [e["ServiceInstanceId"] for e in out["Errors"]] == [bad]
    for si in good:
        [record] = api.call("GET", f"/backups?serviceInstanceId={si}")[1]["Backups"]
        assert api.wait(record["BackupId"])["Status"] == "Created"
    shown = api.call("GET", f"/service-instances/{bad}/schedule")[1]
    assert shown["LastError"] and shown["LastErrorTime"]
    schedules.delete_schedule(w, bad)


def test_schedule_api(api, control, si):
    status, body = api.call("PUT", f"/service-instances/{si}/schedule", {"Cron": "0 3 * * *"})
    assert status == 404 and si in body["Message"]                 # Compute Nest does not know it (yet)
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    status, body = api.call("PUT", f"/service-instances/{si}/schedule", {"Cron": "0 3 * * *", "KeepLast": 7})
    assert status == 200 and body["Cron"] == "0 3 * * *" and body["KeepLast"] == 7
    assert body["LastFireTime"] is None and body["NextRunTime"].endswith("T03:00:00Z")
    assert api.call("GET", f"/service-instances/{si}/schedule")[1]["KeepLast"] == 7
    for bad in ({"Cron": "every day"}, {"Cron": "0 3 * * *", "KeepLast": 0}, {"Cron": "0 3 * * *", "X": 1},
                {"Cron": "0 0 30 2 *"}, {"Cron": "* * * * *"}, {"Cron": "0,1 3 * * *"}):
        status, body = api.call("PUT", f"/service-instances/{si}/schedule", bad)
        assert status == 400, body
    assert "never fires" in api.call("PUT", f"/service-instances/{si}/schedule", {"Cron": "0 0 30 2 *"})[1]["Message"]
    assert "minimum" in api.call("PUT", f"/service-instances/{si}/schedule", {"Cron": "*/5 * * * *"})[1]["Message"]
    assert api.call("DELETE", f"/service-instances/{si}/schedule")[0] == 200
    assert api.call("GET", f"/service-instances/{si}/schedule")[0] == 404


def test_retention_deletes_real_snapshots_and_rds_backups(product, api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    disk, db = seeded["Disks"][0], seeded["DBInstances"][0]
    made = []
    for _ in range(3):
        status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
        made.append(api.wait(record["BackupId"]))
    deleted = schedules.apply_retention(wiring(), si, schedules.Retention(keep_last=1), time.time())
    assert deleted == [made[0]["BackupId"], made[1]["BackupId"]]
    items = lambda r: {i["ResourceType"]: i["ArtifactId"] for i in r["Resources"]}  # noqa: E731
    assert [s.snapshot_id for s in snapshots_of(product.endpoint, disk["DiskId"])] == [items(made[2])["disk"]]
    rds = make_rds(product.endpoint)
    left = rds.describe_backups(rds_m.DescribeBackupsRequest(dbinstance_id=db["DBInstanceId"])).body.items.backup
    assert [b.backup_id for b in left] == [items(made[2])["rds"]]
    for record in made[:2]:
        assert api.call("GET", f"/backups/{record['BackupId']}")[1]["Status"] == "Deleted"
    # Deleting by hand, through the API; a second delete is a no-op.
    status, gone = api.call("DELETE", f"/backups/{made[2]['BackupId']}")
    assert (status, gone["Status"]) == (200, "Deleted") and snapshots_of(product.endpoint, disk["DiskId"]) == []
    assert api.call("DELETE", f"/backups/{made[2]['BackupId']}")[1]["Status"] == "Deleted"


def test_the_sweeper_ends_a_backup_whose_flow_was_killed(product, api, control, si):
    from alibabacloud_fnf20190315 import models as fnf_m

    disk = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0]
    control.faults(stuck=[disk["DiskId"]])
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    fnf = make_fnf(product.endpoint)
    fnf.stop_execution(fnf_m.StopExecutionRequest(flow_name="nestbackup-backup", execution_name=record["BackupId"],
                                                  error="Killed", cause="test"))
    assert sweeper.sweep(wiring())["Finished"] == []            # too young: its flow may still be starting
    swept = sweeper.sweep(wiring(), now=time.time() + sweeper.SWEEP_GRACE_SECONDS + 1)
    assert swept["Finished"] == [record["BackupId"]]
    final = api.call("GET", f"/backups/{record['BackupId']}")[1]
    assert final["Status"] == "CreateFailed" and final["Resources"][0]["ErrorCode"] == "FlowEnded"
    control.clear_faults()
    status, again = api.call("POST", "/backups", {"ServiceInstanceId": si})   # the lock was released
    assert status == 202
    api.wait(again["BackupId"])


def test_an_event_delivered_twice_starts_exactly_one_backup(product, api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    spec = importlib.util.spec_from_file_location("events_index", ROOT / "functions/nestbackup-events/index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    event = {"specversion": "1.0", "id": f"evt-{si}", "source": "acs.computenest",
             "type": "computenest:ServiceInstance:Upgrading", "data": {"serviceInstanceId": si}}
    first = module.handler(json.dumps(event).encode(), None)["Results"][0]
    second = module.handler(json.dumps([event]).encode(), None)["Results"][0]
    assert first["BackupId"] == second["BackupId"]
    status, page = api.call("GET", f"/backups?serviceInstanceId={si}")
    assert len(page["Backups"]) == 1 and "Upgrading" in page["Backups"][0]["Description"]
    assert api.wait(first["BackupId"])["Status"] == "Created"
    other = module.handler(json.dumps({"id": "evt-x", "data": {"foo": 1}}).encode(), None)["Results"][0]
    assert "Skipped" in other
    unknown = module.handler(json.dumps({"id": "evt-y", "data": {"serviceInstanceId": si + "-gone"}}).encode(),
                             None)["Results"][0]
    assert si + "-gone" in unknown["Error"]      # answered, not raised: EventBridge would redeliver it forever


def test_cancel_leaves_no_artifact_behind(product, api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB", Postgres=pg_db[1])
    control.faults(stuck=[d["DiskId"] for d in seeded["Disks"]], op_delay_ms=1500)
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    deadline = time.time() + 30
    while time.time() < deadline:        # wait until the cloud work has started
        current = api.call("GET", f"/backups/{record['BackupId']}")[1]
        if all(r["Status"] == "Running" for r in current["Resources"]):
            break
        time.sleep(0.1)
    status, cancelled = api.call("POST", f"/backups/{record['BackupId']}/cancel")
    assert status == 200 and cancelled["Status"] == "Cancelled", cancelled
    assert {r["Status"] for r in cancelled["Resources"]} == {"Cancelled"}
    assert "left behind:" not in cancelled["StatusDetail"] and "nothing is left behind" in cancelled["StatusDetail"]
    for disk in seeded["Disks"]:
        assert snapshots_of(product.endpoint, disk["DiskId"]) == []
    rds = make_rds(product.endpoint)
    db = seeded["DBInstances"][0]["DBInstanceId"]
    assert not rds.describe_backups(rds_m.DescribeBackupsRequest(dbinstance_id=db)).body.items.backup
    assert api.call("POST", f"/backups/{record['BackupId']}/cancel")[0] == 409      # already over
    control.clear_faults()
    status, again = api.call("POST", "/backups", {"ServiceInstanceId": si})   # the lock was released
    assert status == 202
    api.wait(again["BackupId"])


def test_a_restore_is_cancelled_before_it_touches_data_and_the_instance_runs(product, api, control, si):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    status, backup = api.call("POST", "/backups", {"ServiceInstanceId": si})
    backup = api.wait(backup["BackupId"])
    control.faults(refuse_stop=seeded["InstanceIds"])        # the restore sits in StoppingInstance
    status, restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})
    time.sleep(0.5)
    status, cancelled = api.call("POST", f"/restores/{restore['RestoreId']}/cancel")
    assert status == 200 and cancelled["Status"] == "Cancelled" and "Cancelled" in cancelled["StatusDetail"]
    assert all(r["Status"] != "Succeeded" for r in cancelled["Resources"])


def test_plan_lists_what_a_backup_would_take(product, api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=3, DiskSize="8MiB", Postgres=pg_db[1])
    status, plan = api.call("GET", f"/service-instances/{si}/plan")
    assert status == 200
    ids = {r["ResourceId"]: r for r in plan["Resources"]}
    assert set(ids) == {d["DiskId"] for d in seeded["Disks"]} | {seeded["DBInstances"][0]["DBInstanceId"]}
    assert {ids[d["DiskId"]]["Method"] for d in seeded["Disks"]} == {"SnapshotGroup"}
    assert plan["Estimate"]["DiskGiB"] == 3 and plan["Estimate"]["TotalUSD"] > 0
    done = __import__("tests.e2e.test_backup", fromlist=["run_cli"]).run_cli(
        product.endpoint, "plan", "--instance", si)
    assert done.returncode == 0 and "SnapshotGroup" in done.stdout


def test_leftovers_are_snapshots_tagged_as_ours_that_no_record_owns(product, api, control, si):
    disk = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0]
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    owned = api.wait(record["BackupId"])["Resources"][0]["ArtifactId"]
    ecs = make_ecs(product.endpoint)
    stray = ecs.create_snapshot(ecs_m.CreateSnapshotRequest(
        disk_id=disk["DiskId"], tag=[ecs_m.CreateSnapshotRequestTag(key="nestbackup:backupId",
                                                                     value="backup-000000000000dead0000")])).body
    found = api.documented("GET", "/leftovers")
    ids = {x["ArtifactId"] for x in found["Leftovers"]}
    assert stray.snapshot_id in ids and owned not in ids


def test_the_sweeper_deletes_a_snapshot_whose_record_is_gone_and_keeps_the_owned_one(product, api, control, si):
    disk = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0]
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    owned = api.wait(record["BackupId"])["Resources"][0]["ArtifactId"]
    ecs = make_ecs(product.endpoint)
    stray = ecs.create_snapshot(ecs_m.CreateSnapshotRequest(
        disk_id=disk["DiskId"], tag=[ecs_m.CreateSnapshotRequestTag(key="nestbackup:backupId",
                                                                     value="backup-000000000000beef0000")])).body
    assert stray.snapshot_id not in sweeper.sweep(wiring())["UnwantedArtifactsDeleted"]     # young: left alone
    swept = sweeper.sweep(wiring(), now=time.time() + sweeper.ARTIFACT_GRACE_SECONDS + 60)
    assert stray.snapshot_id in swept["UnwantedArtifactsDeleted"] and owned not in swept["UnwantedArtifactsDeleted"]
    assert [s.snapshot_id for s in snapshots_of(product.endpoint, disk["DiskId"])] == [owned]
    assert api.call("GET", f"/backups/{record['BackupId']}")[1]["Status"] == "Created"


def test_concurrent_deletes_of_one_backup_all_answer_the_record_and_delete_once(product, api, control, si):
    import threading
    control.seed(ServiceInstanceId=si, Disks=3, DiskSize="8MiB")
    record = api.call("POST", "/backups", {"ServiceInstanceId": si})[1]
    assert api.wait(record["BackupId"])["Status"] == "Created"
    control.call("DELETE", "/_local/stats")
    control.faults(latency_ms=150, products=["ecs"])             # the deletes overlap
    answers = []

    def delete():
        answers.append(api.call("DELETE", f"/backups/{record['BackupId']}"))

    threads = [threading.Thread(target=delete) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    control.clear_faults()
    assert [status for status, _ in answers] == [200] * 4, answers
    assert all(body["Status"] in ("Deleting", "Deleted") for _, body in answers), answers
    assert api.call("GET", f"/backups/{record['BackupId']}")[1]["Status"] == "Deleted"
    assert control.stats().get("ecs:DeleteSnapshot", 0) + control.stats().get("ecs:DeleteSnapshotGroup", 0) <= 3
    again = api.call("POST", "/backups", {"ServiceInstanceId": si})           # the lock was released
    assert again[0] == 202 and api.wait(again[1]["BackupId"])["Status"] == "Created"
    assert api.call("DELETE", f"/backups/{record['BackupId']}")[1]["Status"] == "Deleted"    # idempotent


def test_a_late_poll_step_after_the_record_closed_takes_no_lock(product, api, control, si):
    from nestbackup.operations import backup_poll as backups
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    record = api.call("POST", "/backups", {"ServiceInstanceId": si})[1]
    assert api.wait(record["BackupId"])["Status"] == "Created"
    w = wiring()
    out = backups.poll(w, record["BackupId"], 3)                  # a step that ran late, after finalize
    assert out["Done"] is True
    assert w.claims.lock_holder(si, int(time.time() * 1000)) is None
    again = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert again[0] == 202 and api.wait(again[1]["BackupId"])["Status"] == "Created"


def test_a_restore_is_cancelled_while_its_databases_are_restored_and_says_what_was_touched(product, api, control,
                                                                                          si, pg_db):
    import psycopg2
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1])
    rds_id = seeded["DBInstances"][0]["DBInstanceId"]
    backup = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    control.faults(stuck=[rds_id])                        # its restore task never ends: RestoringDatabases
    restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})[1]
    wait_until(lambda: api.call("GET", f"/restores/{restore['RestoreId']}")[1]["Phase"] == "RestoringDatabases")
    status, cancelled = api.call("POST", f"/restores/{restore['RestoreId']}/cancel")
    control.clear_faults()
    assert status == 200 and cancelled["Status"] == "Cancelled", cancelled
    assert "Cancelled" in cancelled["StatusDetail"] and "the live databases are untouched" in cancelled["StatusDetail"]
    assert "no disk was touched" in cancelled["StatusDetail"]          # databases come back before disks are reset
    items = {i["ResourceId"]: i for i in cancelled["Resources"]}
    assert items[rds_id]["Status"] in ("Cancelled", "NotStarted")     # under way, or not asked for yet
    ecs = make_ecs(product.endpoint)
    status = ecs.describe_instances(ecs_m.DescribeInstancesRequest(
        region_id="cn-hangzhou", instance_ids=json.dumps(seeded["InstanceIds"]))).body.instances.instance[0].status
    assert status == "Running"
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname=pg_db[0])
    with conn.cursor() as cur:                            # the live database, in place
        cur.execute("SELECT count(*) FROM t")
        assert cur.fetchone()[0] == 50
    conn.close()
