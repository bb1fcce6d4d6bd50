"""EventBridge trigger: a Compute Nest service-instance event starts a backup of that instance (once per event id)."""
import json

from nestbackup.handlers import invocation, wiring
from nestbackup.operations.events import on_events


def handler(event, context):
    with invocation(context, step="Events"):
        return on_events(wiring(context), json.loads(event or b"{}"))
