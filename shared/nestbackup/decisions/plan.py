"""What a backup would take and roughly cost, before it runs. Pure: facts and prices in, a plan out.

Prices differ per region and change; the defaults below are assumptions to replace (NESTBACKUP_PRICES, a JSON
object with the same keys), not quotes. The first full snapshot of a disk is billed on the data it holds, which the
ECS API does not tell: the estimate uses the disk size, an upper bound.
"""
from __future__ import annotations

import math
from typing import Any

from ..model.coverage import NotProtected, coverage_note
from ..model.status import ItemStatus
from .backup import DatabaseFacts, DiskFacts, plan_items
from .encryption import warnings as encryption_warnings

DEFAULT_PRICES = {
    "SnapshotUSDPerGiBMonth": 0.017,           # assumption: ECS standard snapshot storage
    "RdsBackupUSDPerGiBMonth": 0.02,           # assumption: RDS backup storage beyond the free quota
    "FlowUSDPerTransition": 0.25 / 10_000,      # CloudFlow standard, international site (reference)
    "FunctionUSDPerGBSecond": 0.000016384,     # assumption: FC 3.0 compute
}
TRANSITIONS_FIXED = 6          # route, prepare, map, finalize, ...
TRANSITIONS_PER_ROUND = 3      # poll, check, pause (bench/backup_scaling.py)
FUNCTION_SECONDS_PER_CALL = 0.5
FUNCTION_GB = 0.5


def plan(si: str, disks: list[DiskFacts], databases: list[DatabaseFacts], db_sizes: dict[str, int | None],
         prices: dict[str, float] | None = None, expected_rounds: int = 12,
         table_restore: dict[str, bool] | None = None,
         not_protected: list[NotProtected] | None = None,
         moment_reach: dict[str, str | None] | None = None) -> dict[str, Any]:
    """`table_restore`: per MySQL instance, whether its backup policy enables database/table restore; backups
    taken without it cannot be restored by RestoreTable (MetaStatus not OK), so the plan warns. `not_protected`:
    what Compute Nest lists that a backup leaves out; the plan lists it and warns. `moment_reach` (with hooks):
    per RDS instance, why a restore of a hooked backup could not bring its databases to the backup's moment T (None:
    it can); the plan warns where it cannot."""
    prices = {**DEFAULT_PRICES, **(prices or {})}
    warnings = [f"{db}: its backup policy does not enable database and table restore (DescribeBackupPolicy "
                f"CompressType is not 4): backups of it cannot be restored into the instance"
                for db, enabled in sorted((table_restore or {}).items()) if not enabled]
    if not_protected:
        warnings.append(f"{coverage_note(not_protected)}: a backup does not include them, and a restore leaves "
                        f"them as they are")
    warnings += [f"{db}: a restore of a hooked backup brings its databases back from their backup set, not to the "
                 f"backup's consistent moment: {why}" for db, why in sorted((moment_reach or {}).items()) if why]
    planned = plan_items(disks, databases)
    items = [i for i in planned if i.status is not ItemStatus.SKIPPED]
    warnings += encryption_warnings({i.resource_id: i.encryption for i in items})
    by_disk = {d.disk_id: d for d in disks}
    resources = []
    for item in planned:
        entry: dict[str, Any] = {"ResourceId": item.resource_id, "ResourceType": str(item.resource_type),
                 "Method": str(item.method) if item.method else None}
        if item.engine:
            entry["Engine"] = item.engine
        if item.status is ItemStatus.SKIPPED:
            entry["Skipped"] = item.error_message
        else:
            entry["Encryption"] = item.encryption
        if item.resource_id in by_disk:
            entry["SizeGiB"] = by_disk[item.resource_id].size_gib
        else:
            entry["Engine"], entry["SizeGiB"] = item.engine, db_sizes.get(item.resource_id)
            if table_restore and item.resource_id in table_restore:
                entry["TableRestore"] = table_restore[item.resource_id]
            if moment_reach is not None and item.resource_id in moment_reach:
                why = moment_reach[item.resource_id]
                entry["ToConsistentMoment"], entry["ToConsistentMomentReason"] = why is None, why
        resources.append(entry)
    disk_gib = sum(by_disk[i.resource_id].size_gib for i in items if i.resource_id in by_disk)
    db_gib = sum(db_sizes.get(i.resource_id) or 0 for i in items if i.resource_id not in by_disk)
    batches = max(1, math.ceil(len(items) / 25))
    transitions = TRANSITIONS_FIXED + 2 * batches + TRANSITIONS_PER_ROUND * expected_rounds
    calls = 2 + batches + expected_rounds
    function_seconds = calls * FUNCTION_SECONDS_PER_CALL
    cost = {"SnapshotsPerMonth": round(disk_gib * prices["SnapshotUSDPerGiBMonth"], 4),
            "RdsBackupsPerMonth": round(db_gib * prices["RdsBackupUSDPerGiBMonth"], 4),
            "FlowTransitions": round(transitions * prices["FlowUSDPerTransition"], 6),
            "FunctionCompute": round(function_seconds * FUNCTION_GB * prices["FunctionUSDPerGBSecond"], 6)}
    return {"ServiceInstanceId": si, "Resources": resources, "Warnings": warnings,
            "NotProtected": [n.to_api() for n in not_protected or []],
            "Estimate": {"DiskGiB": disk_gib, "DatabaseGiB": db_gib, "FlowTransitions": transitions,
                         "FunctionSeconds": function_seconds, "CostUSD": cost,
                         "TotalUSD": round(sum(cost.values()), 4), "Prices": prices,
                         "Note": "first snapshots are billed on the data they hold; sizes here are upper bounds"}}
