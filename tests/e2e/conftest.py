"""End to end: the product's API, flow and handlers on the local cloud, with real disks and databases."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid

import psycopg2
import pymysql
import pytest

from nestbackup.cli.local import start_local_cloud
from tests.conftest import Control

ADMIN = "test-admin-token"


class Api:
    def __init__(self, endpoint: str, token: str | None = ADMIN) -> None:
        self.base = endpoint + "/api"
        self.token = token
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method: str, path: str, body=None, token: str | None = "default"):
        token = self.token if token == "default" else token
        headers = {"content-type": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with self._opener.open(req, timeout=120) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def documented(self, method: str, template: str, path: str | None = None, body=None) -> dict:
        """Call `path` (default: `template`), and check the success body against the schema the OpenAPI document
        declares for `method template`; answer the body."""
        import jsonschema_rs
        status, answer = self.call(method, path or template, body)
        assert 200 <= status < 300, answer
        document = self.call("GET", "/openapi.json", token=None)[1]
        declared = document["paths"][template][method.lower()]["responses"][str(status)]
        schema = declared["content"]["application/json"]["schema"]
        resolved = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        assert resolved.get("required"), f"{method} {template}: its schema requires nothing, so it checks nothing"
        jsonschema_rs.validate(resolved, answer)
        return answer

    def wait(self, record_id: str, timeout: float = 120) -> dict:
        """Follow a backup or restore until it is final."""
        path = f"/restores/{record_id}" if record_id.startswith("restore-") else f"/backups/{record_id}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, record = self.call("GET", path)
            assert status == 200, record
            if record["Status"] not in ("Creating", "Restoring"):
                return record
            time.sleep(0.1)
        raise AssertionError(f"{record_id} still running: {record}")


def start_product(tmp_path_factory, **env):
    return start_local_cloud(str(tmp_path_factory.mktemp("product")), admin_token=ADMIN, flow_wait_scale=0.01,
                             **env)


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
