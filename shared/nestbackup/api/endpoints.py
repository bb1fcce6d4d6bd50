"""What each API route does: read the call's inputs, check the caller may act, call one operation. The route table
(routes.py) says which request reaches which of these."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..decisions.webhooks import DeliveryStatus
from ..model.timeline import MAX_EVENTS
from .access import hidden, own_record, visible_instance
from .http import ApiError, Call, Response
from .inputs import int_param, json_body, next_token, one_of, utc_time

if TYPE_CHECKING:
    from ..model.selection import RestoreRequest

DELIVERY_STATUSES = [str(s) for s in DeliveryStatus]


def _list(call: Call, kind: str) -> Response:
    """A page of one service instance's records, or of every instance the caller sees when none is named."""
    from ..model.status import BackupStatus, RestoreStatus
    from ..operations import backup, listing, restore
    query = call.request.query
    si = query.get("serviceInstanceId") or query.get("ServiceInstanceId") or None
    if si is not None:
        visible_instance(call.principal, si)
    known = [str(s) for s in (BackupStatus if kind == "backups" else RestoreStatus)]
    statuses = frozenset(part for part in (query.get("status") or "").split(",") if part)
    if statuses - set(known):
        raise ApiError(400, "InvalidParameter", f"status must be one or more (comma-separated) of {', '.join(known)}")
    since, until = utc_time(query, "since"), utc_time(query, "until")
    if since is not None and until is not None and since > until:
        raise ApiError(400, "InvalidParameter", "since must not be after until")
    flt = listing.Filter(statuses, since, until, call.principal.may_act_on)
    limit = int_param(query, "maxResults", 20, 1, 100)
    after = next_token(query, kind)
    page = (backup.list_backups if kind == "backups" else restore.list_restores)(call.wiring, si, limit, after, flt)
    if si is not None and after is None and not page["Backups" if kind == "backups" else "Restores"]:
        listing.check_known(call.wiring, si)
    return Response(200, page)


def list_backups(call: Call) -> Response:
    return _list(call, "backups")


def list_restores(call: Call) -> Response:
    return _list(call, "restores")


def create_backup(call: Call) -> Response:
    from ..operations import backup
    body = json_body(call.request, {"ServiceInstanceId", "Description", "ClientToken", "CopyToRegion"},
                     {"ServiceInstanceId"})
    si = body["ServiceInstanceId"]
    visible_instance(call.principal, si)
    return Response(202, backup.create_backup(call.wiring, si, body.get("Description") or "", body.get("ClientToken"),
                                              copy_to_region=body.get("CopyToRegion")))


POINT_IN_TIME = {"ServiceInstanceId", "RestoreTime"}


def _restore_body(call: Call) -> dict[str, Any]:
    from ..model.selection import RestoreRequest
    return json_body(call.request, set(RestoreRequest.FIELDS) | POINT_IN_TIME, set(),
                     flags={"SafetyBackup", "SplitGroups", "ToConsistentMoment"})


def _restore_request(call: Call, body: dict[str, Any] | None = None) -> RestoreRequest:
    """The one reading of a backup's restore body (`POST /restores` and its preview) into its typed request; the
    caller must see the backup's service instance. A point-in-time body is read by `_point_in_time_restore`."""
    from ..model.selection import RestoreRequest
    from ..operations import backup
    body = _restore_body(call) if body is None else body
    if POINT_IN_TIME & set(body):
        raise ApiError(400, "InvalidParameter", "a preview takes a BackupId; what a point-in-time restore can reach: "
                                                "GET /service-instances/{id}/restore-window")
    if body.get("BackupId") in (None, ""):
        raise ApiError(400, "MissingParameter", "BackupId is required (or ServiceInstanceId and RestoreTime)")
    request = RestoreRequest.from_body(body)
    source = backup.get_backup(call.wiring, request.backup_id)
    if not call.principal.may_act_on(source["ServiceInstanceId"]):
        raise hidden(f"backup {request.backup_id}")
    return request


