"""The databases port's contract (RDS): MemoryDatabases and adapters/rds.py against the local cloud's RDS over a real
PostgreSQL database."""
import time

import pytest

from nestbackup.errors import CloudError
from nestbackup.ports.databases import DbEncryption
from tests.support.contracts import eventually


def test_a_tagged_primary_is_found_with_its_databases(databases):
    found = databases.port.instances_tagged(databases.tag_key, databases.si)
    assert [(i.db_instance_id, i.engine, i.primary) for i in found] == [(databases.rid, "PostgreSQL", True)]
    assert databases.port.describe_instances([databases.rid, "rm-unknown0000"]).keys() == {databases.rid}
    assert databases.database in [d.name for d in databases.port.databases(databases.rid)]
    assert [d.name for d in databases.port.databases(databases.rid, databases.database)] == [databases.database]
    assert databases.port.instance_status(databases.rid) == "Running"


def test_a_backup_job_ends_in_a_set_that_is_listed_since_it_started(databases):
    since = time.time()
    job_id = databases.port.create_backup(databases.rid)
    job = eventually(lambda: (j := databases.port.backup_job(databases.rid, job_id)) and j.finished and j)
    assert job and job.backup_id and job.progress == 100
    backup_set = databases.port.backup_set(databases.rid, job.backup_id)
    assert backup_set.succeeded and backup_set.size_bytes
    assert job.backup_id in databases.port.manual_backups_since(databases.rid, since)
    assert databases.port.running_backup_jobs(databases.rid) == []
    databases.port.delete_backup(databases.rid, job.backup_id)
    assert databases.port.backup_set(databases.rid, job.backup_id) is None
    with pytest.raises(CloudError) as err:
        databases.port.delete_backup(databases.rid, job.backup_id)
    assert err.value.code == "InvalidBackupId.NotFound"


def test_a_second_backup_while_one_runs_is_a_refusal_to_wait_out(databases):
    databases.hold()
    try:
        first = databases.port.create_backup(databases.rid)
        assert [j.job_id for j in databases.port.running_backup_jobs(databases.rid)] == [first]
        with pytest.raises(CloudError) as err:
            databases.port.create_backup(databases.rid)
        assert databases.port.backup_must_wait(err.value)
    finally:
        databases.release()
    assert eventually(lambda: (j := databases.port.backup_job(databases.rid, first)) and j.finished)


def test_a_restore_into_a_new_name_lists_the_new_database_once_the_task_is_over(databases):
    job_id = databases.port.create_backup(databases.rid)
    job = eventually(lambda: (j := databases.port.backup_job(databases.rid, job_id)) and j.finished and j)
    new_name = databases.database + "__rst_c"
    since = time.time()
    databases.port.restore_table(databases.rid, job.backup_id, [{"type": "db", "name": databases.database, "newname": new_name}],
                            "restore-" + databases.si)
    databases.port.restore_table(databases.rid, job.backup_id, [{"type": "db", "name": databases.database, "newname": new_name}],
                            "restore-" + databases.si)                 # the same ClientToken: one restore

    def over():
        tasks = databases.port.restore_tasks(databases.rid, since)
        return databases.port.instance_status(databases.rid) == "Running" and tasks and not any(t.unfinished for t in tasks)

    assert eventually(over)
    assert [(d.name, d.running) for d in databases.port.databases(databases.rid, new_name)] == [(new_name, True)]
    assert databases.database in [d.name for d in databases.port.databases(databases.rid)]      # the live one untouched


def test_a_database_is_deleted_and_the_storage_in_use_is_told(databases):
    job_id = databases.port.create_backup(databases.rid)
    job = eventually(lambda: (j := databases.port.backup_job(databases.rid, job_id)) and j.finished and j)
    scratch = databases.database + "__rst_d"
    since = time.time()
    databases.port.restore_table(databases.rid, job.backup_id,
                                 [{"type": "db", "name": databases.database, "newname": scratch}], "drill-" + databases.si)
    assert eventually(lambda: (t := databases.port.restore_tasks(databases.rid, since)) and not any(
        x.unfinished for x in t) and databases.port.databases(databases.rid, scratch))
    used = databases.port.disk_used_bytes(databases.rid)
    assert used is not None and used > 0
    assert int(databases.port.attribute(databases.rid)["DBInstanceStorage"]) > 0
    databases.port.delete_database(databases.rid, scratch)
    assert databases.port.databases(databases.rid, scratch) == []
    assert databases.database in [d.name for d in databases.port.databases(databases.rid)]      # the live one stays


def test_an_instance_says_its_tde_and_its_disk_encryption_key(databases):
    assert databases.port.describe_encryption(databases.rid) == DbEncryption(False, None, "")
    databases.encrypt("key-tde-1", "key-disk-1")
    assert databases.port.describe_encryption(databases.rid) == DbEncryption(True, "key-tde-1", "key-disk-1")


def test_an_instance_without_log_backup_has_no_restore_window_and_refuses_a_restore_to_a_second(databases):
    window = databases.port.restore_window(databases.rid)
    assert (window.log_backup, window.begin, window.end) == (False, None, None)
    second = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    with pytest.raises(CloudError) as err:
        databases.port.restore_table(databases.rid, "", [{"type": "db", "name": databases.database,
                                                          "newname": databases.database + "__pitr_c"}],
                                     "pitr-" + databases.si, second)
    assert (err.value.code, err.value.http_status) == ("InvalidParameter", 400)
    assert "RestoreTime" in err.value.message
    assert databases.database + "__pitr_c" not in [d.name for d in databases.port.databases(databases.rid)]


def test_a_restore_to_a_second_brings_back_what_was_logged_before_it_and_nothing_after(databases):
    databases.log_backup_on()
    assert databases.port.restore_window(databases.rid).log_backup
    job_id = databases.port.create_backup(databases.rid)
    assert eventually(lambda: (j := databases.port.backup_job(databases.rid, job_id)) and j.finished, timeout=120)
    chosen = databases.written_around_a_second(3, 4)
    window = databases.port.restore_window(databases.rid)
    assert window.begin and window.end and window.begin <= chosen <= window.end, window
    new_name = databases.database + "__pit_c"
    since = time.time()
    databases.port.restore_table(databases.rid, "", [{"type": "db", "name": databases.database, "newname": new_name}],
                                 "pit-" + databases.si, chosen)

    def over():
        tasks = databases.port.restore_tasks(databases.rid, since)
        return databases.port.instance_status(databases.rid) == "Running" and tasks and \
            not any(t.unfinished for t in tasks)

    assert eventually(over, timeout=120)
    assert [(d.name, d.running) for d in databases.port.databases(databases.rid, new_name)] == [(new_name, True)]
    assert databases.rows(new_name) == [1, 2, 3]
    assert databases.rows(databases.database) == [1, 2, 3, 4]
