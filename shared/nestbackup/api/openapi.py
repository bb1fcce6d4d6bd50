"""The OpenAPI 3 document of the API, served at GET /api/openapi.json (no token needed)."""
from __future__ import annotations

_ID = {"type": "string", "maxLength": 128}
_ERROR = {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_RECORD_ID = {"name": "id", "in": "path", "required": True, "schema": _ID}
_SI_PATH = {"name": "id", "in": "path", "required": True, "schema": _ID, "description": "service instance id"}
_LIST = [{"name": "serviceInstanceId", "in": "query", "required": True, "schema": _ID},
         {"name": "maxResults", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}},
         {"name": "nextToken", "in": "query", "schema": _ID}]


def _ok(status: str, schema: str, description: str) -> dict:
    return {status: {"description": description,
                     "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}},
            "400": _ERROR, "401": _ERROR, "404": _ERROR, "409": _ERROR, "502": _ERROR, "503": _ERROR}


def _body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def document() -> dict:
    item = {"type": "object", "properties": {k: {} for k in (
        "ResourceId", "ResourceType", "Engine", "Method", "Status", "ArtifactId", "SourceArtifactId", "Progress",
        "ErrorCode", "ErrorMessage", "RequestId", "Databases", "Verified", "Verification", "StartTime", "EndTime",
        "ExpiresAt", "WaitReason", "Restorable", "RestorableReason", "DeleteRefused")}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "nestbackup", "version": "1",
                 "description": "Backup and restore of every resource of a Compute Nest service instance. Every "
                                "endpoint but this document needs `Authorization: Bearer <token>`."},
        "servers": [{"url": "/api"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["Code", "Message", "RequestId"],
                          "properties": {"Code": {"type": "string"}, "Message": {"type": "string"},
                                         "RequestId": {"type": "string"}}},
                "Item": item,
                "Backup": {"type": "object", "required": ["BackupId", "ServiceInstanceId", "Status", "Resources"],
                           "properties": {"BackupId": {"type": "string"}, "ServiceInstanceId": {"type": "string"},
                                          "Status": {"type": "string", "enum": [
                                              "Creating", "Created", "CreateFailed", "Deleting", "Deleted",
                                              "DeleteFailed"]},
                                          "StatusDetail": {"type": "string"}, "StartTime": {"type": "string"},
                                          "EndTime": {"type": "string", "nullable": True},
                                          "Description": {"type": "string"},
                                          "RestorableUntil": {"type": "string", "nullable": True,
                                                              "description": "when the first backed-up artifact "
                                                                             "expires (RDS backup set retention); "
                                                                             "null: none expires"},
                                          "AwaitingExpiry": {"type": "boolean",
                                                             "description": "DeleteFailed only because RDS refuses "
                                                                            "to delete some backup sets; they go "
                                                                            "when they expire"},
                                          "Resources": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}},
                "Restore": {"type": "object", "required": ["RestoreId", "BackupId", "Status", "Phase", "Resources"],
                            "properties": {"RestoreId": {"type": "string"}, "RestoreTaskId": {"type": "string"},
                                           "BackupId": {"type": "string"}, "Status": {"type": "string", "enum": [
                                               "Restoring", "Restored", "RestoreFailed"]},
                                           "Phase": {"type": "string"}, "SafetyBackupId": {"type": "string",
                                                                                           "nullable": True},
                                           "Resources": {"type": "array",
                                                         "items": {"$ref": "#/components/schemas/Item"}}}},
                "BackupPage": {"type": "object", "properties": {"Backups": {"type": "array", "items": {
                    "$ref": "#/components/schemas/Backup"}}, "NextToken": {"type": "string", "nullable": True}}},
                "RestorePage": {"type": "object", "properties": {"Restores": {"type": "array", "items": {
                    "$ref": "#/components/schemas/Restore"}}, "NextToken": {"type": "string", "nullable": True}}},
                "CreateBackup": {"type": "object", "required": ["ServiceInstanceId"], "additionalProperties": False,
                                 "properties": {"ServiceInstanceId": _ID,
                                                "Description": {"type": "string", "maxLength": 256},
                                                "ClientToken": {"type": "string", "maxLength": 64}}},
                "CreateRestore": {"type": "object", "required": ["BackupId"], "additionalProperties": False,
                                  "properties": {"BackupId": _ID, "ClientToken": {"type": "string", "maxLength": 64},
                                                 "SafetyBackup": {"type": "boolean"}}},
                "Schedule": {"type": "object", "properties": {"ServiceInstanceId": {"type": "string"},
                                                               "Cron": {"type": "string"},
                                                               "KeepLast": {"type": "integer", "nullable": True},
                                                               "KeepDays": {"type": "integer", "nullable": True},
                                                               "Enabled": {"type": "boolean"},
                                                               "LastFireTime": {"type": "string", "nullable": True}}},
                "SetSchedule": {"type": "object", "required": ["Cron"], "additionalProperties": False,
                                "properties": {"Cron": {"type": "string"},
                                               "KeepLast": {"type": "integer", "minimum": 1, "maximum": 1000},
                                               "KeepDays": {"type": "integer", "minimum": 1, "maximum": 3650},
                                               "Enabled": {"type": "boolean"}}},
                "Plan": {"type": "object", "properties": {"ServiceInstanceId": {"type": "string"},
                                                           "Resources": {"type": "array", "items": {}},
                                                           "Warnings": {"type": "array",
                                                                        "items": {"type": "string"}},
                                                           "Estimate": {"type": "object"}}},
                "Timeline": {"type": "object", "properties": {"Events": {"type": "array", "items": {
                    "type": "object", "properties": {"Time": {"type": "string"}, "ResourceId": {"type": "string", "nullable": True},
                                                     "Event": {"type": "string"}, "Detail": {"type": "string"},
                                                     "RequestId": {"type": "string"}}}}}},
                "Tenant": {"type": "object", "properties": {"Name": {"type": "string"},
                                                             "Instances": {"type": "array", "items": {"type": "string"}},
                                                             "Token": {"type": "string"},
                                                             "WebhookSecret": {"type": "string"}}},
                "CreateTenant": {"type": "object", "required": ["Name", "Instances"], "additionalProperties": False,
                                 "properties": {"Name": {"type": "string", "maxLength": 64},
                                                "Instances": {"type": "array", "items": _ID, "minItems": 1},
                                                "Webhook": {"type": "string", "format": "uri"}}},
            }},
        "security": [{"bearer": []}],
        "paths": {
            "/backups": {
                "post": {"summary": "Back up every disk and database of a service instance",
                         "requestBody": _body("CreateBackup"), "responses": _ok("202", "Backup", "the new record")},
                "get": {"summary": "Backups of a service instance, newest first", "parameters": _LIST,
                        "responses": _ok("200", "BackupPage", "a page")}},
            "/backups/{id}": {
                "get": {"summary": "One backup", "parameters": [_RECORD_ID], "responses": _ok("200", "Backup", "it")},
                "delete": {"summary": "Delete its snapshots and backup sets", "parameters": [_RECORD_ID],
                           "responses": _ok("200", "Backup", "Deleted or DeleteFailed")}},
            "/backups/{id}/events": {"get": {"summary": "The backup's timeline, oldest first", "parameters": [_RECORD_ID],
                                             "responses": _ok("200", "Timeline", "its events")}},
            "/restores/{id}/events": {"get": {"summary": "The restore's timeline, oldest first",
                                              "parameters": [_RECORD_ID],
                                              "responses": _ok("200", "Timeline", "its events")}},
            "/backups/{id}/cancel": {"post": {"summary": "Cancel a running backup", "parameters": [_RECORD_ID],
                                              "responses": _ok("200", "Backup", "CreateFailed, cancelled")}},
            "/restores": {
                "post": {"summary": "Restore from a Created backup", "requestBody": _body("CreateRestore"),
                         "responses": _ok("202", "Restore", "the new record")},
                "get": {"summary": "Restores of a service instance, newest first", "parameters": _LIST,
                        "responses": _ok("200", "RestorePage", "a page")}},
            "/restores/{id}": {"get": {"summary": "One restore", "parameters": [_RECORD_ID],
                                       "responses": _ok("200", "Restore", "it")}},
            "/restores/{id}/cancel": {"post": {"summary": "Cancel a restore before it touches data",
                                               "parameters": [_RECORD_ID],
                                               "responses": _ok("200", "Restore", "RestoreFailed, cancelled")}},
            "/service-instances/{id}/schedule": {
                "get": {"summary": "The schedule", "parameters": [_SI_PATH], "responses": _ok("200", "Schedule", "it")},
                "put": {"summary": "Create or replace the schedule", "parameters": [_SI_PATH],
                        "requestBody": _body("SetSchedule"), "responses": _ok("200", "Schedule", "it")},
                "delete": {"summary": "Delete the schedule", "parameters": [_SI_PATH],
                           "responses": _ok("200", "Schedule", "the deleted one")}},
            "/service-instances/{id}/plan": {"get": {"summary": "What a backup would take and cost",
                                                     "parameters": [_SI_PATH], "responses": _ok("200", "Plan", "it")}},
            "/leftovers": {"get": {"summary": "Snapshots tagged as ours that no record owns (admin)",
                                   "responses": _ok("200", "Plan", "the leftovers")}},
            "/tenants": {
                "post": {"summary": "Create a tenant (admin); its token is returned once",
                         "requestBody": _body("CreateTenant"), "responses": _ok("201", "Tenant", "the tenant")},
                "get": {"summary": "Tenants (admin)", "responses": _ok("200", "Tenant", "the tenants")}},
            "/tenants/{id}": {"delete": {"summary": "Delete a tenant (admin)", "parameters": [_RECORD_ID],
                                         "responses": _ok("200", "Tenant", "deleted")}},
            "/tenants/{id}/webhook-secret": {"post": {
                "summary": "Rotate the tenant's webhook signing secret (admin); the new one is returned once, the "
                           "previous one keeps signing beside it for 24 h", "parameters": [_RECORD_ID],
                "responses": _ok("200", "Tenant", "the new secret")}},
            "/tenants/{id}/deliveries": {"get": {
                "summary": "The tenant's webhook deliveries, newest first (admin)",
                "parameters": [_RECORD_ID, {"name": "status", "in": "query", "required": False, "schema": {
                    "type": "string", "enum": ["Pending", "Delivered", "DeadLetter", "Dropped"]}}],
                "responses": _ok("200", "Tenant", "the deliveries")}},
        },
    }
