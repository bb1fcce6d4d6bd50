"""The CLI as an operator on call uses it, end to end against the local cloud: listings with a header row, an engine,
origin and description column, filters and paging, every instance's view; empty states and an unknown instance as
one line and an exit code; delete asks first; --wait gives the id first and survives Ctrl-C; schedules say when
they run next and what their retention would delete."""
from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

from alibabacloud_ecs20140526 import models as ecs_m

from tests.support import make_ecs, wait_until
from tests.support.product import ADMIN, backup_of


def cli(product, *args, token=ADMIN, stdin=subprocess.DEVNULL, timeout=300, env=None):
    """The CLI in its own process, with no terminal on stdin (as in a script or CI)."""
    environ = {**os.environ, "NESTBACKUP_ENDPOINT": product.endpoint + "/api", "NESTBACKUP_TOKEN": token,
               **(env or {})}
    return subprocess.run([sys.executable, "-m", "nestbackup.cli.main", *args], capture_output=True, text=True,
                          env=environ, stdin=stdin, timeout=timeout)


def _failed_backup(api, control, si, disk_id) -> dict:
    control.faults(fail=[disk_id])
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si, "Description": "with a broken disk"})
    assert status == 202, record
    final = api.wait(record["BackupId"])
    control.clear_faults()
    return final


def test_listings_have_headers_engines_origin_filters_paging_and_every_instance(product, api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB", Postgres=pg_db[1])
    first = backup_of(api, si)
    time.sleep(1.1)         # StartTime has whole seconds: `--since failed's start` must leave the first one out
    failed = _failed_backup(api, control, si, seeded["Disks"][0]["DiskId"])
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si, "Description": "before the upgrade"})
    last = api.wait(record["BackupId"])
    assert (first["Status"], failed["Status"], last["Status"]) == ("Created", "PartiallyCreated", "Created")

    listed = cli(product, "backup", "list", "--instance", si)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["BACKUP", "STATUS", "ORIGIN", "CREATED", "ENGINES", "DESCRIPTION"]
    assert [row.split()[0] for row in rows] == [last["BackupId"], failed["BackupId"], first["BackupId"]]
    assert "user" in rows[0] and "2 disks, PostgreSQL" in rows[0] and rows[0].endswith("before the upgrade")
    assert "(2 failed)" in rows[1] and "failed" not in rows[0]          # the two disks are one snapshot group

    only_failed = cli(product, "backup", "list", "--instance", si, "--status", "PartiallyCreated")
    assert [row.split()[0] for row in only_failed.stdout.splitlines()[1:]] == [failed["BackupId"]]
    since = cli(product, "backup", "list", "--instance", si, "--since", failed["StartTime"], "--json")
    assert [b["BackupId"] for b in json.loads(since.stdout)["Backups"]] == [last["BackupId"], failed["BackupId"]]
    nothing = cli(product, "backup", "list", "--instance", si, "--since", "2099-01-01")
    assert nothing.returncode == 0 and nothing.stdout.strip() == f"No backups match these filters for {si}."

    page = cli(product, "backup", "list", "--instance", si, "--max-results", "2")
    assert len(page.stdout.splitlines()) == 3 and "--next-token" in page.stderr
    token = json.loads(cli(product, "backup", "list", "--instance", si, "--max-results", "2", "--json").stdout)[
        "NextToken"]
    rest = json.loads(cli(product, "backup", "list", "--instance", si, "--next-token", token, "--json").stdout)
    assert [b["BackupId"] for b in rest["Backups"]] == [first["BackupId"]] and rest["NextToken"] is None

    across = cli(product, "backup", "list", "--all")                 # the admin's view: every instance
    header, *rows = across.stdout.splitlines()
    assert header.split()[:3] == ["BACKUP", "INSTANCE", "STATUS"]
    assert {row.split()[0]: row.split()[1] for row in rows}[last["BackupId"]] == si


