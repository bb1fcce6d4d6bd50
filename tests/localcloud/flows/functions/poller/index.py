"""Answers done once it has been called `target` times for `key` (a stand-in for polling a long operation)."""
import json

CALLS = {}


def handler(event, context):
    body = json.loads(event)
    key = body["key"]
    CALLS[key] = CALLS.get(key, 0) + 1
    return {"done": CALLS[key] >= body["target"], "calls": CALLS[key]}
