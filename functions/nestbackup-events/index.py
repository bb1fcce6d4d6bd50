"""EventBridge trigger: a Compute Nest service-instance event starts a backup of that instance (once per event id)."""
import json

from nestbackup.handlers import wiring
from nestbackup.operations.events import on_events


def handler(event, context):
    return on_events(wiring(context), json.loads(event or b"{}"))