def test_empty_states_and_an_unknown_instance(product, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    empty = cli(product, "backup", "list", "--instance", si)
    assert empty.returncode == 0
    assert empty.stdout.strip() == f"No backups of {si} yet. Start one: nestbackup backup create --instance {si}"
    assert cli(product, "restore", "list", "--instance", si).stdout.startswith(f"No restores of {si} yet.")
    for command in (("backup", "list"), ("restore", "list")):
        unknown = cli(product, *command, "--instance", "si-nobody-knows")
        assert unknown.returncode == 1 and unknown.stdout == ""
        [line] = unknown.stderr.splitlines()
        assert line.startswith("nestbackup: NotFound: no service instance si-nobody-knows")
    refused = cli(product, "schedule", "set", "--instance", "si-nobody-knows", "--cron", "0 3 * * *")
    assert refused.returncode == 1 and len(refused.stderr.splitlines()) == 1 and "NotFound" in refused.stderr


def test_delete_asks_first_and_refuses_without_a_terminal_unless_yes(product, api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    record = backup_of(api, si)
    refused = cli(product, "backup", "delete", record["BackupId"])
    assert refused.returncode == 1 and "--yes" in refused.stderr and len(refused.stderr.splitlines()) == 1
    assert api.call("GET", f"/backups/{record['BackupId']}")[1]["Status"] == "Created"    # nothing deleted
    declined = _on_a_terminal(product, ["backup", "delete", record["BackupId"]], answer=b"n\n")
    assert "Delete backup " + record["BackupId"] in declined[0] and declined[1] == 1
    assert api.call("GET", f"/backups/{record['BackupId']}")[1]["Status"] == "Created"
    deleted = cli(product, "--yes", "backup", "delete", record["BackupId"])                # a global flag, first
    assert deleted.returncode == 0, deleted.stderr
    assert api.call("GET", f"/backups/{record['BackupId']}")[1]["Status"] == "Deleted"


def _on_a_terminal(product, args, answer: bytes, columns: int = 80) -> tuple[str, int]:
    """The CLI with a terminal on stdin and stderr (80 columns), typing `answer`; (what the terminal shows, exit)."""
    env = {**os.environ, "NESTBACKUP_ENDPOINT": product.endpoint + "/api", "NESTBACKUP_TOKEN": ADMIN,
           "COLUMNS": str(columns), "TERM": "xterm"}
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "nestbackup.cli.main", *args], stdin=secondary,
                            stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    screen = b""
    sent = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.3)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
            if not sent and b"[y/N]" in screen:
                os.write(primary, answer)
                sent = True
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=60)
    os.close(primary)
    return screen.decode(errors="replace"), code


