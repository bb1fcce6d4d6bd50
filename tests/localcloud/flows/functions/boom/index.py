def handler(event, context):
    raise ValueError("disk d-1 is gone")
