"""A record's cost in money, from what it spent (model/cost.py) and the prices the plan uses (decisions/plan.py
DEFAULT_PRICES, overridable with NESTBACKUP_PRICES): the same keys as the plan's estimate, so the two compare."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .plan import DEFAULT_PRICES

if TYPE_CHECKING:
    from ..model.cost import Cost

GIB = 2 ** 30


def estimate(cost: Cost, prices: dict[str, float] | None = None, *, database_bytes: int = 0) -> dict[str, Any]:
    """The cost's document with its money estimate. `database_bytes`: the part of `bytes_created` that is RDS
    backup sets (priced as RDS backup storage); the rest is snapshots. Storage is per month it is kept."""
    p = {**DEFAULT_PRICES, **(prices or {})}
    snapshot_gib = max(0, cost.bytes_created - database_bytes) / GIB
    usd = {"SnapshotsPerMonth": round(snapshot_gib * p["SnapshotUSDPerGiBMonth"], 4),
           "RdsBackupsPerMonth": round(database_bytes / GIB * p["RdsBackupUSDPerGiBMonth"], 4),
           "FlowTransitions": round(cost.transitions * p["FlowUSDPerTransition"], 6),
           "FunctionCompute": round(cost.gb_seconds * p["FunctionUSDPerGBSecond"], 6)}
    return {**cost.to_doc(), "CostUSD": usd, "TotalUSD": round(sum(usd.values()), 6)}
