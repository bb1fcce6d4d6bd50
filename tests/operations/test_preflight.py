"""The doctor's database check on the in-memory ports (operations/preflight.py, which the db-rename function runs
when invoked with {"Preflight": si}): one check per RDS instance whose account has what the swap needs, one per gap
with the GRANT that fixes it, and the RDS backup-set quota of cli/preflight.py. The real gateway's side is in
tests/contracts/test_database_gateway_contract.py, the doctor's against the local cloud in
tests/deploy/test_doctor_databases.py."""
import time

import pytest

from nestbackup.cli.doctor import Report
from nestbackup.cli.preflight import RDS_BACKUP_SETS_PER_DAY, check_instances
from nestbackup.errors import NotFound, ValidationError
from nestbackup.operations.preflight import database_privileges
from tests.support.memory.wiring import MemoryWiring


def test_an_account_with_every_privilege_passes_and_one_without_is_told_the_grant():
    w = MemoryWiring()
    seeded = w.seed("si-pre", databases={"MySQL": {"app": {"t": [1]}}, "PostgreSQL": {"crm": {"t": []}}})
    checks = database_privileges(w, "si-pre")["Checks"]
    assert [(c["DBInstanceId"], c["Ok"], c["Databases"]) for c in checks] == [
        (seeded["DBInstances"][0], True, ["app"]), (seeded["DBInstances"][1], True, ["crm"])]

    mysql = seeded["DBInstances"][0]
    w.db_grants[mysql] = {"": {"SELECT"}, "app": {"SELECT", "INSERT"}}
    failed = [c for c in database_privileges(w, "si-pre")["Checks"] if not c["Ok"]]
    assert [(c["DBInstanceId"], c["Database"]) for c in failed] == [(mysql, ""), (mysql, "app")]
    assert "DROP" in failed[1]["Missing"] and "INSERT" not in failed[1]["Missing"]
    assert failed[1]["Fix"].startswith("GRANT UPDATE, CREATE, DROP, ALTER") and "ON `app`.* TO" in failed[1]["Fix"]
    assert failed[1]["Problem"].startswith("the account lacks UPDATE") and "on database app" in failed[1]["Problem"]


def test_an_instance_without_an_account_is_one_failed_check_with_its_fix():
    w = MemoryWiring()
    seeded = w.seed("si-noacct", databases={"MySQL": {"app": {"t": [1]}}})

    def no_account(db_instance_id, engine):
        raise ValidationError(f"no database account for {db_instance_id} ({engine})")

    w.database = no_account                                   # type: ignore[method-assign]
    checks = database_privileges(w, "si-noacct")["Checks"]
    assert [(c["DBInstanceId"], c["Ok"]) for c in checks] == [(seeded["DBInstances"][0], False)]
    assert "NESTBACKUP_DB_ACCOUNTS_SECRET" in checks[0]["Fix"]


def test_an_unknown_service_instance_is_not_found():
    with pytest.raises(NotFound):
        database_privileges(MemoryWiring(), "si-nobody")


@pytest.mark.parametrize("taken, failed", [(RDS_BACKUP_SETS_PER_DAY - 1, False), (RDS_BACKUP_SETS_PER_DAY, True)])
def test_an_rds_instance_with_the_days_backup_sets_made_fails_the_quota_check(taken, failed):
    """CreateBackup: at most 20 backup sets an instance a day; the manual ones of the last 24 hours are counted (a
    set older than that does not count)."""
    w = MemoryWiring()
    rid = w.seed("si-sets", disks_per_instance=0, databases={"PostgreSQL": {"crm": {"t": []}}})["DBInstances"][0]
    now = time.time()
    for n in range(taken):
        w.rds.sets[f"set-{n}"] = {"instance": rid, "mode": "Manual", "status": "Success", "started": now - 60 * n}
    w.rds.sets["old"] = {"instance": rid, "mode": "Manual", "status": "Success", "started": now - 25 * 3600}
    report = Report()
    check_instances(report, w, ["si-sets"])
    quota = [line for line in report.lines if "backup sets" in line]
    if failed:
        assert quota == [f"QUOTA     RDS {rid} of si-sets made {taken} manual backup sets in the last 24 hours, the "
                         f"most RDS takes a day (20): a backup now would be refused - fix: wait, and keep schedules "
                         f"at least NESTBACKUP_SCHEDULE_MIN_INTERVAL_MINUTES apart"]
    else:
        assert quota == [f"ok        RDS {rid} of si-sets: {taken} of 20 backup sets a day"]


def test_each_rds_instance_says_whether_it_can_be_restored_to_a_second():
    """Issue 21's doctor list: log backup for a later point-in-time restore. Off: a note saying restores to a
    second are refused and how to have them (never a failure: backups do not need it); on: the reachable range."""
    w = MemoryWiring()
    rid = w.seed("si-logs", disks_per_instance=0, databases={"MySQL": {"shop": {"t": [1]}}})["DBInstances"][0]
    w.rds.instances[rid]["log_backup"] = False
    report = Report()
    check_instances(report, w, ["si-logs"])
    assert f"ok        RDS {rid} of si-logs: note: log backup is off, so restores to a second (restore create " \
           f"--time) are refused - to have them: turn on log backup in its backup settings" in report.lines
    w.rds.instances[rid]["log_backup"] = True
    report = Report()
    check_instances(report, w, ["si-logs"])
    assert f"ok        RDS {rid} of si-logs: log backup on; restorable to a second once a backup set exists" \
        in report.lines
    assert not report.failed
