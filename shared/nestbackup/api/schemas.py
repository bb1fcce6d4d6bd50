"""The JSON shapes the API reads and answers (OpenAPI component schemas). Enumerations come from the model's own
types, so the document cannot drift from the values the code compares."""
from __future__ import annotations

from enum import Enum
from typing import Any

from ..decisions.webhooks import DeliveryStatus, WebhookFormat
from ..model.records import ORIGINS, SCOPES
from ..model.status import BackupStatus, DrillStatus, ItemStatus, RestorePhase, RestoreStatus

Schema = dict[str, Any]      # a JSON Schema object

ID: Schema = {"type": "string", "maxLength": 128}


def enum_of(values: type[Enum]) -> Schema:
    return {"type": "string", "enum": [str(member.value) for member in values]}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


_ITEM_FIELDS = ("ResourceId", "ResourceType", "Engine", "Method", "Status", "ArtifactId", "SourceArtifactId",
                "Progress", "ErrorCode", "ErrorMessage", "RequestId", "Databases", "Verified", "Verification",
                "StartTime", "EndTime", "ExpiresAt", "WaitReason", "WaitDeadline", "Restorable", "RestorableReason",
                "DeleteRefused")

SCHEMAS: dict[str, Schema] = {
    "Error": {"type": "object", "required": ["Code", "Message", "RequestId"],
              "properties": {"Code": {"type": "string"}, "Message": {"type": "string"},
                             "RequestId": {"type": "string"}}},
    "Item": {"type": "object", "properties": {**{name: {} for name in _ITEM_FIELDS},
                                              "Status": {**enum_of(ItemStatus),
                                                         "description": "docs/statuses.md: only Failed is a "
                                                                        "failure"}}},
    "Cause": {"type": "object", "nullable": True,
              "description": "the failure that ended a CreateFailed, PartiallyCreated or RestoreFailed record, in "
                             "full: the first failed resource (ResourceId null: the operation's own cause) and, for "
                             "a restore, the phase it happened in; StatusDetail starts with the same",
              "properties": {"ResourceId": {"type": "string", "nullable": True},
                             "Code": {"type": "string", "nullable": True}, "Message": {"type": "string"},
                             "RequestId": {"type": "string", "nullable": True},
                             "Phase": {"type": "string", "nullable": True}}},
    "RestoreSummary": {"type": "object",
                       "description": "after a restore: verified or not with the counts, the safety backup, the "
                                      "live databases kept aside (drop each when satisfied), restored copies left "
                                      "beside the live ones, the downtime, the cost",
                       "properties": {"Verified": {"type": "boolean", "nullable": True},
                                      "Checks": {"type": "object", "additionalProperties": {"type": "integer"}},
                                      "SafetyBackupId": {"type": "string", "nullable": True},
                                      "KeptAside": {"type": "array", "items": {"type": "object"}},
                                      "RestoredCopies": {"type": "array", "items": {"type": "object"}},
                                      "DowntimeSeconds": {"type": "number", "nullable": True},
                                      "CostUSD": {"type": "number", "nullable": True}}},
    "Backup": {"type": "object", "required": ["BackupId", "ServiceInstanceId", "Status", "Resources"],
               "properties": {"BackupId": {"type": "string"}, "ServiceInstanceId": {"type": "string"},
                              "Status": enum_of(BackupStatus),
                              "StatusDetail": {"type": "string"}, "StartTime": {"type": "string"},
                              "EndTime": {"type": "string", "nullable": True},
                              "Description": {"type": "string"},
                              "Hooks": {"type": "array", "description": "each quiesce hook run: InstanceId, Hook "
                                                                        "(Pre|Post), Status, ExitCode, Output (its "
                                                                        "last 1,024 characters), StartTime, EndTime",
                                        "items": {"type": "object"}},
                              "ConsistentAt": {"type": "string", "nullable": True,
                                               "description": "with hooks: the moment T (UTC, ms) when the last "
                                                              "snapshot group was created, every instance still "
                                                              "frozen; a point-in-time restore can bring the "
                                                              "databases to it"},
                              "AtConsistentMoment": {"type": "array", "items": {"type": "string"},
                                                     "description": "the resources taken at ConsistentAt; the "
                                                                    "others are at their own artifact's time"},
                              "Consistency": {"type": "string", "nullable": True,
                                              "enum": ["ApplicationConsistent", "CrashConsistent"],
                                              "description": "with hooks; null until the post hooks ran"},
                              "ConsistencyDetail": {"type": "string", "nullable": True},
                              "FrozenSeconds": {"type": "number", "nullable": True,
                                                "description": "how long the instances were frozen: from the "
                                                               "last pre hook's end to the post hooks' start"},
                              "Origin": {"type": "string", "enum": list(ORIGINS),
                                         "description": "who asked for it: user (the API), schedule, safety (the "
                                                        "backup a restore takes first), undo or event"},
                              "Scope": {"type": "string", "enum": list(SCOPES),
                                        "description": "whole: every resource of the service instance; partial: "
                                                       "some (a selective restore's safety backup covers what it "
                                                       "replaces). Retention's KeepLast counts only whole user and "
                                                       "schedule backups"},
                              "RestorableUntil": {"type": "string", "nullable": True,
                                                  "description": "when the first backed-up artifact expires (RDS "
                                                                 "backup set retention); null: none expires, or "
                                                                 "the backup is not restorable"},
                              "Restorable": {"type": "boolean", "description": "restorable whole: only a Created "
                                                                               "backup"},
                              "RestorableReason": {"type": "string", "nullable": True,
                                                   "description": "why a PartiallyCreated backup cannot be restored "
                                                                  "whole: its good resources can be, by selection"},
                              "Cause": ref("Cause"),
                              "AwaitingExpiry": {"type": "boolean",
                                                 "description": "DeleteFailed only because RDS refuses to delete "
                                                                "some backup sets; they go when they expire"},
                              "Cost": ref("Cost"),
                              "NotProtected": {"type": "array", "items": ref("NotProtected"),
                                               "description": "resources Compute Nest lists for the service "
                                                              "instance that nestbackup does not back up; a "
                                                              "restore leaves them as they are"},
                              "Lock": ref("Lock"),
                              "CopyToRegion": {"type": "string", "nullable": True,
                                               "description": "the region its disks' snapshots are copied into"},
                              "CopyStatus": {"type": "string", "nullable": True,
                                             "description": "the copies rolled up as a backup's items are "
                                                            "(Creating, Created, PartiallyCreated, CreateFailed, "
                                                            "Cancelled; Deleted with the backup); each copy is on "
                                                            "its resource (Copies: Region, SnapshotId, Status, "
                                                            "ErrorCode, ErrorMessage)"},
                              "Resources": {"type": "array", "items": ref("Item")}}},
    "Lock": {"type": "object", "nullable": True,
             "description": "the backup's lock (not a status): while it holds, deleting, retention and a cancel "
                            "answer 409 naming it",
             "properties": {"Mode": {"type": "string", "enum": ["Governance", "Compliance"]},
                            "Until": {"type": "string"}, "By": {"type": "string"}, "SetAt": {"type": "string"},
                            "CloudLock": {"type": "string", "enum": ["Pending", "Locked", "Failed"],
                                          "description": "Compliance: whether ECS locked each snapshot"},
                            "CloudLocked": {"type": "array", "items": {"type": "string"}},
                            "CloudLockedUntil": {"type": "string", "nullable": True},
                            "CloudLockFailed": {"type": "object", "additionalProperties": {"type": "string"}},
                            "NotLockedInCloud": {"type": "string",
                                                 "description": "what the cloud does not lock, and why"},
                            "Shortened": {"type": "string"},
                            "Lifted": {"type": "object", "description": "By, At, Reason: the admin lifted it"}}},
    "LockBackup": {"type": "object", "required": ["Mode", "Until"], "additionalProperties": False,
                   "properties": {"Mode": {"type": "string", "enum": ["Governance", "Compliance"]},
                                  "Until": {"type": "string", "format": "date-time"}}},
    "UnlockBackup": {"type": "object", "required": ["Reason"], "additionalProperties": False,
                     "properties": {"Reason": {"type": "string", "maxLength": 500}}},
    "NotProtected": {"type": "object", "required": ["ResourceId", "ResourceType", "Reason"],
                     "properties": {"ResourceId": {"type": "string"},
                                    "ResourceType": {"type": "string", "description": "<service>:<kind>, e.g. "
                                                                                      "oss:bucket"},
                                    "Reason": {"type": "string"}}},
    "Cost": {"type": "object", "nullable": True,
             "description": "what the operation cost, once final: cloud calls by product:Action, flow transitions, "
                            "function invocations and GB-seconds, bytes of snapshots and backup sets created, and "
                            "a money estimate at the plan's prices",
             "properties": {"Calls": {"type": "object", "additionalProperties": {"type": "integer"}},
                            "FlowTransitions": {"type": "integer"}, "Invocations": {"type": "integer"},
                            "GbSeconds": {"type": "number"}, "BytesCreated": {"type": "integer"},
                            "CostUSD": {"type": "object", "additionalProperties": {"type": "number"}},
                            "TotalUSD": {"type": "number"}}},
    "Restore": {"type": "object", "required": ["RestoreId", "BackupId", "Status", "Phase", "Resources"],
                "properties": {"RestoreId": {"type": "string"}, "RestoreTaskId": {"type": "string"},
                               "BackupId": {"type": "string", "description": "\"\" for a point-in-time restore"},
                               "RestoreTime": {"type": "string", "nullable": True,
                                               "description": "a point-in-time restore's second (UTC)"},
                               "Status": enum_of(RestoreStatus),
                               "Phase": enum_of(RestorePhase), "StatusDetail": {"type": "string"},
                               "Cause": ref("Cause"), "Summary": ref("RestoreSummary"),
                               "PhaseDeadline": {"type": "string", "description": "while it runs: when the "
                                                                                  "current phase stops waiting on "
                                                                                  "the cloud (absent where it does "
                                                                                  "not wait)"},
                               "SafetyBackupId": {"type": "string", "nullable": True},
                               "DowntimeSeconds": {"type": "number", "nullable": True,
                                                   "description": "how long the ECS instances were stopped"},
                               "Cost": ref("Cost"),
                               "Selection": ref("Selection"),
                               "Resources": {"type": "array", "items": ref("Item"),
                                             "description": "what this restore restores: every resource of the "
                                                            "backup, or those selected (others are not part of "
                                                            "it)"},
                               "Origin": {"type": "string", "enum": ["user", "undo"]},
                               "Undoes": {"type": "string", "nullable": True,
                                          "description": "an undo: the restore it puts back"},
                               "UndoableUntil": {"type": "string", "nullable": True,
                                                 "description": "until when POST /restores/{id}/undo can put the "
                                                                "service instance back as it was before it"},
                               "UndoSnapshots": {"type": "object", "additionalProperties": {"type": "string"},
                                                 "description": "disk id -> its snapshot taken at the stop"},
                               "UndoSnapshotSeconds": {"type": "number", "nullable": True,
                                                       "description": "downtime spent taking them"},
                               "ChangedSince": {"type": "array", "items": {"type": "string"}, "nullable": True,
                                                "description": "while undoable: what changed since the restore "
                                                               "(an undo then needs Confirm)"}}},
    "Selection": {"type": "object", "nullable": True,
                  "description": "a selective restore's selection as asked, the disks restored with a selected one "
                                 "because they were snapshotted in one group with it, and those restored apart from "
                                 "their group; null: the whole backup",
                  "properties": {"Resources": {"type": "array", "items": {"type": "string"}},
                                 "Databases": {"type": "object",
                                               "additionalProperties": {"type": "array",
                                                                        "items": {"type": "string"}}},
                                 "SplitGroups": {"type": "boolean"},
                                 "GroupsKeptTogether": {"type": "object",
                                                        "additionalProperties": {"type": "string"},
                                                        "description": "disk id -> the snapshot group it was "
                                                                       "restored with"},
                                 "GroupsSplit": {"type": "object", "additionalProperties": {"type": "string"},
                                                 "description": "with SplitGroups: each selected disk restored "
                                                                "without the rest of its snapshot group (not "
                                                                "crash-consistent with it) -> that group"}}},
    "RestorePreview": {"type": "object", "description": "what the restore would do now; nothing was changed",
                       "properties": {
                           "BackupId": {"type": "string"}, "ServiceInstanceId": {"type": "string"},
                           "Whole": {"type": "boolean"}, "Selection": ref("Selection"),
                           "Resources": {"type": "array", "items": {"type": "string"}},
                           "Stops": {"type": "array", "items": {"type": "string"},
                                     "description": "the ECS instances the restore stops (running now, with a disk "
                                                    "it resets); empty: the service runs throughout"},
                           "Replaced": {"type": "array", "items": {
                               "type": "object", "properties": {
                                   "ResourceId": {"type": "string"}, "ResourceType": {"type": "string"},
                                   "From": {"type": "string"}, "InstanceId": {"type": "string", "nullable": True},
                                   "SnapshotGroupId": {"type": "string", "nullable": True},
                                   "Action": {"type": "string"}, "LiveDataKept": {"type": "string"}}}},
                           "Renames": {"type": "array", "items": {
                               "type": "object", "properties": {
                                   "DBInstanceId": {"type": "string"}, "Database": {"type": "string"},
                                   "RestoredName": {"type": "string"}, "AsideName": {"type": "string"}}}},
                           "NamesNote": {"type": "string"},
                           "SafetyBackup": {"type": "object", "properties": {
                               "Taken": {"type": "boolean"}, "Scope": {"type": "string", "enum": list(SCOPES)},
                               "Covers": {"type": "array", "items": {"type": "string"}}}},
                           "CannotRestore": {"type": "array", "items": {
                               "type": "object", "properties": {"ResourceId": {"type": "string"},
                                                                "Reason": {"type": "string"}}},
                               "description": "expired or unusable artifacts, resources no longer the service "
                                              "instance's, RDS prerequisites, names already taken"},
                           "Refused": {"type": "string", "nullable": True,
                                       "description": "why POST /restores with this body would be refused now"},
                           "ExpectedDowntimeSeconds": {"type": "number", "nullable": True,
                                                       "description": "0 when nothing stops; else the longest of "
                                                                      "the latest restores' measured downtimes; "
                                                                      "null: none measured yet"},
                           "DowntimeBasis": {"type": "string"}}},
    "Drill": {"type": "object", "required": ["DrillId", "BackupId", "Status", "Resources"],
              "properties": {"DrillId": {"type": "string"}, "BackupId": {"type": "string"},
                             "ServiceInstanceId": {"type": "string"}, "Status": enum_of(DrillStatus),
                             "StatusDetail": {"type": "string"}, "Cause": ref("Cause"),
                             "DurationSeconds": {"type": "number", "nullable": True,
                                                 "description": "from its start until every artifact checked out"},
                             "BackupSeconds": {"type": "number", "nullable": True,
                                               "description": "how long the backup it proves took"},
                             "CleanedUp": {"type": "boolean"},
                             "CleanupPending": {"type": "array", "items": {"type": "string"}},
                             "Cost": ref("Cost"), "Resources": {"type": "array", "items": {"type": "object"}}}},
    "DrillPage": {"type": "object", "properties": {"Drills": {"type": "array", "items": ref("Drill")},
                                                   "NextToken": {"type": "string", "nullable": True}}},
    "CreateDrill": {"type": "object", "required": ["BackupId"], "additionalProperties": False,
                    "properties": {"BackupId": ID}},
    "RecoveryObjectives": {"type": "object", "properties": {
        "ServiceInstanceId": {"type": "string"},
        "RecoveryPointSeconds": {"type": "number", "nullable": True,
                                 "description": "age of the newest backup a drill proved"},
        "NewestBackupAgeSeconds": {"type": "number", "nullable": True},
        "RecoveryTimeSeconds": {"type": "number", "nullable": True,
                                "description": "the longest recovery time the recent drills and restores measured"},
        "Targets": {"type": "object"}, "Breaches": {"type": "array", "items": {"type": "string"}},
        "Breached": {"type": "boolean"}}},
    "SetObjectives": {"type": "object", "additionalProperties": False, "properties": {
        "RecoveryPointSeconds": {"type": "integer", "minimum": 60},
        "RecoveryTimeSeconds": {"type": "integer", "minimum": 1},
        "DrillEveryDays": {"type": "integer", "minimum": 1, "maximum": 365}}},
    "BackupPage": {"type": "object", "properties": {"Backups": {"type": "array", "items": ref("Backup")},
                                                    "NextToken": {"type": "string", "nullable": True}}},
    "RestorePage": {"type": "object", "properties": {"Restores": {"type": "array", "items": ref("Restore")},
                                                     "NextToken": {"type": "string", "nullable": True}}},
    "CreateBackup": {"type": "object", "required": ["ServiceInstanceId"], "additionalProperties": False,
                     "properties": {"ServiceInstanceId": ID, "Description": {"type": "string", "maxLength": 256},
                                    "ClientToken": {"type": "string", "maxLength": 64},
                                    "CopyToRegion": {"type": "string", "description": "also copy each disk's "
                                                     "snapshot into this region (ECS CopySnapshot)"}}},
    "CreateRestore": {"type": "object", "additionalProperties": False,
                      "description": "BackupId (restore a backup), or ServiceInstanceId and RestoreTime (restore "
                                     "databases to that second; Databases narrows it)",
                      "properties": {"BackupId": ID, "ClientToken": {"type": "string", "maxLength": 64},
                                     "SafetyBackup": {"type": "boolean"},
                                     "Resources": {"type": "array", "items": ID, "maxItems": 200,
                                                   "description": "restore only these resources of the backup "
                                                                  "(disks; RDS instances: all their databases)"},
                                     "Databases": {"type": "object",
                                                   "additionalProperties": {"type": "array", "items": ID,
                                                                            "minItems": 1},
                                                   "description": "restore only these databases: {DBInstanceId: "
                                                                  "[names]}; with Resources, the union is "
                                                                  "restored. Without both: the whole backup. With "
                                                                  "RestoreTime: the databases restored to that "
                                                                  "second"},
                                     "SplitGroups": {"type": "boolean",
                                                     "description": "restore a selected disk without the other "
                                                                    "disks of its snapshot group (by default they "
                                                                    "are restored with it, crash-consistent)"},
                                     "ServiceInstanceId": {"type": "string"},
                                     "RestoreTime": {"type": "string", "description": "a UTC second, "
                                                     "2026-12-06T14:05:00Z"}}},
    "UndoRestore": {"type": "object", "additionalProperties": False,
                    "properties": {"Confirm": {"type": "boolean", "description": "undo even though the service "
                                                                                 "instance changed since"},
                                   "ClientToken": {"type": "string", "maxLength": 64}}},
    "RestoreWindow": {"type": "object", "properties": {
        "ServiceInstanceId": {"type": "string"},
        "DBInstances": {"type": "array", "items": {"type": "object", "properties": {
            "DBInstanceId": {"type": "string"}, "Engine": {"type": "string"}, "Restorable": {"type": "boolean"},
            "EarliestRestoreTime": {"type": "string", "nullable": True},
            "LatestRestoreTime": {"type": "string", "nullable": True},
            "LogBackup": {"type": "boolean"}, "LogBackupRetentionDays": {"type": "integer", "nullable": True},
            "Reason": {"type": "string", "description": "why none, when not Restorable"}}}}}},
    "Schedule": {"type": "object", "properties": {"ServiceInstanceId": {"type": "string"}, "Cron": {"type": "string"},
                                                  "KeepLast": {"type": "integer", "nullable": True},
                                                  "KeepDays": {"type": "integer", "nullable": True},
                                                  "Enabled": {"type": "boolean"},
                                                  "LockMode": {"type": "string", "nullable": True},
                                                  "LockDays": {"type": "integer", "nullable": True},
                                                  "CopyToRegion": {"type": "string", "nullable": True},
                                                  "NextRunTime": {"type": "string", "nullable": True,
                                                                  "description": "when it fires next (UTC); null "
                                                                                 "when disabled"},
                                                  "LastFireTime": {"type": "string", "nullable": True,
                                                                   "description": "when it last fired and started "
                                                                                  "a backup; null: never"},
                                                  "LastBackupId": {"type": "string", "nullable": True,
                                                                   "description": "the backup that run started"},
                                                  "LastBackupStatus": {"type": "string", "nullable": True,
                                                                       "description": "that backup's status now"},
                                                  "LastError": {"type": "string", "nullable": True},
                                                  "LastErrorTime": {"type": "string", "nullable": True}}},
    "Hooks": {"type": "object", "required": ["Pre", "Post"], "additionalProperties": False, "properties": {
        "Pre": {"type": "string", "maxLength": 12000, "description": "run on each instance before the snapshots "
                                                                      "are created (e.g. flush, fsfreeze -f)"},
        "Post": {"type": "string", "maxLength": 12000, "description": "run after they are created, also when the "
                                                                       "backup fails or is cancelled"},
        "TimeoutSeconds": {"type": "integer", "minimum": 10, "maximum": 300},
        "OnFailure": {"type": "string", "enum": ["Fail", "Continue"],
                      "description": "a pre hook that fails or times out fails the backup, or lets it go on "
                                     "crash-consistent"},
        "Instances": {"type": "array", "items": {"type": "string"}, "nullable": True,
                      "description": "default: every ECS instance the backup snapshots"}}},
    "BackupSettings": {"type": "object", "properties": {"ServiceInstanceId": {"type": "string"},
                                                        "Hooks": {"allOf": [ref("Hooks")], "nullable": True}}},
    "SetBackupSettings": {"type": "object", "required": ["Hooks"], "additionalProperties": False,
                          "properties": {"Hooks": {"allOf": [ref("Hooks")], "nullable": True}}},
    "RetentionPreview": {"type": "object", "properties": {
        "ServiceInstanceId": {"type": "string"}, "KeepLast": {"type": "integer", "nullable": True},
        "KeepDays": {"type": "integer", "nullable": True}, "DryRun": {"type": "boolean"},
        "WouldDelete": {"type": "array", "items": {"type": "object", "properties": {
            "BackupId": {"type": "string"}, "Status": {"type": "string"}, "StartTime": {"type": "string"}}}},
        "KeptByLock": {"type": "array", "items": {"type": "object"},
                       "description": "backups the rule would delete that a lock keeps"},
        "Kept": {"type": "integer", "description": "backups the rule keeps"}}},
    "SetSchedule": {"type": "object", "required": ["Cron"], "additionalProperties": False,
                    "properties": {"Cron": {"type": "string"},
                                   "KeepLast": {"type": "integer", "minimum": 1, "maximum": 1000},
                                   "KeepDays": {"type": "integer", "minimum": 1, "maximum": 3650},
                                   "Enabled": {"type": "boolean"},
                                   "LockMode": {"type": "string", "enum": ["Governance", "Compliance"]},
                                   "LockDays": {"type": "integer", "minimum": 1, "maximum": 36500},
                                   "CopyToRegion": {"type": "string"}}},
    "Plan": {"type": "object", "properties": {"ServiceInstanceId": {"type": "string"},
                                              "Resources": {"type": "array", "items": {}},
                                              "Warnings": {"type": "array", "items": {"type": "string"}},
                                              "Consistency": {"type": "string", "enum": [
                                                  "ApplicationConsistent", "CrashConsistent", "NoDisks"],
                                                  "description": "with quiesce hooks, one moment across the "
                                                                 "instances' disks"},
                                              "NotProtected": {"type": "array", "items": ref("NotProtected")},
                                              "Estimate": {"type": "object"}}},
    "Timeline": {"type": "object", "properties": {"Events": {"type": "array", "items": {
        "type": "object", "properties": {"Time": {"type": "string"},
                                         "ResourceId": {"type": "string", "nullable": True},
                                         "Event": {"type": "string"}, "Detail": {"type": "string"},
                                         "RequestId": {"type": "string"}}}}}},
    "Leftovers": {"type": "object", "required": ["Leftovers"], "properties": {"Leftovers": {"type": "array", "items": {
        "type": "object", "required": ["ArtifactId", "Kind", "BackupId"],
        "properties": {"ArtifactId": {"type": "string"}, "Kind": {"type": "string",
                                                                   "enum": ["snapshot", "snapshot-group",
                                                                            "snapshot-copy"]},
                       "BackupId": {"type": "string", "description": "the backup its tag names"},
                       "Region": {"type": "string", "description": "a copy's region"}}}}}},
    "Tenant": {"type": "object", "required": ["Name", "Instances", "Token"],
               "properties": {"Name": {"type": "string"},
                              "Instances": {"type": "array", "items": {"type": "string"}},
                              "Token": {"type": "string", "description": "shown once"},
                              "WebhookSecret": {"type": "string", "description": "shown once, with a webhook"}}},
    "Tenants": {"type": "object", "required": ["Tenants"], "properties": {"Tenants": {"type": "array", "items": {
        "type": "object", "required": ["Name", "Instances", "Webhook"],
        "properties": {"Name": {"type": "string"}, "Instances": {"type": "array", "items": {"type": "string"}},
                       "Webhook": {"type": "boolean", "description": "whether it has a webhook"},
                       "WebhookFormat": {**enum_of(WebhookFormat),
                                         "description": "with a webhook: what it receives (docs/events.md)"}}}}}},
    "TenantDeleted": {"type": "object", "required": ["Name", "Deleted"],
                      "properties": {"Name": {"type": "string"}, "Deleted": {"type": "boolean"}}},
    "WebhookSecret": {"type": "object", "required": ["Name", "WebhookSecret", "PreviousSecretValidSeconds"],
                      "properties": {"Name": {"type": "string"}, "WebhookSecret": {"type": "string"},
                                     "PreviousSecretValidSeconds": {"type": "integer"}}},
    "Deliveries": {"type": "object", "required": ["Deliveries"], "properties": {"Deliveries": {
        "type": "array", "items": {
            "type": "object", "required": ["DeliveryId", "Tenant", "Kind", "RecordId", "Status", "Attempts"],
            "properties": {"DeliveryId": {"type": "string"}, "Tenant": {"type": "string"},
                           "Kind": {"type": "string"}, "RecordId": {"type": "string"},
                           "Bus": {"type": "string", "description": "an event bus delivery: the bus"},
                           "EventId": {"type": "string", "description": "the CloudEvent's id (docs/events.md)"},
                           "Status": enum_of(DeliveryStatus), "Attempts": {"type": "integer"},
                           "CreatedEpoch": {"type": "number"}, "NextEpoch": {"type": "number"},
                           "DeliveredEpoch": {"type": "number"}, "LastResult": {"type": "string"},
                           "LastError": {"type": "string"}}}}}},
    "AuditPage": {"type": "object", "required": ["Entries"], "properties": {
        "NextToken": {"type": "string", "description": "present while older entries may remain"},
        "Entries": {"type": "array", "items": {
            "type": "object", "required": ["Time", "Admin", "Action", "Status", "RequestId"],
            "description": "a field that is not known is absent",
            "properties": {"Time": {"type": "string", "description": "UTC, to the millisecond"},
                           "Principal": {"type": "string", "description": "the tenant's name, or admin; absent: "
                                                                          "no valid token"},
                           "Admin": {"type": "boolean", "description": "whether the admin token was used"},
                           "Action": {"type": "string", "description": "the route, e.g. CreateBackup"},
                           "ServiceInstanceId": {"type": "string"},
                           "RecordId": {"type": "string", "description": "the backup or restore it named or made"},
                           "Tenant": {"type": "string", "description": "the tenant it named"},
                           "Status": {"type": "integer", "description": "the HTTP status answered"},
                           "ErrorCode": {"type": "string"},
                           "RequestId": {"type": "string"},
                           "SourceIp": {"type": "string"}}}}}},
    "CreateTenant": {"type": "object", "required": ["Name", "Instances"], "additionalProperties": False,
                     "properties": {"Name": {"type": "string", "maxLength": 64},
                                    "Instances": {"type": "array", "items": ID, "minItems": 1},
                                    "Webhook": {"type": "string", "format": "uri"}}},
    "SetWebhookFormat": {"type": "object", "required": ["WebhookFormat"], "additionalProperties": False,
                         "properties": {"WebhookFormat": enum_of(WebhookFormat)}},
    "WebhookFormat": {"type": "object", "required": ["Name", "WebhookFormat"],
                      "properties": {"Name": {"type": "string"}, "WebhookFormat": enum_of(WebhookFormat)}},
    "CatalogPage": {"type": "object", "required": ["Entries"], "properties": {
        "NextToken": {"type": "string", "description": "present while more entries remain"},
        "Entries": {"type": "array", "items": {
            "type": "object", "description": "a record (Kind, RecordId, ServiceInstanceId, Header, Items: as stored) "
                                            "or a document (Collection: schedules or backup-settings, Key, Doc)",
            "properties": {"Kind": {"type": "string", "enum": ["backup", "restore", "drill"]},
                           "RecordId": {"type": "string"}, "ServiceInstanceId": {"type": "string"},
                           "Header": {"type": "object"}, "Items": {"type": "object"},
                           "Collection": {"type": "string", "enum": ["schedules", "backup-settings"]},
                           "Key": {"type": "string"}, "Doc": {"type": "object"}}}}}},
    "CatalogImport": {"type": "object", "required": ["Entries"], "additionalProperties": False,
                      "properties": {"Entries": {"type": "array", "maxItems": 100, "description": "entries as the "
                                                 "export gives them; the body may be up to 2 MiB",
                                                 "items": {"type": "object"}}}},
    "CatalogImported": {"type": "object", "required": ["Created", "AlreadyThere"],
                        "properties": {"Created": {"type": "integer"}, "AlreadyThere": {"type": "integer",
                                       "description": "entries already there, left as they were"}}},
}

DELIVERY_STATUS = enum_of(DeliveryStatus)
