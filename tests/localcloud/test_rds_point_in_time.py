"""RestoreTable to a second through the unmodified SDK, on the real MariaDB server: the local RDS loads the newest set
that ended before the second and replays the database's row-based binary log up to it; what it cannot reach it
refuses (DescribeBackupPolicy EnableBackupLog and DescribeLocalAvailableRecoveryTime say so first)."""
from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timezone

import psycopg2
import pymysql
import pytest
from alibabacloud_rds20140815 import models as m

from tests.localcloud.test_rds import backup_now, code_of, dsn_with, tag, wait_db
from tests.support import MYSQL_DSN, PG_DSN


def my(db: str | None, *statements: str) -> list:
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", database=db, autocommit=True)
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.close()


@pytest.fixture(scope="module")
def cloud(cloud_server):
    return cloud_server.cloud


@pytest.fixture
def app():
    name = f"pit_{secrets.token_hex(5)}"
    my(None, f"CREATE DATABASE `{name}`")
    my(name, "CREATE TABLE t (id int PRIMARY KEY, v varchar(20))", "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    yield name
    for (db,) in my(None, f"SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE '{name}%'"):
        my(None, f"DROP DATABASE `{db}`")


def next_second() -> None:
    time.sleep(1.05 - time.time() % 1)


def second(epoch: float) -> str:
    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def window(rds, inst: str) -> tuple[str, str]:
    body = rds.describe_local_available_recovery_time(
        m.DescribeLocalAvailableRecoveryTimeRequest(dbinstance_id=inst)).body
    return body.recovery_begin_time, body.recovery_end_time


def to_second(rds, inst: str, when: str, meta: list) -> None:
    rds.restore_table(m.RestoreTableRequest(dbinstance_id=inst, restore_time=when, table_meta=json.dumps(meta),
                                            client_token=secrets.token_hex(8)))


def test_a_mysql_database_restored_to_a_second_has_every_change_logged_before_it_and_none_after(cloud, rds, app):
    inst = cloud.rds.create_instance("MySQL", dsn_with(MYSQL_DSN, [app]), tag())["DBInstanceId"]
    policy = rds.describe_backup_policy(m.DescribeBackupPolicyRequest(dbinstance_id=inst)).body
    assert policy.enable_backup_log == "1"
    assert window(rds, inst) == ("", "")                  # no set yet: nothing to start from
    backup_now(rds, inst)
    next_second()
    my(app, "INSERT INTO t VALUES (3, 'before')", "UPDATE t SET v = 'b2' WHERE id = 2",
       "CREATE TABLE later (id int)", "INSERT INTO later VALUES (7)")
    next_second()
    chosen = second(time.time())
    next_second()
    my(app, "INSERT INTO t VALUES (4, 'after')", "DELETE FROM t WHERE id = 1", "DROP TABLE later")
    begin, end = window(rds, inst)
    assert begin <= chosen <= end

    new = f"{app}_pit"
    assert code_of(lambda: to_second(rds, inst, chosen, [{"type": "db", "name": app, "newname": new, "tables": [
        {"type": "table", "name": "t", "newname": "t"}]}])) == ("InvalidParameter", 400)
    assert code_of(lambda: to_second(rds, inst, "yesterday", [{"type": "db", "name": app, "newname": new}])) == \
        ("InvalidParameter", 400)
    assert code_of(lambda: to_second(rds, inst, second(time.time() - 86400),
                                     [{"type": "db", "name": app, "newname": new}])) == ("InvalidParameter", 400)
    to_second(rds, inst, chosen, [{"type": "db", "name": app, "newname": new}])
    assert wait_db(rds, inst, new)[-1] == "Running"
    assert my(new, "SELECT id, v FROM t ORDER BY id") == [(1, "a"), (2, "b2"), (3, "before")]
    assert my(new, "SELECT id FROM later") == [(7,)]
    assert my(app, "SELECT id FROM t ORDER BY id") == [(2,), (3,), (4,)]          # the live one untouched


@pytest.fixture
def pg_app():
    name = f"pit_{secrets.token_hex(5)}"
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    yield name
    with admin.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (name + "%",))
        for (db,) in cur.fetchall():
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    admin.close()


def test_a_postgresql_instance_restores_to_a_second_only_with_log_backup_on(cloud, rds, pg_app):
    """Off (the default: each backup would copy the whole server): refused. On: EnableBackupLog 1, and a range once a
    backup took its base backup (the recovery itself: tests/e2e/test_restore_point_in_time.py)."""
    off = cloud.rds.create_instance("PostgreSQL", dsn_with(PG_DSN, [pg_app]), tag())["DBInstanceId"]
    assert rds.describe_backup_policy(m.DescribeBackupPolicyRequest(dbinstance_id=off)).body.enable_backup_log == "0"
    assert window(rds, off) == ("", "")
    assert code_of(lambda: to_second(rds, off, second(time.time() - 60),
                                     [{"type": "db", "name": pg_app, "newname": "pg_pit_never"}])) == \
        ("InvalidParameter", 400)
    on = cloud.rds.create_instance("PostgreSQL", dsn_with(PG_DSN, [pg_app]), tag(),
                                   policy={"LogBackup": True})["DBInstanceId"]
    assert rds.describe_backup_policy(m.DescribeBackupPolicyRequest(dbinstance_id=on)).body.enable_backup_log == "1"
    assert window(rds, on) == ("", "")                     # no base backup yet
    assert code_of(lambda: to_second(rds, on, second(time.time() - 1),
                                     [{"type": "db", "name": pg_app, "newname": "pg_pit_never"}])) == \
        ("InvalidParameter", 400)
