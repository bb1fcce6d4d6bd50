"""Function Compute HTTP triggers, served in-process: a request under a mounted prefix becomes the FC3 HTTP event
(version v1, rawPath, headers, queryParameters, body, isBase64Encoded, requestContext) and the function's
{statusCode, headers, isBase64Encoded, body} becomes the response.

The trigger is the one s.yaml deploys for the function (localcloud/fc): it answers only the methods its
`triggerConfig.methods` lists [doc: https://alibabacloud.com/help/en/functioncompute/fc-3-0/user-guide/
configure-an-http-trigger-for-a-function-and-invoke-the-function-by-using-http-requests, "Request Methods: the
methods that can trigger this HTTP trigger"]. What FC answers for another method is not documented:
METHOD_NOT_ALLOWED is UNCONFIRMED. `queryParameters` maps each name to one string: a parameter given more than once
arrives as its values joined by commas, in order [doc: https://www.alibabacloud.com/help/en/functioncompute/fc/
http-trigger-invoking-function, request struct: `"parameter2": "value1,value2"`].
Not modelled: authType `function`/`jwt` (the project deploys `anonymous`), and
the forced download of HTML on the default `fcapp.run` domain (docs/deploy.md, "Console")."""
from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qsl, unquote

# UNCONFIRMED: status and code of FC's answer to a method the trigger does not list.
METHOD_NOT_ALLOWED = (405, "MethodNotAllowed")


def query_parameters(query: str) -> dict[str, str]:
    """The event's `queryParameters`: one string per name, a repeated name's values joined by commas."""
    joined: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        joined.setdefault(name, []).append(value)
    return {name: ",".join(values) for name, values in joined.items()}


def http_trigger(cloud, function_name: str, methods: tuple[str, ...]):
    """The handler of the HTTP trigger of deployed function `function_name`, answering `methods` only."""
    def serve(method: str, url, headers: dict, body: bytes):
        request_id = str(uuid.uuid4())
        if method not in methods:
            status, code = METHOD_NOT_ALLOWED
            return status, {"content-type": "application/json", "x-fc-request-id": request_id}, json.dumps(
                {"Code": code, "Message": f"method {method} is not allowed by the HTTP trigger of {function_name} "
                                          f"(allowed: {', '.join(methods)})", "RequestId": request_id}).encode()
        functions = cloud.fnf.functions
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        now = datetime.now(timezone.utc)
        event = {"version": "v1", "rawPath": url.path, "headers": dict(headers),
                 "queryParameters": query_parameters(url.query),
                 "body": text, "isBase64Encoded": encoded,
                 "requestContext": {"accountId": cloud.fnf.functions.account_id, "domainName": "127.0.0.1",
                                    "domainPrefix": "local", "requestId": request_id,
                                    "time": now.isoformat(), "timeEpoch": str(int(time.time() * 1000)),
                                    "http": {"method": method, "path": unquote(url.path), "protocol": "HTTP/1.1",
                                             "sourceIp": "127.0.0.1", "userAgent": headers.get("user-agent", "")}}}
        cloud.stats.count(f"fc:{function_name}")
        try:
            reply = functions.call(function_name, json.dumps(event).encode(),
                                   functions.context(function_name, request_id=request_id))
        except Exception as err:   # FC answers an unhandled error (a timeout too) with 502 and the error type
            return 502, {"content-type": "application/json", "x-fc-error-type": "UnhandledInvocationError"}, \
                json.dumps({"errorMessage": str(err), "errorType": type(err).__name__}).encode()
        if not isinstance(reply, dict) or "statusCode" not in reply:
            out = reply if isinstance(reply, (bytes, str)) else json.dumps(reply)
            return 200, {"content-type": "application/json"}, out.encode() if isinstance(out, str) else out
        out = reply.get("body") or ""
        raw = base64.b64decode(out) if reply.get("isBase64Encoded") else str(out).encode()
        out_headers = {str(k).lower(): str(v) for k, v in (reply.get("headers") or {}).items()}
        out_headers["x-fc-request-id"] = request_id
        return int(reply["statusCode"]), out_headers, raw
    return serve
