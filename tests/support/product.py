"""The product (API, flows, handlers) on a local cloud with real disks and databases; its HTTP API and its CLI as
test clients, and what the end-to-end tests read of the cloud and the databases behind it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psycopg2

from nestbackup.cli.local import start_local_cloud
from tests.support.clients import make_ecs

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


def run_cli(endpoint, *args, token=ADMIN, stdin=None):
    env = {**os.environ, "NESTBACKUP_ENDPOINT": endpoint + "/api"}
    if token:
        env["NESTBACKUP_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "nestbackup.cli.main", *args], capture_output=True, text=True,
                          env=env, timeout=300, input=stdin)


def backup_of(api, si) -> dict:
    """A Created backup of `si`, through the API."""
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202, record
    final = api.wait(record["BackupId"])
    assert final["Status"] == "Created", final
    return final


def wait_restore(api, restore_id, timeout=180) -> dict:
    return api.wait(restore_id, timeout)


def snapshots_of(endpoint, disk_id) -> list:
    from alibabacloud_ecs20140526 import models as ecs_m
    ecs = make_ecs(endpoint)
    body = ecs.describe_snapshots(ecs_m.DescribeSnapshotsRequest(region_id="cn-hangzhou", disk_id=disk_id,
                                                                 max_results=100)).body
    return body.snapshots.snapshot or []


def instance_status(endpoint, iid) -> str:
    from alibabacloud_ecs20140526 import models as ecs_m
    ecs = make_ecs(endpoint)
    return ecs.describe_instances(ecs_m.DescribeInstancesRequest(
        region_id="cn-hangzhou", instance_ids=json.dumps([iid]))).body.instances.instance[0].status


def pg_rows(db: str, query: str = "SELECT * FROM t ORDER BY id"):
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=db) as conn, conn.cursor() as cur:
        cur.execute(query)
        return cur.fetchall()
