"""Closing an operation: the index of operations not final yet (which the sweeper reads; `opening.py` writes its
entries), the service instance's lock, and the notification of the final record."""
from __future__ import annotations

from ..ports import Ports
from .claims import ACTIVE
from .notify import notify


def close_operation(w: Ports, service_instance_id: str, record_id: str, record_api: dict) -> None:
    """The record is final and written: let the instance go, drop the index entry, tell the tenant's webhook."""
    w.claims.release_lock(service_instance_id, record_id)
    w.documents.delete_doc(ACTIVE, record_id)
    notify(w, service_instance_id, record_api)