def create_restore(call: Call) -> Response:
    from ..operations import restore
    body = _restore_body(call)
    if POINT_IN_TIME & set(body):
        return _point_in_time_restore(call, body)
    return Response(202, restore.create_from_request(call.wiring, _restore_request(call, body)))


def preview_restore(call: Call) -> Response:
    from ..operations.restore_preview import preview
    return Response(200, preview(call.wiring, _restore_request(call)))


def _point_in_time_restore(call: Call, body: dict[str, Any]) -> Response:
    """ServiceInstanceId and RestoreTime (optionally Databases): the databases as they were at that second."""
    from ..operations.restore_point_in_time import create_point_in_time_restore
    if body.get("BackupId") not in (None, ""):
        raise ApiError(400, "InvalidParameter", "give BackupId, or ServiceInstanceId and RestoreTime, not both")
    if {"Resources", "SplitGroups"} & set(body):
        raise ApiError(400, "InvalidParameter", "a point-in-time restore takes Databases, not Resources or SplitGroups")
    missing = [k for k in ("ServiceInstanceId", "RestoreTime") if body.get(k) in (None, "")]
    if missing:
        raise ApiError(400, "MissingParameter", f"{', '.join(missing)} is required for a point-in-time restore")
    visible_instance(call.principal, body["ServiceInstanceId"])
    return Response(202, create_point_in_time_restore(call.wiring, body["ServiceInstanceId"], body["RestoreTime"],
                                                      body.get("Databases"), body.get("ClientToken"),
                                                      body.get("SafetyBackup", True)))


def restore_window(call: Call) -> Response:
    from ..operations.restore_point_in_time import restore_window as window
    visible_instance(call.principal, call.path_params["id"])
    return Response(200, window(call.wiring, call.path_params["id"]))


def get_backup(call: Call) -> Response:
    return Response(200, own_record(call.wiring, call.principal, "backups", call.path_params["id"]))


def get_restore(call: Call) -> Response:
    return Response(200, own_record(call.wiring, call.principal, "restores", call.path_params["id"]))


def delete_backup(call: Call) -> Response:
    from ..operations.artifacts import delete_backup as delete
    own_record(call.wiring, call.principal, "backups", call.path_params["id"])
    return Response(200, delete(call.wiring, call.path_params["id"]))


def lock_backup(call: Call) -> Response:
    from ..operations import locks
    record_id = call.path_params["id"]
    own_record(call.wiring, call.principal, "backups", record_id)
    body = json_body(call.request, {"Mode", "Until"}, {"Mode", "Until"})
    return Response(200, locks.set_lock(call.wiring, record_id, body["Mode"], locks.parse_until(body["Until"]),
                                        call.principal.name, call.principal.admin))


def unlock_backup(call: Call) -> Response:
    from ..operations import locks
    record_id = call.path_params["id"]
    own_record(call.wiring, call.principal, "backups", record_id)
    body = json_body(call.request, {"Reason"}, {"Reason"})
    return Response(200, locks.lift_lock(call.wiring, record_id, body["Reason"], call.principal.name,
                                         call.principal.admin))


def _timeline(call: Call, kind: str) -> Response:
    record_id = call.path_params["id"]
    own_record(call.wiring, call.principal, kind, record_id)
    return Response(200, {"Events": call.wiring.records.events(record_id, MAX_EVENTS)})


def backup_events(call: Call) -> Response:
    return _timeline(call, "backups")


def restore_events(call: Call) -> Response:
    return _timeline(call, "restores")


def cancel_backup(call: Call) -> Response:
    from ..operations import backup, cancel
    record_id = call.path_params["id"]
    own_record(call.wiring, call.principal, "backups", record_id)
    cancel.cancel_backup(call.wiring, record_id)
    return Response(200, backup.get_backup(call.wiring, record_id))


