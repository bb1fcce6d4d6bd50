"""A restore's preview: what a `POST /restores` with the same body would do, told before it happens, with nothing
changed. Only reads: the backup record, what the cloud has of its artifacts (DescribeSnapshots, DescribeBackups),
what the service instance holds now (Compute Nest, DescribeInstances, DescribeDBInstances, DescribeDatabases), the
instance's lock and earlier restores. No record, claim, lock or token is written and no cloud call changes anything
(tests/operations/test_selective_restore.py counts both; tests/e2e/test_selective_restore.py asks the local cloud).
A hooked backup's preview says which databases would go to its moment T and which to their set, and why
(operations/restore_moment.py asks DescribeBackupPolicy and DescribeLocalAvailableRecoveryTime, both reads)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..decisions import restore as decide
from ..decisions.selection import recorded
from ..errors import CloudError
from ..model.records import ResourceType, new_record_id
from ..model.status import RestoreStatus, rds_instance_running
from .discovery import discover
from .kinds import RESTORE_KINDS, restore_kind_of
from .loading import load_backup
from .restore import chosen_resources, list_restores
from .restore_moment import plan_moment

if TYPE_CHECKING:
    from ..model.records import BackupRecord
    from ..model.restores import RestoreItem
    from ..model.selection import RestoreRequest
    from ..ports import Ports

EARLIER_RESTORES = 20          # how many of the instance's latest restores the downtime expectation reads


def preview(w: Ports, request: RestoreRequest, now: float | None = None) -> dict[str, Any]:
    """The restore this request would make, as it would run now. A selection the restore would refuse is refused the
    same way (400 / 409, naming it); what the restore would refuse once it looks at the cloud, or fail on later, is
    said in `Refused` and `CannotRestore`."""
    now = time.time() if now is None else now
    backup = load_backup(w, request.backup_id)
    chosen = chosen_resources(backup, request.selection)
    would_be = new_record_id("restore", int(now * 1000), "00000000")
    items = decide.plan_items(backup, would_be, chosen)
    at_moment = plan_moment(w, backup, items, request.to_consistent_moment)
    by_id = {i.resource_id: i for i in backup.items}
    from_sets = [i for i in items if not i.restore_time]      # a database going to T needs no set of its own
    cannot = _unusable(w, backup, from_sets) + _not_owned(w, backup, items) + _databases_blocked(w, items)
    stops = _stops(w, items)
    refused = [c for c in cannot if c.get("Refused")]
    holder = w.claims.lock_holder(backup.service_instance_id, int(now * 1000))
    why_refused = "; ".join(c["Reason"] for c in refused) or (
        f"{holder} holds {backup.service_instance_id}'s lock (another operation runs)" if holder else None)
    downtime, basis = _expected_downtime(w, backup.service_instance_id, stops)
    return {"BackupId": backup.backup_id, "ServiceInstanceId": backup.service_instance_id,
            "Whole": request.selection is None,
            "Selection": recorded(request.selection, chosen),
            "Stops": stops,
            "Replaced": [_replaced(i, request.safety_backup, by_id[i.resource_id].group_id) for i in items],
            "Renames": [{"DBInstanceId": i.resource_id, "Database": d.name, "RestoredName": d.restored,
                         "AsideName": d.aside} for i in items for d in i.databases],
            "NamesNote": "RestoredName and AsideName end in the restore's own id: the restore's names have this "
                         "form with another id",
            "SafetyBackup": {"Taken": request.safety_backup,
                             "Scope": "whole" if request.selection is None else "partial",
                             "Covers": [i.resource_id for i in items] if request.safety_backup else []},
            "CannotRestore": [{"ResourceId": c["ResourceId"], "Reason": c["Reason"]} for c in cannot],
            "Refused": why_refused,
            "ExpectedDowntimeSeconds": downtime, "DowntimeBasis": basis,
            "Resources": [i.resource_id for i in items],
            "ConsistentAt": backup.consistent_at if request.to_consistent_moment else None,
            "AtConsistentMoment": at_moment}


def _replaced(item: RestoreItem, safety_backup: bool, group_id: str | None) -> dict[str, Any]:
    """What the restore puts in place of the live resource, and where the live data stays."""
    if item.resource_type is ResourceType.DISK:
        kept = ("the safety backup's snapshot of it, taken just before" if safety_backup else
                "nowhere: without a safety backup the disk's current content is lost")
        return {"ResourceId": item.resource_id, "ResourceType": str(item.resource_type),
                "From": item.source_artifact_id, "InstanceId": item.instance_id, "SnapshotGroupId": group_id,
                "Action": f"reset to snapshot {item.source_artifact_id} while {item.instance_id or 'no instance'} is "
                          f"stopped", "LiveDataKept": kept}
    names = ", ".join(d.name for d in item.databases) or "no database"
    to = (f" as they were at {item.restore_time} (the backup's consistent moment, from the log backups)"
          if item.restore_time else
          f" from backup set {item.source_artifact_id}, not the consistent moment: {item.restored_to_reason}"
          if item.restored_to else "")
    return {"ResourceId": item.resource_id, "ResourceType": str(item.resource_type), "From": item.source_artifact_id,
            "InstanceId": None, "SnapshotGroupId": None,
            "RestoredTo": item.restored_to, "RestoreTime": item.restore_time,
            "RestoredToReason": item.restored_to_reason or None,
            "Action": f"{names} restored{to} under new names beside the live ones while the service runs, then "
                      f"swapped into place",
            "LiveDataKept": "each live database under its AsideName (Renames), on the same RDS instance"}


def _unusable(w: Ports, backup: BackupRecord, items: list[RestoreItem]) -> list[dict[str, Any]]:
    """Artifacts the cloud no longer has or cannot restore from (expired sets, deleted snapshots, MetaStatus), asked
    of each kind in one batch as the restore asks: the restore refuses them before it records anything."""
    out = []
    for resource_type, kind in RESTORE_KINDS.items():
        backed_up = [backup.item(i.resource_id) for i in items if i.resource_type is resource_type]
        for problem in kind.check_restorable(w, backed_up) if backed_up else []:
            # each sentence names its resource (e.g. "snapshot s-1 of disk d-1 no longer exists")
            named = next((b.resource_id for b in backed_up if b.resource_id in problem), backup.backup_id)
            out.append({"ResourceId": named, "Reason": problem, "Refused": True})
    return out


def _not_owned(w: Ports, backup: BackupRecord, items: list[RestoreItem]) -> list[dict[str, Any]]:
    found = discover(w, backup.service_instance_id)
    return [{"ResourceId": i.resource_id, "Reason": f"{i.resource_id} no longer belongs to "
                                                   f"{backup.service_instance_id} (or moved to another instance): "
                                                   f"the restore would leave it untouched and fail its item"}
            for i in items if not restore_kind_of(i).still_owned(i, found)]


def _databases_blocked(w: Ports, items: list[RestoreItem]) -> list[dict[str, Any]]:
    """What RDS checks before it restores databases: the instance Running (else the restore waits, up to its
    deadline), and the new names free."""
    out = []
    for item in items:
        if item.resource_type is not ResourceType.RDS or not item.databases:
            continue
        try:
            status = w.rds.instance_status(item.resource_id)
            present = {d.name.lower() for d in w.rds.databases(item.resource_id)}
        except CloudError as err:
            out.append({"ResourceId": item.resource_id, "Reason": f"RDS could not be asked about "
                                                                  f"{item.resource_id}: {err.code}"})
            continue
        if not rds_instance_running(status):
            out.append({"ResourceId": item.resource_id,
                        "Reason": f"RDS instance {item.resource_id} is {status}: RDS restores databases only on a "
                                  f"Running instance (the restore waits for it until its deadline)"})
        taken = [n for d in item.databases for n in (d.restored, d.aside) if n.lower() in present]
        if taken:
            out.append({"ResourceId": item.resource_id,
                        "Reason": f"names already taken on {item.resource_id}: {', '.join(taken)}"})
    return out


def _stops(w: Ports, items: list[RestoreItem]) -> list[str]:
    """The ECS instances the restore stops: those its disks are attached to that run now (a database-only restore
    stops none)."""
    ids = sorted({i.instance_id for i in items if i.resource_type is ResourceType.DISK and i.instance_id})
    if not ids:
        return []
    found = w.ecs.describe_instances(ids)
    return [iid for iid in ids if iid in found and found[iid].running]


def _expected_downtime(w: Ports, si: str, stops: list[str]) -> tuple[float | None, str]:
    """The downtime to expect: none when nothing stops; else the longest the service was down in its latest
    restores (measured from the instances' real states); None when none was measured yet."""
    if not stops:
        return 0.0, "nothing is stopped: the service runs throughout (databases are swapped by name)"
    earlier = list_restores(w, si, EARLIER_RESTORES)["Restores"]
    measured = [r["DowntimeSeconds"] for r in earlier
                if r["Status"] == str(RestoreStatus.RESTORED) and r.get("DowntimeSeconds")]
    if not measured:
        return None, "no earlier restore of this service instance stopped its instances: nothing measured yet"
    return max(measured), (f"the longest downtime of the {len(measured)} latest restores of {si} that stopped "
                           f"instances")
