"""The control plane under /_local/: health, faults, call counts and seeding. Never part of a cloud API."""
from __future__ import annotations

import json

from .cloud import LocalCloud
from .core.errors import ServiceError

_JSON = {"content-type": "application/json"}


def _reply(status: int, payload) -> tuple[int, dict, bytes]:
    return status, dict(_JSON), json.dumps(payload).encode()


def _body(body: bytes):
    try:
        return json.loads(body or b"{}")
    except ValueError:
        raise ValueError("the body is not valid JSON") from None


def handle_control(cloud: LocalCloud, method: str, url, headers: dict, body: bytes):
    path = url.path.rstrip("/")
    # Only JSON changes state: a web page can send text/plain, form or multipart bodies cross-site without a
    # preflight, but not application/json, so no page the operator visits can seed or fault this cloud. A body-less
    # DELETE needs no type: a page cannot send DELETE cross-site without a preflight (not a CORS-safelisted method).
    if (method == "POST" or (method not in ("GET", "HEAD") and body)) and \
            headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return _reply(415, {"Code": "UnsupportedMediaType",
                            "Message": "the control plane takes only content-type: application/json"})
    try:
        if path == "/_local/health" and method == "GET":
            return _reply(200, {"Status": "ok", "StateDir": str(cloud.state_dir)})
        if path == "/_local/stats":
            if method == "DELETE":
                cloud.stats.reset()
            return _reply(200, {"calls": cloud.stats.snapshot()})
        if path == "/_local/faults":
            if method == "POST":
                cloud.faults.configure(_body(body))
            elif method == "DELETE":
                cloud.faults.clear()
            return _reply(200, {"faults": cloud.faults.describe()})
        if path.startswith("/_local/eventbridge/"):
            return _reply(200, cloud.eventbridge.control(method, path.split("/")[3:], _body(body)))
        if path.startswith("/_local/ecs/"):
            return _reply(200, cloud.ecs.control(method, path.split("/")[3:], _body(body)))
        if path.startswith("/_local/rds/"):
            return _reply(200, cloud.rds.control(method, path.split("/")[3:], _body(body)))
        if path == "/_local/seed" and method == "POST":
            from .seed import seed
            return _reply(200, seed(cloud, _body(body)))
    except ValueError as err:
        return _reply(400, {"Code": "InvalidRequest", "Message": str(err)})
    except ServiceError as err:
        return _reply(err.status, {"Code": err.code, "Message": err.message})
    return _reply(404, {"Code": "NotFound", "Message": f"No control endpoint {method} {url.path}"})
