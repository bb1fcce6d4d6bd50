"""Sleeps `sleep` seconds, then sends one request to `url`: past its 1-second timeout the request must not be sent."""
import json
import time
import urllib.request


def handler(event, context):
    body = json.loads(event)
    time.sleep(body["sleep"])
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(body["url"], timeout=5).read()
    return {"sent": True}
