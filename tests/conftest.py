"""The fixtures every suite shares: a local cloud server per test module and the unmodified SDK clients pointed at it."""
from __future__ import annotations

import os

import pytest

# The SDKs send 127.0.0.1 traffic through HTTP(S)_PROXY, ignoring NO_PROXY.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_var, None)

from localcloud.cloud import LocalCloud  # noqa: E402
from localcloud.server import LocalCloudServer  # noqa: E402
from tests.support import Control, make_ecs, make_ots, make_rds  # noqa: E402


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


@pytest.fixture
def ecs(endpoint):
    return make_ecs(endpoint)


@pytest.fixture
def rds(endpoint):
    return make_rds(endpoint)


@pytest.fixture
def ots(endpoint):
    return make_ots(endpoint)


# Suites that start the local cloud or talk to real databases, Chromium or Serverless Devs: `pytest -m "not slow"`
# (the inner loop) leaves them out; the README's test command runs everything.
SLOW_SUITES = ("e2e", "localcloud", "adapters", "deploy", "soak")


def pytest_collection_modifyitems(config, items):
    root = os.path.dirname(__file__)
    for item in items:
        suite = os.path.relpath(str(item.fspath), root).split(os.sep)[0]
        if suite in SLOW_SUITES:
            item.add_marker(pytest.mark.slow)
