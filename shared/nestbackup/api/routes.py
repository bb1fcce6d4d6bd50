"""The API's route table: every method and path, who may call it, what it reads and answers. It drives both the
dispatch (app.py) and the OpenAPI document (openapi.py), so the two cannot disagree."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Callable

from ..model.status import BackupStatus, RestoreStatus
from . import endpoints as e
from .http import Call, Response
from .schemas import DELIVERY_STATUS, ID, Schema


@dataclass(frozen=True)
class Param:
    """A path or query parameter as the OpenAPI document describes it."""
    name: str
    where: str                  # "path" or "query"
    schema: Schema
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Route:
    method: str
    path: str                   # a template: "{name}" stands for one path segment
    handler: Callable[[Call], Response]
    summary: str
    response: str               # the component schema of the success body
    answers: str                # what the success body is, in a few words
    resource: str               # how "… is not allowed on X" names the path
    status: int = 200
    params: tuple[Param, ...] = ()
    body: str | None = None     # the component schema of the request body
    admin_only: str | None = None        # the 403 message when a tenant calls it; checked before the method
    instance_first: bool = False         # the {id} service instance is checked before the method
    changes_nothing: bool = False        # a POST that only reads (a preview): not an entry of the audit trail

    @property
    def action(self) -> str:
        """The route's name in the audit trail: its handler's, in CamelCase (create_backup: CreateBackup)."""
        return "".join(part.capitalize() for part in self.handler.__name__.split("_"))

    def match(self, path: str) -> dict[str, str] | None:
        m = _pattern(self.path).fullmatch(path)
        return m.groupdict() if m else None

    @property
    def errors(self) -> tuple[int, ...]:
        """The error statuses the route may answer (besides 405 on a path's other methods and 500); any request may
        carry a body, so any may be too large (413) or not JSON (415)."""
        extra = (403,) if self.admin_only else ()
        return tuple(sorted((400, 401, 404, 409, 413, 415, 502, 503) + extra))


@cache
def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)))


RECORD_ID = Param("id", "path", ID, required=True)
INSTANCE_ID = Param("id", "path", ID, required=True, description="service instance id")
UTC_TIME = {"type": "string", "format": "date-time"}


def _listing(statuses: str) -> tuple[Param, ...]:
    return (Param("serviceInstanceId", "query", ID,
                  description="this service instance's records (404 when nothing knows it); without it, every "
                              "instance the caller may see (the admin: all)"),
            Param("status", "query", {"type": "string", "maxLength": 200},
                  description=f"only these statuses, comma-separated: {statuses}"),
            Param("since", "query", UTC_TIME, description="only records created at or after this UTC time, e.g. "
                                                          "2026-12-06T00:00:00Z"),
            Param("until", "query", UTC_TIME, description="only records created at or before this UTC time"),
            Param("maxResults", "query", {"type": "integer", "minimum": 1, "maximum": 100},
                  description="at most this many records (default 20)"),
            Param("nextToken", "query", ID,
                  description="the NextToken of the previous page; a page may hold fewer than maxResults records "
                              "(even none) and still carry a NextToken when a filter skipped many: follow it until "
                              "NextToken is null"))


def _statuses(enum: type[Enum]) -> str:
    return ", ".join(str(s) for s in enum)
TENANTS_ONLY = "only the admin token manages tenants"
CATALOG_ONLY = "only the admin token exports or imports the catalog"
AUDIT = (Param("since", "query", UTC_TIME,
               description="only entries at or after this UTC time, e.g. 2026-12-06T00:00:00Z"),
         Param("serviceInstanceId", "query", ID, description="only entries naming this service instance"),
         Param("action", "query", {"type": "string", "maxLength": 64}, description="only this action, e.g. "
                                                                                   "CreateBackup"),
         Param("maxResults", "query", {"type": "integer", "minimum": 1, "maximum": 100}),
         Param("nextToken", "query", {"type": "string", "maxLength": 128}))


@cache
def route_table() -> tuple[Route, ...]:
    """Every route, in the order paths are matched. A function rather than module data because scripts/ram.py finds
    the cloud actions the API reaches by following calls from function to function."""
    return (
        Route("POST", "/backups", e.create_backup, "Back up every disk and database of a service instance",
              "Backup", "the new record", "/backups", status=202, body="CreateBackup"),
        Route("GET", "/backups", e.list_backups, "Backups, newest first: of a service instance, or of every instance "
              "the caller sees", "BackupPage", "a page; NextToken while older records may remain", "/backups",
              params=_listing(_statuses(BackupStatus))),
        Route("GET", "/backups/{id}", e.get_backup, "One backup", "Backup", "it", "/backups/{id}", params=(RECORD_ID,)),
        Route("DELETE", "/backups/{id}", e.delete_backup, "Delete its snapshots and backup sets",
              "Backup", "Deleted or DeleteFailed", "/backups/{id}", params=(RECORD_ID,)),
        Route("PUT", "/backups/{id}/lock", e.lock_backup, "Lock the backup until a time (Governance or "
              "Compliance), or extend its lock; Compliance also locks its snapshots in ECS",
              "Backup", "it, with its Lock", "a backup lock", params=(RECORD_ID,), body="LockBackup"),
        Route("DELETE", "/backups/{id}/lock", e.unlock_backup, "Lift a Governance lock (admin), with a Reason",
              "Backup", "it, its Lock lifted", "a backup lock", params=(RECORD_ID,), body="UnlockBackup"),
        Route("GET", "/backups/{id}/events", e.backup_events, "The backup's timeline, oldest first",
              "Timeline", "its events", "a timeline", params=(RECORD_ID,)),
        Route("POST", "/backups/{id}/cancel", e.cancel_backup, "Cancel a running backup",
              "Backup", "Cancelled, with one sentence", "a cancel", params=(RECORD_ID,)),
        Route("POST", "/restores", e.create_restore, "Restore a Created backup, or chosen resources and databases of "
              "a Created or PartiallyCreated one, or (ServiceInstanceId, RestoreTime, Databases) databases to a "
              "second", "Restore", "the new record", "/restores", status=202,
              body="CreateRestore"),
        Route("POST", "/restores/preview", e.preview_restore, "What a restore with this body would do, changing "
              "nothing: the instances it stops, what it replaces and keeps aside, the databases it renames, what "
              "cannot be restored and why, the downtime to expect", "RestorePreview", "the preview",
              "/restores/preview", body="CreateRestore", changes_nothing=True),
        Route("GET", "/restores", e.list_restores, "Restores, newest first: of a service instance, or of every "
              "instance the caller sees", "RestorePage", "a page; NextToken while older records may remain",
              "/restores", params=_listing(_statuses(RestoreStatus))),
        Route("GET", "/restores/{id}", e.get_restore, "One restore", "Restore", "it", "/restores/{id}",
              params=(RECORD_ID,)),
        Route("GET", "/restores/{id}/events", e.restore_events, "The restore's timeline, oldest first",
              "Timeline", "its events", "a timeline", params=(RECORD_ID,)),
        Route("POST", "/restores/{id}/cancel", e.cancel_restore, "Cancel a restore before it touches data",
              "Restore", "Cancelled, with one sentence", "a cancel", params=(RECORD_ID,)),
        Route("POST", "/restores/{id}/undo", e.undo_restore, "Put the service instance back as it was just before "
              "the restore (a restore of its own, origin undo)", "Restore", "the undo's record", "an undo",
              status=202, params=(RECORD_ID,), body="UndoRestore"),
        Route("POST", "/drills", e.create_drill,
              "Prove a backup restores: every artifact into scratch, checked, removed",
              "Drill", "the new record", "/drills", status=202, body="CreateDrill"),
        Route("GET", "/drills", e.list_drills, "Drills, newest first: of a service instance, or of every instance the "
              "caller sees", "DrillPage", "a page; NextToken while older records may remain", "/drills",
              params=(Param("serviceInstanceId", "query", ID, description="this service instance's drills"),
                      Param("maxResults", "query", {"type": "integer", "minimum": 1, "maximum": 100}),
                      Param("nextToken", "query", ID))),
        Route("GET", "/drills/{id}", e.get_drill, "One drill", "Drill", "it", "/drills/{id}", params=(RECORD_ID,)),
        Route("POST", "/drills/{id}/cancel", e.cancel_drill, "Stop a drill: it removes what it made, ends Cancelled",
              "Drill", "the record (Cancelled at its next round)", "a drill cancel", params=(RECORD_ID,)),
        Route("GET", "/service-instances/{id}/recovery-objectives", e.get_objectives,
              "Recovery point and time achieved (measured by drills and restores) against the targets",
              "RecoveryObjectives", "them", "recovery objectives", params=(INSTANCE_ID,)),
        Route("PUT", "/service-instances/{id}/recovery-objectives", e.set_objectives,
              "Set the recovery point and time targets, and how often the latest backup is drilled",
              "RecoveryObjectives", "them", "recovery objectives", params=(INSTANCE_ID,), body="SetObjectives"),
        Route("GET", "/service-instances/{id}/schedule", e.get_schedule, "The schedule", "Schedule", "it",
              "a schedule", params=(INSTANCE_ID,), instance_first=True),
        Route("PUT", "/service-instances/{id}/schedule", e.set_schedule, "Create or replace the schedule",
              "Schedule", "it", "a schedule", params=(INSTANCE_ID,), body="SetSchedule", instance_first=True),
        Route("DELETE", "/service-instances/{id}/schedule", e.delete_schedule, "Delete the schedule",
              "Schedule", "the deleted one", "a schedule", params=(INSTANCE_ID,), instance_first=True),
        Route("GET", "/service-instances/{id}/backup-settings", e.get_backup_settings,
              "The backup settings: the quiesce hooks run around the snapshots", "BackupSettings", "them",
              "backup settings", params=(INSTANCE_ID,), instance_first=True),
        Route("PUT", "/service-instances/{id}/backup-settings", e.set_backup_settings,
              "Replace the backup settings (admin): quiesce hooks run as root on the instances", "BackupSettings",
              "them", "backup settings", params=(INSTANCE_ID,), body="SetBackupSettings", instance_first=True,
              admin_only="only the admin token sets hooks: they run commands as root on the instances"),
        Route("GET", "/service-instances/{id}/retention", e.preview_retention,
              "A retention dry run: which backups the rule (the schedule's, or keepLast/keepDays) would delete now; "
              "nothing is deleted", "RetentionPreview", "what would go", "a retention preview",
              params=(INSTANCE_ID,
                      Param("keepLast", "query", {"type": "integer", "minimum": 1, "maximum": 1000},
                            description="try this KeepLast instead of the schedule's rule"),
                      Param("keepDays", "query", {"type": "integer", "minimum": 1, "maximum": 3650},
                            description="try this KeepDays instead of the schedule's rule")),
              instance_first=True),
        Route("GET", "/service-instances/{id}/restore-window", e.restore_window,
              "Per RDS instance, the first and last second a point-in-time restore can bring back, or why none",
              "RestoreWindow", "it", "a restore window", params=(INSTANCE_ID,)),
        Route("GET", "/service-instances/{id}/plan", e.plan, "What a backup would take and cost", "Plan", "it",
              "a plan", params=(INSTANCE_ID,)),
        Route("GET", "/leftovers", e.leftovers, "Snapshots tagged as ours that no record owns (admin)",
              "Leftovers", "the leftovers", "/leftovers", admin_only="only the admin token lists leftovers",
              params=(Param("region", "query", {"type": "string"},
                            description="also look for copies in this region (besides those schedules copy into)"),)),
        Route("POST", "/tenants", e.create_tenant, "Create a tenant (admin); its token is returned once",
              "Tenant", "the tenant", "/tenants", status=201, body="CreateTenant", admin_only=TENANTS_ONLY),
        Route("GET", "/tenants", e.list_tenants, "Tenants (admin)", "Tenants", "the tenants", "/tenants",
              admin_only=TENANTS_ONLY),
        Route("DELETE", "/tenants/{id}", e.delete_tenant, "Delete a tenant (admin)", "TenantDeleted", "deleted",
              "/tenants/{name}", params=(RECORD_ID,), admin_only=TENANTS_ONLY),
        Route("POST", "/tenants/{id}/webhook-secret", e.rotate_webhook_secret,
              "Rotate the tenant's webhook signing secret (admin); the new one is returned once, the previous one "
              "keeps signing beside it for 24 h", "WebhookSecret", "the new secret", "a webhook secret",
              params=(RECORD_ID,), admin_only=TENANTS_ONLY),
        Route("PUT", "/tenants/{id}/webhook-format", e.set_webhook_format,
              "Choose what the tenant's webhook receives (admin): cloudevents (a structured CloudEvent, Standard "
              "Webhooks headers) or legacy (the record as the body, both header sets)", "WebhookFormat",
              "the format set", "a webhook format", params=(RECORD_ID,), body="SetWebhookFormat",
              admin_only=TENANTS_ONLY),
        Route("GET", "/tenants/{id}/deliveries", e.tenant_deliveries,
              "The tenant's webhook deliveries, newest first (admin)", "Deliveries", "the deliveries", "deliveries",
              params=(RECORD_ID, Param("status", "query", DELIVERY_STATUS)), admin_only=TENANTS_ONLY),
        Route("GET", "/event-bus/deliveries", e.event_bus_deliveries,
              "The EventBridge bus's deliveries (NESTBACKUP_EVENT_BUS), newest first (admin)", "Deliveries",
              "the deliveries", "/event-bus/deliveries", params=(Param("status", "query", DELIVERY_STATUS),),
              admin_only="only the admin token reads the event bus's deliveries"),
        Route("GET", "/audit", e.audit, "The audit trail: one entry per POST, PUT or DELETE (a preview aside), newest "
              "first (admin)", "AuditPage", "a page; NextToken while older entries may remain", "/audit", params=AUDIT,
              admin_only="only the admin token reads the audit trail"),
        Route("GET", "/admin/catalog", e.export_catalog, "Every record (backups, restores, drills: header and items "
              "as stored), then the schedules and backup settings, to import into another deployment (admin)",
              "CatalogPage", "a page; NextToken while more remain", "/admin/catalog", admin_only=CATALOG_ONLY,
              params=(Param("maxResults", "query", {"type": "integer", "minimum": 1, "maximum": 100},
                            description="at most this many records (default 50)"),
                      Param("nextToken", "query", {"type": "string", "maxLength": 160}))),
        Route("POST", "/admin/catalog", e.import_catalog, "Import exported entries (admin): what is missing is "
              "created with its id and status, what is there is left as it is", "CatalogImported", "the counts",
              "/admin/catalog", body="CatalogImport", admin_only=CATALOG_ONLY),
    )
