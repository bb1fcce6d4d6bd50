import json

from double_helper import twice  # a sibling module: the function's directory is on sys.path at import


def handler(event, context):
    body = json.loads(event)
    return json.dumps({"y": twice(body["x"]), "fn": context.function.name, "ak": context.credentials.access_key_id,
                       "eventType": type(event).__name__})
