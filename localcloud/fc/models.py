"""Function Compute 3.0: the functions and triggers of an s.yaml, deployed as `s deploy` would, and the part of the
FC 3.0 API (ROA, `/2023-03-30/...`, JSON in lowerCamelCase) that reads them back or invokes a function.

Actions [pkg: alibabacloud_fc20230330/client.py]: GetFunction `GET /functions/{name}`, ListFunctions
`GET /functions` (prefix, limit 1-100, nextToken), ListTriggers `GET /functions/{name}/triggers` (prefix, limit,
nextToken), GetTrigger `GET /functions/{name}/triggers/{trigger}`, InvokeFunction
`POST /functions/{name}/invocations` (raw bytes in, raw bytes out; synchronous only). Errors are
`{"Code", "Message", "RequestId"}` with the HTTP status [alibaba-apis.md §11.7]. Timer triggers fire on their cron
when the cloud is started with `fire_timers` (timers.py); EventBridge triggers are recorded and listed, not fired.
"""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from ..core.errors import ServiceError
from ..core.signing import verify_acs3
from . import syaml
from .timers import TimerClock, timers_of

API_VERSION = "2023-03-30"
DEFAULT_LIST_LIMIT = 20          # UNCONFIRMED: the page size FC uses when `limit` is not given
# UNCONFIRMED (serverless.md §1.12): an unhandled exception answers 200 with this header and
# {"errorMessage", "errorType"} as the body.
UNHANDLED_ERROR_HEADER = ("x-fc-error-type", "UnhandledInvocationError")
_MAX_LIST_LIMIT = 100            # ListFunctionsRequest.limit: "Minimum value: 1. Maximum value: 100."
_ALIYUN_URL = re.compile(r"https?://[^/\s]*\.aliyuncs\.com\S*")
# A Tablestore instance's VPC endpoint (the endpoints page's `.vpc.tablestore.`; the SDK example's `.vpc.ots.`) and
# its public one: rewritten to the network the request arrives from (localcloud/tablestore/network.py).
_OTS_VPC_URL = re.compile(r"https?://[^/\s]+\.vpc\.(?:tablestore|ots)\.aliyuncs\.com/?")
_OTS_PUBLIC_URL = re.compile(r"https?://[^/\s]+\.ots\.aliyuncs\.com/?")