def cancel_restore(call: Call) -> Response:
    from ..operations import cancel, restore
    record_id = call.path_params["id"]
    own_record(call.wiring, call.principal, "restores", record_id)
    cancel.cancel_restore(call.wiring, record_id)
    return Response(200, restore.get_restore(call.wiring, record_id))


def undo_restore(call: Call) -> Response:
    from ..operations import undo
    record_id = call.path_params["id"]
    own_record(call.wiring, call.principal, "restores", record_id)
    body = json_body(call.request, {"Confirm", "ClientToken"}, set(), flags={"Confirm"})
    return Response(202, undo.create_undo(call.wiring, record_id, bool(body.get("Confirm")), body.get("ClientToken")))


def get_schedule(call: Call) -> Response:
    from ..operations import schedules
    return Response(200, schedules.get_schedule(call.wiring, call.path_params["id"]))


def delete_schedule(call: Call) -> Response:
    from ..operations import schedules
    return Response(200, schedules.delete_schedule(call.wiring, call.path_params["id"]))


def set_schedule(call: Call) -> Response:
    from ..operations import schedules
    body = json_body(call.request, {"Cron", "KeepLast", "KeepDays", "Enabled", "LockMode", "LockDays", "CopyToRegion"},
                     {"Cron"}, integers={"KeepLast", "KeepDays", "LockDays"}, flags={"Enabled"})
    return Response(200, schedules.set_schedule(call.wiring, call.path_params["id"], body["Cron"],
                                                body.get("KeepLast"), body.get("KeepDays"), body.get("Enabled", True),
                                                lock_mode=body.get("LockMode"), lock_days=body.get("LockDays"),
                                                copy_to_region=body.get("CopyToRegion")))


def get_backup_settings(call: Call) -> Response:
    from ..operations import backup_settings
    return Response(200, backup_settings.get_backup_settings(call.wiring, call.path_params["id"]))


def set_backup_settings(call: Call) -> Response:
    from ..operations import backup_settings
    body = json_body(call.request, {"Hooks"}, set())
    return Response(200, backup_settings.set_backup_settings(call.wiring, call.path_params["id"], body))


def preview_retention(call: Call) -> Response:
    from ..operations import schedules
    query = call.request.query
    return Response(200, schedules.preview_retention(call.wiring, call.path_params["id"],
                                                     int_param(query, "keepLast", 0, 1, 1000) or None,
                                                     int_param(query, "keepDays", 0, 1, 3650) or None))


def plan(call: Call) -> Response:
    from ..operations.plan import plan_backup
    visible_instance(call.principal, call.path_params["id"])
    return Response(200, plan_backup(call.wiring, call.path_params["id"]))


def leftovers(call: Call) -> Response:
    from ..model.copies import check_copy_region
    from ..operations.artifacts import leftovers as find_leftovers
    from ..operations.schedules import copy_regions
    region = check_copy_region(call.request.query.get("region"), call.wiring.settings.region)
    regions = copy_regions(call.wiring) | ({region} if region else set())
    return Response(200, find_leftovers(call.wiring, sorted(regions)))


def list_tenants(call: Call) -> Response:
    from ..operations import tenants
    return Response(200, tenants.list_tenants(call.wiring))


def create_tenant(call: Call) -> Response:
    from ..operations import tenants
    body = json_body(call.request, {"Name", "Instances", "Webhook"}, {"Name", "Instances"})
    return Response(201, tenants.create_tenant(call.wiring, body["Name"], body["Instances"],
                                               webhook=body.get("Webhook")))


def delete_tenant(call: Call) -> Response:
    from ..operations import tenants
    return Response(200, tenants.delete_tenant(call.wiring, call.path_params["id"]))


def rotate_webhook_secret(call: Call) -> Response:
    from ..operations import tenants
    return Response(200, tenants.rotate_webhook_secret(call.wiring, call.path_params["id"]))


def set_webhook_format(call: Call) -> Response:
    from ..operations import tenants
    body = json_body(call.request, {"WebhookFormat"}, {"WebhookFormat"})
    return Response(200, tenants.set_webhook_format(call.wiring, call.path_params["id"], body["WebhookFormat"]))


