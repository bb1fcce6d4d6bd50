"""Function Compute 3.0 (fc20230330, ROA): read back deployed functions and their triggers, through the official
SDK client. Without an endpoint the SDK picks the region's own (`fcv3.<region>.aliyuncs.com`, its `_endpoint_map`)."""
from __future__ import annotations

import json
from typing import Any

from ..errors import CloudError
from ..settings import no_proxy_to
from .openapi import Credentials, _cloud_error, split_endpoint


class FunctionCompute:
    def __init__(self, endpoint: str | None, credentials: Credentials, region: str) -> None:
        from alibabacloud_fc20230330.client import Client
        from alibabacloud_tea_openapi import models as oa

        protocol, host = split_endpoint(endpoint) if endpoint else ("https", None)
        if host:
            no_proxy_to(host)
        self._client = Client(oa.Config(access_key_id=credentials.access_key_id,
                                        access_key_secret=credentials.access_key_secret,
                                        security_token=credentials.security_token, region_id=region,
                                        endpoint=host, protocol=protocol, read_timeout=15000,
                                        connect_timeout=5000))

    def _call(self, action: str, fn, *args) -> Any:
        from Tea.exceptions import TeaException
        try:
            return fn(*args)
        except TeaException as exc:
            raise _cloud_error(action, exc) from exc

    def function(self, name: str) -> dict[str, Any] | None:
        """GetFunction as lowerCamelCase JSON; None when the function does not exist."""
        from alibabacloud_fc20230330 import models as fc
        try:
            resp = self._call("GetFunction", self._client.get_function, name, fc.GetFunctionRequest())
        except CloudError as err:
            if err.code == "FunctionNotFound":
                return None
            raise
        return resp.body.to_map()

    def triggers(self, function_name: str) -> list[dict[str, Any]]:
        """Every trigger of a function (all pages), `triggerConfig` parsed from its JSON string."""
        from alibabacloud_fc20230330 import models as fc
        out: list[dict[str, Any]] = []
        token = None
        while True:
            resp = self._call("ListTriggers", self._client.list_triggers, function_name,
                              fc.ListTriggersRequest(limit=100, next_token=token))
            for trigger in resp.body.triggers or []:
                item = trigger.to_map()
                try:
                    item["triggerConfig"] = json.loads(item.get("triggerConfig") or "{}")
                except ValueError:
                    item["triggerConfig"] = {}
                out.append(item)
            token = resp.body.next_token
            if not token:
                return out

    def invoke(self, function_name: str, payload: dict[str, Any]) -> Any:
        """InvokeFunction, synchronous: the handler's JSON answer. A handler that raised (FC answers 200 with
        `x-fc-error-type`) is a CloudError with its errorMessage."""
        from alibabacloud_fc20230330 import models as fc
        resp = self._call("InvokeFunction", self._client.invoke_function, function_name,
                          fc.InvokeFunctionRequest(body=json.dumps(payload).encode()))
        raw = resp.body.read() if hasattr(resp.body, "read") else resp.body
        try:
            answer = json.loads(raw or b"null")
        except ValueError:
            answer = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        error_type = (resp.headers or {}).get("x-fc-error-type")
        if error_type:
            message = answer.get("errorMessage") if isinstance(answer, dict) else answer
            raise CloudError(str(error_type), f"{function_name}: {message}", action="InvokeFunction")
        return answer
