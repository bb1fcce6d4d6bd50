"""The databases port's contract (RDS): MemoryDatabases and adapters/rds.py against the local cloud's RDS over a real
PostgreSQL database."""
import time
import uuid

import psycopg2
import pytest

from nestbackup.adapters.rds import VERSION, Rds
from nestbackup.errors import CloudError
from tests.support import PG_DSN
from tests.support.contracts import IMPLEMENTATIONS, World, eventually, rpc


@pytest.fixture
def pg_database():
    name = "nbc_" + uuid.uuid4().hex[:10]
    admin = psycopg2.connect(PG_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    with psycopg2.connect(PG_DSN.rsplit("/", 1)[0] + "/" + name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id int)")
        cur.execute("INSERT INTO t VALUES (1), (2)")
    yield name
    with admin.cursor() as cur:                   # the database and every copy restored beside it
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (name + "%",))
        for (db,) in cur.fetchall():
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    admin.close()


@pytest.fixture(params=IMPLEMENTATIONS)
def world(request, pg_database):
    world = World(request.param, request)
    if world.kind == "memory":
        world.rds = world.memory.rds
        world.rid = world.memory.seed(world.si, instances=0,
                                      databases={"PostgreSQL": {pg_database: {"t": [1, 2]}}})["DBInstances"][0]
        world.hold = lambda: setattr(world.rds, "steps", 0)
        world.release = lambda: (setattr(world.rds, "steps", 1), world.rds.finish())
    else:
        world.rds = Rds(rpc(world.endpoint, VERSION))
        dsn = PG_DSN.rsplit("/", 1)[0] + f"/postgres?databases={pg_database}"
        world.rid = world.control.seed(ServiceInstanceId=world.si, Disks=0, Postgres=dsn)["DBInstances"][0][
            "DBInstanceId"]
        world.hold = lambda: world.control.faults(stuck=[world.rid])
        world.release = world.control.clear_faults
    world.database = pg_database
    return world


def test_a_tagged_primary_is_found_with_its_databases(world):
    found = world.rds.instances_tagged(world.tag_key, world.si)
    assert [(i.db_instance_id, i.engine, i.primary) for i in found] == [(world.rid, "PostgreSQL", True)]
    assert world.rds.describe_instances([world.rid, "rm-unknown0000"]).keys() == {world.rid}
    assert world.database in [d.name for d in world.rds.databases(world.rid)]
    assert [d.name for d in world.rds.databases(world.rid, world.database)] == [world.database]
    assert world.rds.instance_status(world.rid) == "Running"


def test_a_backup_job_ends_in_a_set_that_is_listed_since_it_started(world):
    since = time.time()
    job_id = world.rds.create_backup(world.rid)
    job = eventually(lambda: (j := world.rds.backup_job(world.rid, job_id)) and j.finished and j)
    assert job and job.backup_id and job.progress == 100
    backup_set = world.rds.backup_set(world.rid, job.backup_id)
    assert backup_set.succeeded and backup_set.size_bytes
    assert job.backup_id in world.rds.manual_backups_since(world.rid, since)
    assert world.rds.running_backup_jobs(world.rid) == []
    world.rds.delete_backup(world.rid, job.backup_id)
    assert world.rds.backup_set(world.rid, job.backup_id) is None
    with pytest.raises(CloudError) as err:
        world.rds.delete_backup(world.rid, job.backup_id)
    assert err.value.code == "InvalidBackupId.NotFound"


def test_a_second_backup_while_one_runs_is_a_refusal_to_wait_out(world):
    world.hold()
    try:
        first = world.rds.create_backup(world.rid)
        assert [j.job_id for j in world.rds.running_backup_jobs(world.rid)] == [first]
        with pytest.raises(CloudError) as err:
            world.rds.create_backup(world.rid)
        assert world.rds.backup_must_wait(err.value)
    finally:
        world.release()
    assert eventually(lambda: (j := world.rds.backup_job(world.rid, first)) and j.finished)


def test_a_restore_into_a_new_name_lists_the_new_database_once_the_task_is_over(world):
    job_id = world.rds.create_backup(world.rid)
    job = eventually(lambda: (j := world.rds.backup_job(world.rid, job_id)) and j.finished and j)
    new_name = world.database + "__rst_c"
    since = time.time()
    world.rds.restore_table(world.rid, job.backup_id, [{"type": "db", "name": world.database, "newname": new_name}],
                            "restore-" + world.si)
    world.rds.restore_table(world.rid, job.backup_id, [{"type": "db", "name": world.database, "newname": new_name}],
                            "restore-" + world.si)                 # the same ClientToken: one restore

    def over():
        tasks = world.rds.restore_tasks(world.rid, since)
        return world.rds.instance_status(world.rid) == "Running" and tasks and not any(t.unfinished for t in tasks)

    assert eventually(over)
    assert [(d.name, d.running) for d in world.rds.databases(world.rid, new_name)] == [(new_name, True)]
    assert world.database in [d.name for d in world.rds.databases(world.rid)]      # the live one untouched
