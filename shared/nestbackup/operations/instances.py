"""Starting the ECS instances a restore stopped (the StartingInstance phase and the flow's Catch)."""
from __future__ import annotations

from ..ports import Ports


def start_stopped(w: Ports, instance_ids: list[str]) -> list[str]:
    """Start those of `instance_ids` that are Stopped; the ones not Running yet (an instance that no longer exists is
    not waited for)."""
    found = w.ecs.describe_instances(instance_ids)
    stopped = [iid for iid in instance_ids if iid in found and found[iid].stopped]
    if stopped:
        w.ecs.start_instances(stopped)
        found = w.ecs.describe_instances(instance_ids)
    return [iid for iid in instance_ids if iid in found and not found[iid].running]
