"""Restore flow step: one step of the current phase (safety backup, stop, restore data, start, verify, done)."""
from nestbackup.handlers import event_json, wiring
from nestbackup.operations.restore import advance


def handler(event, context):
    body = event_json(event)
    return advance(wiring(context), body["RestoreId"], int(body.get("Round") or 0))