class Fc:
    def __init__(self, cloud) -> None:
        self.cloud = cloud
        self.functions: dict[str, syaml.FunctionSpec] = {}
        self.trigger_ids: dict[tuple[str, str], str] = {}
        self.created = cloud.iso()
        self.overrides: dict[str, str] = {}
        self.timers: TimerClock | None = None

    # -- deployment
    def deploy(self, s_yaml: str | Path, overrides: dict[str, str] | None = None) -> None:
        """Deploy every fc3 resource of `s_yaml` (refusing what FC refuses). `overrides` replace environment
        values (the local cloud's endpoints); any value pointing at `*.aliyuncs.com` becomes the local endpoint."""
        specs = syaml.functions(s_yaml, account_id=self.cloud.fnf.functions.account_id)
        self.overrides = dict(overrides or {})
        for spec in specs:
            self.functions[spec.name] = spec
            for trigger in spec.triggers:
                self.trigger_ids[(spec.name, trigger.name)] = str(uuid.uuid4())
            self.cloud.fnf.functions.deploy(spec)

    def environment(self, endpoint: str) -> dict[str, str]:
        """The deployed functions' environment as the local cloud runs them: each function's s.yaml variables,
        the overrides on top. Functions share this process, so the union is set once; a variable that two
        functions set differently cannot be emulated and is refused."""
        merged: dict[str, str] = {}
        for spec in self.functions.values():
            for key, value in self.function_env(spec, endpoint).items():
                if key in merged and merged[key] != value:
                    raise syaml.DeploymentError(
                        f"{spec.name} sets {key}={value!r} but another function sets {merged[key]!r}: the local "
                        f"cloud runs every function in one process and cannot give them different values")
                merged[key] = value
        merged.update({k: v.replace("{endpoint}", endpoint) for k, v in self.overrides.items()})
        return merged

    def function_env(self, spec: syaml.FunctionSpec, endpoint: str) -> dict[str, str]:
        def local(value: str) -> str:
            value = _OTS_VPC_URL.sub(f"{endpoint}/_net/vpc/{spec.vpc_id or '-'}", value)
            value = _OTS_PUBLIC_URL.sub(f"{endpoint}/_net/internet", value)
            return _ALIYUN_URL.sub(endpoint, value)
        env = {k: local(v) for k, v in spec.environment.items()}
        env.update({k: v.replace("{endpoint}", endpoint) for k, v in self.overrides.items() if k in env})
        return env

    # -- timer triggers
    def start_timers(self) -> None:
        """Fire every enabled timer trigger on its cron from now on (timers.py)."""
        if self.timers is None:
            self.timers = TimerClock(timers_of(self._sorted()), self.run, self.cloud.stats.count)
            self.timers.start()

    def stop_timers(self) -> None:
        if self.timers is not None:
            self.timers.stop()

    def run(self, name: str, event: bytes):
        """Invoke deployed function `name` with `event`, as a trigger does."""
        self.cloud.stats.count(f"fc:{name}")
        functions = self.cloud.fnf.functions
        return functions.call(name, event, functions.context(name))

    # -- API
    def handle(self, method: str, url, headers: dict, body: bytes):
        request_id = str(uuid.uuid4())
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        try:
            verify_acs3(method, url.path, query, headers, body, self.cloud.credentials)
            parts = [unquote(p) for p in url.path.split("/")[2:] if p]
            action, result = self._route(method, parts, query, headers, body)
            self.cloud.stats.count(f"fc:{action}")
            if isinstance(result, tuple):          # InvokeFunction: raw bytes
                return result
            return 200, {"content-type": "application/json", "x-fc-request-id": request_id}, \
                json.dumps(result).encode()
        except ServiceError as err:
            return err.status, {"content-type": "application/json", "x-fc-request-id": request_id}, json.dumps(
                {"Code": err.code, "Message": err.message, "RequestId": request_id}).encode()

    def _route(self, method: str, parts: list[str], query: dict, headers: dict, body: bytes):
        if parts[:1] != ["functions"]:
            raise ServiceError("NotFound", f"No FC API at /{API_VERSION}/{'/'.join(parts)}", 404)
        if len(parts) == 1 and method == "GET":
            return "ListFunctions", self._page("functions", [self._function(s) for s in self._sorted()
                                                             if s.name.startswith(query.get("prefix", ""))],
                                               query, "functionName")
        spec = self._spec(parts[1]) if len(parts) > 1 else None
        if len(parts) == 2 and method == "GET":
            return "GetFunction", self._function(spec)
        if len(parts) == 3 and parts[2] == "triggers" and method == "GET":
            triggers = [self._trigger(spec, t) for t in sorted(spec.triggers, key=lambda t: t.name)
                        if t.name.startswith(query.get("prefix", ""))]
            return "ListTriggers", self._page("triggers", triggers, query, "triggerName")
        if len(parts) == 4 and parts[2] == "triggers" and method == "GET":
            trigger = next((t for t in spec.triggers if t.name == parts[3]), None)
            if trigger is None:
                raise ServiceError("TriggerNotFound", f"trigger '{parts[3]}' does not exist", 404)
            return "GetTrigger", self._trigger(spec, trigger)
        if len(parts) == 3 and parts[2] == "invocations" and method == "POST":
            return "InvokeFunction", self._invoke(spec, headers, body)
        raise ServiceError("NotFound", f"{method} /{API_VERSION}/{'/'.join(parts)} is not emulated", 404)

    def _sorted(self) -> list[syaml.FunctionSpec]:
        return sorted(self.functions.values(), key=lambda s: s.name)

    def _spec(self, name: str) -> syaml.FunctionSpec:
        spec = self.functions.get(name)
        if spec is None:
            raise ServiceError("FunctionNotFound", f"function '{name}' does not exist", 404)
        return spec

    @staticmethod
    def _page(list_key: str, items: list[dict], query: dict, name_key: str) -> dict:
        """One page of `items` (sorted by `name_key`), after `nextToken` (the last name of the previous page)."""
        raw = query.get("limit")
        try:
            limit = DEFAULT_LIST_LIMIT if raw in (None, "") else int(raw)
        except ValueError:
            raise ServiceError("InvalidArgument", f"limit {raw!r} is not a number", 400) from None
        if not 1 <= limit <= _MAX_LIST_LIMIT:
            raise ServiceError("InvalidArgument", f"limit must be between 1 and {_MAX_LIST_LIMIT}", 400)
        token = query.get("nextToken") or ""
        rest = [i for i in items if i[name_key] > token] if token else items
        out: dict[str, Any] = {list_key: rest[:limit]}
        if len(rest) > limit:
            out["nextToken"] = rest[limit - 1][name_key]
        return out

    def _arn(self, spec: syaml.FunctionSpec) -> str:
        return f"acs:fc:{self.cloud.region}:{self.cloud.fnf.functions.account_id}:functions/{spec.name}"

    def _function(self, spec: syaml.FunctionSpec) -> dict:
        env = self.function_env(spec, getattr(self.cloud, "endpoint", ""))
        return {"functionName": spec.name, "functionId": str(uuid.uuid5(uuid.NAMESPACE_URL, self._arn(spec))),
                "functionArn": self._arn(spec), "runtime": spec.runtime, "handler": spec.handler,
                "memorySize": spec.memory_size, "timeout": spec.timeout, "description": spec.description,
                "role": spec.role, "environmentVariables": env,
                "layers": [{"arn": arn} for arn in spec.layers], "state": "Active", "lastUpdateStatus": "Successful",
                "vpcConfig": spec.vpc_config or {}, "internetAccess": spec.internet_access,
                "logConfig": spec.log_config or {},
                "createdTime": self.created, "lastModifiedTime": self.created}

    def _trigger(self, spec: syaml.FunctionSpec, trigger: syaml.TriggerSpec) -> dict:
        out = {"triggerName": trigger.name, "triggerType": trigger.type,
               "triggerId": self.trigger_ids[(spec.name, trigger.name)], "qualifier": trigger.qualifier,
               "description": trigger.description,
               "triggerConfig": json.dumps(trigger.config),      # a JSON string in the API's Trigger model
               "targetArn": self._arn(spec), "status": "Success",
               "createdTime": self.created, "lastModifiedTime": self.created}
        if trigger.type == "http":
            base = getattr(self.cloud, "endpoint", "")
            prefix = next((p for p, f in self.cloud.http_mounts.items() if f == spec.name), "")
            out["httpTrigger"] = {"urlInternet": base + prefix, "urlIntranet": base + prefix}
        return out

    def _invoke(self, spec: syaml.FunctionSpec, headers: dict, body: bytes):
        if headers.get("x-fc-invocation-type", "Sync") != "Sync":
            raise ServiceError("InvalidArgument", "the local cloud runs synchronous invocations only", 400)
        functions = self.cloud.fnf.functions
        request_id = str(uuid.uuid4())
        out_headers = {"content-type": "application/octet-stream", "x-fc-request-id": request_id}
        try:
            result = functions.call(spec.name, body, functions.context(spec.name, request_id=request_id))
        except Exception as err:      # a timeout too (FunctionTimedOut), answered as an unhandled error is
            out_headers[UNHANDLED_ERROR_HEADER[0]] = UNHANDLED_ERROR_HEADER[1]
            return 200, out_headers, json.dumps({"errorMessage": str(err), "errorType": type(err).__name__}).encode()
        if isinstance(result, (bytes, bytearray)):
            raw = bytes(result)
        elif isinstance(result, str):
            raw = result.encode()
        else:
            raw = json.dumps(result).encode()
        return 200, out_headers, raw