def tenant_deliveries(call: Call) -> Response:
    from ..operations.notify import deliveries
    status = one_of(call.request.query, "status", DELIVERY_STATUSES)
    return Response(200, {"Deliveries": deliveries(call.wiring, call.path_params["id"], status)})


def event_bus_deliveries(call: Call) -> Response:
    from ..operations.notify import deliveries
    status = one_of(call.request.query, "status", DELIVERY_STATUSES)
    return Response(200, {"Deliveries": deliveries(call.wiring, status=status, bus=True)})


def audit(call: Call) -> Response:
    from ..operations.audit import list_entries
    query = call.request.query
    action = query.get("action") or None
    if action is not None and not re.fullmatch(r"[A-Z][A-Za-z]{1,63}", action):
        raise ApiError(400, "InvalidParameter", "action must be a route's name, e.g. CreateBackup")
    page = list_entries(call.wiring, utc_time(query, "since"), query.get("serviceInstanceId") or None, action,
                        int_param(query, "maxResults", 50, 1, 100), query.get("nextToken") or None)
    return Response(200, {"Entries": page["Entries"]} | ({"NextToken": page["NextToken"]} if page["NextToken"] else {}))


def export_catalog(call: Call) -> Response:
    from ..operations.catalog_transfer import export_page
    query = call.request.query
    page = export_page(call.wiring, int_param(query, "maxResults", 50, 1, 100), query.get("nextToken") or None)
    return Response(200, page)


def import_catalog(call: Call) -> Response:
    from ..operations.catalog_transfer import MAX_IMPORT_BYTES, import_entries
    body = json_body(call.request, {"Entries"}, {"Entries"}, max_body=MAX_IMPORT_BYTES)
    return Response(200, import_entries(call.wiring, body["Entries"]))


def create_drill(call: Call) -> Response:
    from ..operations import backup, drill
    body = json_body(call.request, {"BackupId"}, {"BackupId"})
    source = backup.get_backup(call.wiring, body["BackupId"])
    if not call.principal.may_act_on(source["ServiceInstanceId"]):
        raise hidden(f"backup {body['BackupId']}")
    return Response(202, drill.create_drill(call.wiring, body["BackupId"]))


def get_drill(call: Call) -> Response:
    from ..operations import drill
    record = drill.get_drill(call.wiring, call.path_params["id"])
    if not call.principal.may_act_on(record["ServiceInstanceId"]):
        raise hidden(f"drill {call.path_params['id']}")
    return Response(200, record)


def cancel_drill(call: Call) -> Response:
    from ..operations import drill
    get_drill(call)                                  # another tenant's drill is answered as missing
    return Response(200, drill.cancel_drill(call.wiring, call.path_params["id"]))


def list_drills(call: Call) -> Response:
    from ..operations import drill
    query = call.request.query
    si = query.get("serviceInstanceId") or None
    if si is not None:
        visible_instance(call.principal, si)
    page = drill.list_drills(call.wiring, si, int_param(query, "maxResults", 20, 1, 100), next_token(query, "drills"))
    page["Drills"] = [d for d in page["Drills"] if call.principal.may_act_on(d["ServiceInstanceId"])]
    return Response(200, page)


def get_objectives(call: Call) -> Response:
    from ..operations import objectives
    visible_instance(call.principal, call.path_params["id"])
    return Response(200, objectives.recovery_objectives(call.wiring, call.path_params["id"]))


def set_objectives(call: Call) -> Response:
    from ..operations import objectives
    visible_instance(call.principal, call.path_params["id"])
    body = json_body(call.request, {"RecoveryPointSeconds", "RecoveryTimeSeconds", "DrillEveryDays"}, set(),
                     integers={"RecoveryPointSeconds", "RecoveryTimeSeconds", "DrillEveryDays"})
    return Response(200, objectives.set_targets(call.wiring, call.path_params["id"], body))
