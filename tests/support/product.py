"""The product (API, flows, handlers) on a local cloud with real disks and databases, and its HTTP API as a test
client."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from nestbackup.cli.local import start_local_cloud

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
