"""Starting the ECS instances a restore stopped (the StartingInstance phase and the flow's Catch)."""
from __future__ import annotations

from typing import NamedTuple

from ..ports import Ports


class StartRound(NamedTuple):
    """What one round of starting saw: the instances it found Stopped (so they did stop), and those not Running yet."""
    seen_stopped: list[str]
    not_running: list[str]


def start_stopped(w: Ports, instance_ids: list[str]) -> StartRound:
    """Start those of `instance_ids` that are Stopped (an instance that no longer exists is not waited for)."""
    found = w.ecs.describe_instances(instance_ids)
    stopped = [iid for iid in instance_ids if iid in found and found[iid].stopped]
    if stopped:
        w.ecs.start_instances(stopped)       # one it refuses stays not Running, and is waited for or reported
        found = w.ecs.describe_instances(instance_ids)
    return StartRound(stopped, [iid for iid in instance_ids if iid in found and not found[iid].running])
