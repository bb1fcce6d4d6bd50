"""Function Compute HTTP triggers, served in-process: a request under a mounted prefix becomes the FC3 HTTP event
(version v1, rawPath, headers, queryParameters, body, isBase64Encoded, requestContext) and the function's
{statusCode, headers, isBase64Encoded, body} becomes the response."""
from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qsl, unquote


def http_trigger(cloud, function_name: str):
    def serve(method: str, url, headers: dict, body: bytes):
        handler = cloud.fnf.functions.handler(function_name)
        if handler is None:
            return 404, {"content-type": "application/json"}, json.dumps(
                {"Code": "FunctionNotFound", "Message": f"function {function_name} does not exist"}).encode()
        request_id = str(uuid.uuid4())
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        now = datetime.now(timezone.utc)
        event = {"version": "v1", "rawPath": url.path, "headers": dict(headers),
                 "queryParameters": dict(parse_qsl(url.query, keep_blank_values=True)),
                 "body": text, "isBase64Encoded": encoded,
                 "requestContext": {"accountId": cloud.fnf.functions.account_id, "domainName": "127.0.0.1",
                                    "domainPrefix": "local", "requestId": request_id,
                                    "time": now.isoformat(), "timeEpoch": str(int(time.time() * 1000)),
                                    "http": {"method": method, "path": unquote(url.path), "protocol": "HTTP/1.1",
                                             "sourceIp": "127.0.0.1", "userAgent": headers.get("user-agent", "")}}}
        cloud.stats.count(f"fc:{function_name}")
        try:
            reply = handler(json.dumps(event).encode(), cloud.fnf.functions.context(function_name,
                                                                                   request_id=request_id))
        except Exception as err:   # FC answers an unhandled error with 502 and the error type
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
