"""The FC 3.0 adapter on the API reference's published ListTriggers example (a canned HTTP answer, the unmodified
SDK in between): every page is read, and `triggerConfig`, a JSON string in the API, comes back parsed."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from nestbackup.adapters.fc import FunctionCompute
from nestbackup.adapters.openapi import Credentials

# https://alibabacloud.com/help/en/functioncompute/fc-3-0/developer-reference/api-fc-2023-03-30-listtriggers
DOC_EXAMPLE = {"nextToken": "next_token", "triggers": [{
    "createdTime": "", "description": "",
    "httpTrigger": {"urlInternet": "https://svc-func-xxxxxxxx.cn-hangzhou.fcapp.run",
                    "urlIntranet": "https://svc-func-xxxxxxxx.cn-hangzhou-vpc.fcapp.run"},
    "invocationRole": "", "lastModifiedTime": "", "qualifier": "", "sourceArn": "", "status": "", "targetArn": "",
    "triggerConfig": "", "triggerId": "", "triggerName": "", "triggerType": ""}]}
LAST_PAGE = {"triggers": [{"triggerName": "http", "triggerType": "http",
                           "triggerConfig": json.dumps({"methods": ["GET"], "authType": "anonymous"})}]}


def test_list_triggers_reads_every_page_of_the_documented_answer():
    seen = []

    class Canned(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            seen.append((url.path, parse_qs(url.query).get("nextToken")))
            body = json.dumps(LAST_PAGE if "nextToken=" in url.query else DOC_EXAMPLE).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        fc = FunctionCompute(f"http://127.0.0.1:{server.server_address[1]}", Credentials("ak", "sk"), "cn-hangzhou")
        triggers = fc.triggers("my-func")
    finally:
        server.shutdown()
    assert seen == [("/2023-03-30/functions/my-func/triggers", None),
                    ("/2023-03-30/functions/my-func/triggers", ["next_token"])]
    assert triggers[0]["httpTrigger"]["urlInternet"] == "https://svc-func-xxxxxxxx.cn-hangzhou.fcapp.run"
    assert triggers[0]["triggerConfig"] == {}                      # "" in the example
    assert triggers[1]["triggerConfig"] == {"methods": ["GET"], "authType": "anonymous"}
