"""Shared fixtures: a local cloud server per test module and the unmodified SDK clients pointed at it."""
from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.request

import pytest

# The SDKs send 127.0.0.1 traffic through HTTP(S)_PROXY, ignoring NO_PROXY.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_var, None)

from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET  # noqa: E402
from localcloud.cloud import LocalCloud  # noqa: E402
from localcloud.server import LocalCloudServer  # noqa: E402

PG_DSN = os.environ.get("NESTBACKUP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_DSN = os.environ.get("NESTBACKUP_TEST_MYSQL", "mysql://root@127.0.0.1:3306/")


def sha256_of(path) -> str:
    with open(path, "rb") as f:
        digest = hashlib.sha256()      # hashlib.file_digest is 3.11+; the functions run on python3.10
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
        return digest.hexdigest()


def wait_until(predicate, timeout: float = 60):
    """Poll `predicate` until it returns something true (returned), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def mssql_connect(port: int, database: str = "master", user: str = "sa", password: str = ""):
    """pytds to the local SQL Server stand-in on 127.0.0.1:`port` (the local cloud's login: sa, no password)."""
    import pytds
    return pytds.connect(dsn="127.0.0.1", port=port, user=user, password=password, database=database,
                         autocommit=True, login_timeout=5)


def mssql_run(port: int, *statements: str, **login) -> list[tuple]:
    """Run statements on one connection; the rows of the last one (empty when it returns none)."""
    with mssql_connect(port, **login) as conn, conn.cursor() as cur:
        rows: list[tuple] = []
        for statement in statements:
            cur.execute(statement)
            rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
        return rows


class Control:
    """The /_local/ control plane of a running local cloud."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=60) as resp:
            return json.loads(resp.read())

    def faults(self, **spec):
        return self.call("POST", "/_local/faults", spec)

    def clear_faults(self):
        return self.call("DELETE", "/_local/faults")

    def stats(self) -> dict[str, int]:
        return self.call("GET", "/_local/stats")["calls"]

    def seed(self, **spec):
        return self.call("POST", "/_local/seed", spec)


@pytest.fixture(scope="module")
def cloud_server(tmp_path_factory):
    cloud = LocalCloud(tmp_path_factory.mktemp("state"))
    server = LocalCloudServer(cloud, port=0)
    server.start_in_thread()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def endpoint(cloud_server) -> str:
    return cloud_server.endpoint


@pytest.fixture
def control(endpoint):
    ctl = Control(endpoint)
    ctl.clear_faults()
    yield ctl
    ctl.clear_faults()


def _openapi_config(endpoint: str, secret: str = DEFAULT_ACCESS_KEY_SECRET):
    from alibabacloud_tea_openapi import models as oa
    return oa.Config(access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret=secret, region_id="cn-hangzhou",
                     endpoint=endpoint.removeprefix("http://"), protocol="http", read_timeout=30000)


def make_ecs(endpoint: str, secret: str = DEFAULT_ACCESS_KEY_SECRET):
    from alibabacloud_ecs20140526.client import Client
    return Client(_openapi_config(endpoint, secret))


def make_rds(endpoint: str, secret: str = DEFAULT_ACCESS_KEY_SECRET):
    from alibabacloud_rds20140815.client import Client
    return Client(_openapi_config(endpoint, secret))


def make_fnf(endpoint: str, secret: str = DEFAULT_ACCESS_KEY_SECRET):
    from alibabacloud_fnf20190315.client import Client
    return Client(_openapi_config(endpoint, secret))


def make_ots(endpoint: str, secret: str = DEFAULT_ACCESS_KEY_SECRET, instance: str = "nestbackup", **kw):
    from tablestore import OTSClient
    from tablestore.retry import NoRetryPolicy
    kw.setdefault("retry_policy", NoRetryPolicy())
    return OTSClient(endpoint, DEFAULT_ACCESS_KEY_ID, secret, instance, **kw)


@pytest.fixture
def ecs(endpoint):
    return make_ecs(endpoint)


@pytest.fixture
def rds(endpoint):
    return make_rds(endpoint)


@pytest.fixture
def ots(endpoint):
    return make_ots(endpoint)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_local_cloud(state, port: int | None = None, admin_token: str | None = None):
    """`nestbackup local serve` in its own process (to be killed with SIGKILL); returns (process, endpoint)."""
    import subprocess
    import sys
    import time
    port = port or free_port()
    token = ["--admin-token", admin_token] if admin_token else []
    proc = subprocess.Popen([sys.executable, "-m", "nestbackup.cli.main", "local", "serve", "--port", str(port),
                             "--state-dir", str(state), *token], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            opener.open(endpoint + "/_local/health", timeout=1).read()
            return proc, endpoint
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the local cloud exited at start") from None
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the local cloud did not start")


# Suites that start the local cloud or talk to real databases, Chromium or Serverless Devs: `pytest -m "not slow"`
# (the inner loop) leaves them out; the README's test command runs everything.
SLOW_SUITES = ("e2e", "localcloud", "adapters", "deploy", "soak")


def pytest_collection_modifyitems(config, items):
    root = os.path.dirname(__file__)
    for item in items:
        suite = os.path.relpath(str(item.fspath), root).split(os.sep)[0]
        if suite in SLOW_SUITES:
            item.add_marker(pytest.mark.slow)
