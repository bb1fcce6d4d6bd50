"""End to end: the product's API, flow and handlers on the local cloud, with real disks and databases (the helpers:
tests/support/product.py)."""
from __future__ import annotations

import uuid

import psycopg2
import pymysql
import pytest

from tests.support import Control
from tests.support.product import Api, start_product


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    server = start_product(tmp_path_factory)
    yield server
    server.stop()


@pytest.fixture
def api(product):
    return Api(product.endpoint)


@pytest.fixture
def control(product):
    ctl = Control(product.endpoint)
    ctl.clear_faults()
    yield ctl
    ctl.clear_faults()


@pytest.fixture
def si() -> str:
    return "si-" + uuid.uuid4().hex[:12]


@pytest.fixture
def pg_db():
    """A real PostgreSQL database with rows; dropped afterwards."""
    name = "nbt_" + uuid.uuid4().hex[:10]
    admin = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=name) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        cur.executemany("INSERT INTO t VALUES (%s, %s)", [(i, f"v{i}") for i in range(50)])
    yield name, f"postgresql://postgres@127.0.0.1:5432/postgres?databases={name}"
    with admin.cursor() as cur:      # and the copies a restore made of it (restored, set aside)
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (name + "%",))
        for (db,) in cur.fetchall():
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def my_db():
    """A real MariaDB database with rows; dropped afterwards."""
    name = "nbt_" + uuid.uuid4().hex[:10]
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"CREATE TABLE `{name}`.t (id int PRIMARY KEY, v varchar(20))")
        cur.executemany(f"INSERT INTO `{name}`.t VALUES (%s, %s)", [(i, f"v{i}") for i in range(50)])
    yield name, f"mysql://root@127.0.0.1:3306/?databases={name}"
    with conn.cursor() as cur:
        cur.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s", (name + "%",))
        for (db,) in cur.fetchall():
            cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
    conn.close()
