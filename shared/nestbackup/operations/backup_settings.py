"""A service instance's backup settings: its quiesce hooks (`model/hooks.py`), kept as one document of the
`backup-settings` collection. Only the admin sets them (the API's route is admin-only): hooks run commands as root on
the tenant's machines. Each backup takes the settings as they are at its start (`operations/backup_hooks.py`)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from ..model.ids import check_service_instance_id

if TYPE_CHECKING:
    from ..model.hooks import HookSettings
    from ..ports import Ports

COLLECTION = "backup-settings"


def get_backup_settings(w: Ports, service_instance_id: str) -> dict[str, Any]:
    check_service_instance_id(service_instance_id)
    hooks = hooks_of(w, service_instance_id)
    return {"ServiceInstanceId": service_instance_id, "Hooks": hooks.to_api() if hooks else None}


def set_backup_settings(w: Ports, service_instance_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Replace the settings; `Hooks` null removes the hooks."""
    from ..model.hooks import HookSettings
    check_service_instance_id(service_instance_id)
    if "Hooks" not in body:
        raise ValidationError("Hooks is required (null removes the hooks)")
    hooks = HookSettings.from_api(body["Hooks"]) if body["Hooks"] is not None else None
    w.documents.put_doc(COLLECTION, service_instance_id, {"Hooks": hooks.to_api() if hooks else None})
    return {"ServiceInstanceId": service_instance_id, "Hooks": hooks.to_api() if hooks else None}


def hooks_of(w: Ports, service_instance_id: str) -> HookSettings | None:
    found = w.documents.get_doc(COLLECTION, service_instance_id)
    if not found or not found[0].get("Hooks"):
        return None
    from ..model.hooks import HookSettings  # imported where a service instance has hooks
    return HookSettings.from_doc(found[0]["Hooks"])