def test_wait_prints_the_id_first_survives_ctrl_c_and_reattaches(product, api, control, si):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB")
    stuck = seeded["Disks"][0]["DiskId"]
    control.faults(stuck=[stuck])                              # the backup runs until the fault is cleared
    env = {**os.environ, "NESTBACKUP_ENDPOINT": product.endpoint + "/api", "NESTBACKUP_TOKEN": ADMIN}
    proc = subprocess.Popen([sys.executable, "-m", "nestbackup.cli.main", "backup", "create", "--instance", si,
                             "--wait"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    first = proc.stderr.readline()
    assert first.startswith("backup backup-") and "Ctrl-C stops following, not the backup" in first
    backup_id = first.split()[1]
    deadline = time.monotonic() + 60
    while api.call("GET", f"/backups/{backup_id}")[1]["Resources"][0]["Status"] == "Pending":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Aborted" not in err and "Traceback" not in err
    assert f"stopped following {backup_id}; the backup goes on" in err
    assert f"nestbackup backup wait {backup_id}" in err and out == ""
    assert api.call("GET", f"/backups/{backup_id}")[1]["Status"] == "Creating"      # it went on

    again = subprocess.Popen([sys.executable, "-m", "nestbackup.cli.main", "backup", "wait", backup_id, "--json"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             text=True)
    assert again.stderr.readline().startswith(f"backup {backup_id} of {si}: Creating; following it")
    control.clear_faults()                                     # the stuck disk's snapshot completes
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert json.loads(out)["Status"] == "Created"
    done = cli(product, "backup", "wait", backup_id)                  # a final backup: printed at once
    assert done.returncode == 0 and done.stdout.startswith(f"{backup_id}  Created") and done.stderr == ""


def test_a_waiting_resource_shows_why_and_by_when(product, api, control, si):
    """A snapshot of the disk is being made when the backup starts (as an automatic snapshot policy would): the
    disk waits, and `show` says why and by when it must start."""
    disk = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="1MiB")["Disks"][0]["DiskId"]
    control.faults(pace_ms={disk: 4000})
    make_ecs(product.endpoint).create_snapshot(ecs_m.CreateSnapshotRequest(disk_id=disk, snapshot_name="policy-made"))
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    wait_until(lambda: api.call("GET", f"/backups/{record['BackupId']}")[1]["Resources"][0].get("WaitReason"),
               timeout=30)
    shown = cli(product, "backup", "show", record["BackupId"])
    [line] = [row for row in shown.stdout.splitlines() if disk in row]
    assert "waiting: IncorrectDiskStatus.CreatingSnapshot" in line and "must start by 20" in line
    assert api.wait(record["BackupId"])["Status"] == "Created"


def test_ids_are_never_cut_in_the_live_table_at_80_columns(product, api, control, si):
    """A long cause beside them used to squeeze the resource and artifact columns into "d-l9v30wg1bukrr8…"."""
    disks = [control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")["Disks"][0] for _ in range(2)]  # 2 ECS
    control.faults(reject={disks[0]["DiskId"]: "IncorrectDiskStatus"})
    screen, code = _on_a_terminal(product, ["backup", "create", "--instance", si, "--wait"], answer=b"")
    assert code == 4, screen[-2000:]        # PartiallyCreated (docs/statuses.md)
    backup_id = re.search(r"backup-[0-9a-f]{20}", screen).group(0)
    record = api.call("GET", f"/backups/{backup_id}")[1]
    good = next(r for r in record["Resources"] if r["Status"] == "Succeeded")
    rows = [line for line in screen.splitlines() if good["ResourceId"] in line]
    assert rows and good["ArtifactId"] in rows[-1]                 # the last frame: id and artifact, whole, one row
    assert disks[0]["DiskId"] in screen and "IncorrectDiskStatus" in screen


def test_global_flags_anywhere(product, api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    record = backup_of(api, si)
    for args in (["--json", "backup", "show", record["BackupId"]],
                 ["backup", "--json", "show", record["BackupId"]],
                 ["--endpoint", product.endpoint + "/api", "backup", "show", record["BackupId"], "--json"]):
        done = cli(product, *args, env={"NESTBACKUP_ENDPOINT": "http://127.0.0.1:9/api"} if "--endpoint" in args
                   else None)
        assert done.returncode == 0, (args, done.stderr)
        assert json.loads(done.stdout)["BackupId"] == record["BackupId"]


def test_a_schedule_says_when_it_runs_next_and_what_its_retention_would_delete(product, api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    older, newer = backup_of(api, si), backup_of(api, si)
    set_ = cli(product, "schedule", "set", "--instance", si, "--cron", "0 3 * * *", "--keep-last", "1")
    assert set_.returncode == 0, set_.stderr
    assert "last run   never" in set_.stdout and "last fired" not in set_.stdout
    assert "next run   20" in set_.stdout and "T03:00:00Z" in set_.stdout
    dry = cli(product, "schedule", "retention", "--instance", si)
    assert dry.returncode == 0, dry.stderr
    assert "1 backup(s) would be deleted, 1 kept; nothing was deleted" in dry.stdout
    assert older["BackupId"] in dry.stdout and newer["BackupId"] not in dry.stdout
    assert api.call("GET", f"/backups/{older['BackupId']}")[1]["Status"] == "Created"
    assert "nothing would be deleted" in cli(product, "schedule", "retention", "--instance", si, "--keep-last",
                                             "5").stdout
    refused = cli(product, "schedule", "delete", "--instance", si)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert cli(product, "schedule", "delete", "--instance", si, "--confirm").returncode == 0      # velero's flag


def test_restore_wait_reattaches_and_the_restore_listing_has_its_header(product, api, control, si):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    record = backup_of(api, si)
    started = cli(product, "restore", "create", "--backup", record["BackupId"], "--no-safety-backup", "--json")
    assert started.returncode == 0, started.stderr
    restore_id = json.loads(started.stdout)["RestoreId"]
    done = cli(product, "restore", "wait", restore_id, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Status"] == "Restored"
    listed = cli(product, "restore", "list", "--instance", si)
    header, row = listed.stdout.splitlines()
    assert header.split() == ["RESTORE", "STATUS", "PHASE", "FROM", "BACKUP", "CREATED"]
    assert row.split()[:4] == [restore_id, "Restored", "Done", record["BackupId"]]
    safety = cli(product, "backup", "list", "--instance", si, "--status", "Created", "--json")
    assert {b["Origin"] for b in json.loads(safety.stdout)["Backups"]} == {"user"}      # no safety backup asked
