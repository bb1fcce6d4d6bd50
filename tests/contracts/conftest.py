"""One fixture per port, each parametrized over the in-memory port and the real adapter on the local cloud (the real
side is slow): every contract test of a port takes that port's fixture, so it runs on both. The sides are in
tests/support/contracts.py."""
from __future__ import annotations

import uuid

import psycopg2
import pytest

from tests.support import PG_DSN
from tests.support.contracts import (
    ENGINES,
    IMPLEMENTATIONS,
    CatalogSide,
    ComputeSide,
    DatabasesSide,
    FlowsSide,
    GatewaySide,
    RecordsSide,
)


def _endpoint(request) -> str | None:
    return request.getfixturevalue("endpoint") if request.param == "real" else None


@pytest.fixture(params=IMPLEMENTATIONS)
def compute(request) -> ComputeSide:
    return ComputeSide(request.param, _endpoint(request))


@pytest.fixture(params=IMPLEMENTATIONS)
def databases(request) -> DatabasesSide:
    database = request.getfixturevalue("pg_database") if request.param == "real" else "nbc_" + uuid.uuid4().hex[:10]
    return DatabasesSide(request.param, database, _endpoint(request))


@pytest.fixture(params=IMPLEMENTATIONS)
def catalog(request) -> CatalogSide:
    return CatalogSide(request.param, _endpoint(request))


@pytest.fixture(params=IMPLEMENTATIONS)
def flows(request) -> FlowsSide:
    endpoint = request.getfixturevalue("waiting_flow_cloud").endpoint if request.param == "real" else None
    return FlowsSide(request.param, endpoint)


@pytest.fixture(params=IMPLEMENTATIONS)
def records(request) -> RecordsSide:
    return RecordsSide(request.param, _endpoint(request))


@pytest.fixture(params=ENGINES)
def gateway(request):
    side = GatewaySide(request.param)
    yield side
    side.clean()


@pytest.fixture
def pg_database():
    """A real PostgreSQL database with a table `t` of two rows, and every copy restored beside it dropped afterwards."""
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


@pytest.fixture(scope="module")
def waiting_flow_cloud(tmp_path_factory):
    """A local cloud whose one flow waits five minutes, so its executions run while the test looks at them."""
    from localcloud.cloud import LocalCloud
    from localcloud.server import LocalCloudServer
    flows_dir = tmp_path_factory.mktemp("flows")
    (flows_dir / "contract.yaml").write_text(FlowsSide.definition)
    server = LocalCloudServer(LocalCloud(tmp_path_factory.mktemp("state"), flows_dir=flows_dir), port=0)
    server.start_in_thread()
    yield server
    server.stop()
