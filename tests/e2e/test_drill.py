"""Drills end to end, with real PostgreSQL and MariaDB databases and real disk images: a drill restores every
artifact of a backup into scratch (databases under scratch names on their own server, each snapshot into a new disk
whose blocks the local cloud checks against the digests recorded at backup time), checks them, and leaves nothing
behind; a drill killed in the middle is cleaned up by the sweeper."""
import json
import time

import psycopg2
import pymysql

from nestbackup.model.ids import DRILL_TAG
from nestbackup.operations import drill as drills
from nestbackup.operations import drill_steps
from tests.support.crashes import Killed, KilledOnFirstItemWrite, wiring_without_flow
from tests.support.product import backup_of, instance_status, run_cli, snapshots_of


def _pg_family(name):
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (name + "%",))
        return sorted(r[0] for r in cur.fetchall())


def _my_family(name):
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s", (name + "%",))
            return sorted(r[0] for r in cur.fetchall())
    finally:
        conn.close()


def _nothing_left(product, w, drill_id, seeded, pg_name, my_name):
    assert w.ecs.disks_tagged(DRILL_TAG, drill_id) == []                 # no scratch disk
    assert _pg_family(pg_name) == [pg_name] and _my_family(my_name) == [my_name]   # no scratch database
    for disk in seeded["Disks"]:                                          # no snapshot beyond the backup's
        assert len(snapshots_of(product.endpoint, disk["DiskId"])) == 1


def test_a_drill_passes_proves_the_backup_and_leaves_no_scratch_database_disk_or_snapshot(
        product, api, control, si, pg_db, my_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB", Postgres=pg_db[1], MySQL=my_db[1])
    backup = backup_of(api, si)
    status, drill = api.call("POST", "/drills", {"BackupId": backup["BackupId"]})
    assert status == 202 and drill["Status"] == "Running", drill
    deadline = time.monotonic() + 60
    while drill["Status"] == "Running" and time.monotonic() < deadline:
        time.sleep(0.2)
        drill = api.call("GET", f"/drills/{drill['DrillId']}")[1]
    assert drill["Status"] == "Passed", drill
    items = {r["ResourceType"]: r for r in drill["Resources"]}
    assert all(r["Status"] == "Succeeded" and r["CleanedUp"] and r["DurationSeconds"] is not None
               for r in drill["Resources"])
    assert "match the backup" in next(r for r in drill["Resources"] if r["ResourceType"] == "rds")["Verification"]
    assert items["disk"]["ScratchDiskId"] not in {d["DiskId"] for d in seeded["Disks"]}
    assert drill["DurationSeconds"] is not None and drill["BackupSeconds"] is not None
    assert instance_status(product.endpoint, seeded["InstanceIds"][0]) == "Running"
    _nothing_left(product, wiring_without_flow(), drill["DrillId"], seeded, pg_db[0], my_db[0])
    assert api.call("GET", f"/backups/{backup['BackupId']}")[1]["LastDrill"] == drill["EndTime"]
    listed = api.call("GET", f"/drills?serviceInstanceId={si}")[1]
    assert [d["DrillId"] for d in listed["Drills"]] == [drill["DrillId"]]

    # The CLI: --wait follows it and exits with the status's code (0 Passed); a refused request exits 1, one line.
    out = run_cli(product.endpoint, "drill", "create", "--backup", backup["BackupId"], "--wait", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Status"] == "Passed"
    shown = run_cli(product.endpoint, "drill", "list", "--instance", si)
    assert shown.returncode == 0 and shown.stdout.count("Passed") == 2
    refused = run_cli(product.endpoint, "drill", "create", "--backup", "backup-0000000000000000")
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    _nothing_left(product, wiring_without_flow(), json.loads(out.stdout)["DrillId"], seeded, pg_db[0], my_db[0])


def test_a_drill_killed_in_the_middle_is_cleaned_up_and_closed_by_the_sweeper(product, control, si, pg_db, my_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1], MySQL=my_db[1])
    w = wiring_without_flow()
    from nestbackup.operations import backup as backups
    from nestbackup.operations import backup_finalize, backup_poll, backup_start
    backup_id = backups.create_backup(w, si)["BackupId"]
    backup_start.start_batch(w, backup_id, 0)
    while backup_poll.poll(w, backup_id)["Done"] is False:
        time.sleep(0.1)
    assert backup_finalize.finalize(w, backup_id)["Status"] == "Created"

    drill = drills.create_drill(w, backup_id)
    killed = wiring_without_flow()
    killed.records = KilledOnFirstItemWrite(w.records)
    try:                                  # dies right after asking for the scratch disk and databases
        drill_steps.advance(killed, drill["DrillId"])
        raise AssertionError("the step was not killed")
    except Killed:
        pass
    assert drills.get_drill(w, drill["DrillId"])["Status"] == "Running"
    deadline = time.monotonic() + 15       # what the dead step asked for is being made
    while not w.ecs.disks_tagged(DRILL_TAG, drill["DrillId"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert w.ecs.disks_tagged(DRILL_TAG, drill["DrillId"]), "the killed step made no scratch disk"

    after = wiring_without_flow()          # its flow is gone: the sweeper finds the drill and closes it
    assert drill_steps.sweep_drills(after, now=time.time() + drill_steps.SWEEP_GRACE_SECONDS + 1) == [
        drill["DrillId"]]
    final = drills.get_drill(w, drill["DrillId"])
    assert final["Status"] == "Failed" and final["CleanedUp"] and "FlowEnded" in final["StatusDetail"]
    _nothing_left(product, w, drill["DrillId"], seeded, pg_db[0], my_db[0])
    assert instance_status(product.endpoint, seeded["InstanceIds"][0]) == "Running"


def test_a_snapshot_whose_blocks_no_longer_match_their_backup_time_digests_fails_the_drill(product, api, control, si):
    """The local cloud builds a scratch disk block by block, each checked against the SHA-256 recorded when the
    snapshot was taken: a block changed since (bit rot, a tampered store) fails the drill, naming the disk."""
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    backup = backup_of(api, si)
    (item,) = backup["Resources"]
    digests = product.cloud.store.query("SELECT digests FROM ecs_manifests WHERE snapshot_id = ?",
                                        (item["ArtifactId"],))[0][0]
    first_block = product.cloud.ecs.blocks.path(digests[:32])        # the disk's header: unique to this disk
    first_block.write_bytes(b"rotten" + first_block.read_bytes()[6:])
    status, drill = api.call("POST", "/drills", {"BackupId": backup["BackupId"]})
    assert status == 202, drill
    deadline = time.monotonic() + 30
    while drill["Status"] == "Running" and time.monotonic() < deadline:
        time.sleep(0.2)
        drill = api.call("GET", f"/drills/{drill['DrillId']}")[1]
    assert drill["Status"] == "Failed", drill
    assert drill["StatusDetail"].startswith(f"{item['ResourceId']} ScratchDiskFailed"), drill["StatusDetail"]
    assert drill["CleanedUp"] and wiring_without_flow().ecs.disks_tagged(DRILL_TAG, drill["DrillId"]) == []
    assert api.call("GET", f"/backups/{backup['BackupId']}")[1]["LastDrill"] is None
    assert len(snapshots_of(product.endpoint, seeded["Disks"][0]["DiskId"])) == 1
