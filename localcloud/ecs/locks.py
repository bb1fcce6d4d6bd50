"""ECS snapshot locks: LockSnapshot in compliance mode, enforced by DeleteSnapshot and DeleteSnapshotGroup.

The lock is kept on the snapshot's document (`LockExpiredTime`, epoch seconds). A lock made with a cool-off period
can be shortened during it; nestbackup locks with CoolOffPeriod 0, so once locked a lock only extends. The lock's
clock is the cloud's, plus an offset the control plane can move (`POST /_local/ecs/lock-clock` {"AdvanceSeconds"})
so a test reaches a lock's end without waiting days.
"""
from __future__ import annotations

import time
from typing import Iterable

from ..core.rpc import RpcRequest
from . import errors
from .state import SNAPSHOT, EcsState

# UNCONFIRMED codes (docs/cloud-fidelity.md): the LockSnapshot and DeleteSnapshot references state the rules but list
# no code for a delete of a locked snapshot or a shortened compliance lock.
SNAPSHOT_LOCKED = "OperationDenied.SnapshotLocked"
LOCK_SHORTENED = "InvalidLockDuration.Shortened"
DAY = 86400


class SnapshotLocks(EcsState):
    """The lock actions of `models.Ecs`, and the check the delete actions make."""

    _lock_clock_offset = 0.0

    def lock_clock(self) -> float:
        return time.time() + self._lock_clock_offset

    def LockSnapshot(self, req: RpcRequest) -> dict:
        region = self._snapshot_region(req)       # a copy is locked in its own region
        sid = req.require("SnapshotId")
        mode = req.require("LockMode")
        if mode != "compliance":
            raise errors.invalid("LockMode", "The only lock mode is compliance.")
        days = req.get_int("LockDuration", lo=1, hi=36500)
        if days is None:
            raise errors.missing("LockDuration")
        cool_off = req.get_int("CoolOffPeriod", lo=0, hi=72)
        if cool_off is None:
            raise errors.missing("CoolOffPeriod")
        self.cloud.faults.check_reject(sid)
        found = self.store.get(SNAPSHOT, sid)
        if found is None or found.get("RegionId", self.region) != region:
            raise errors.not_found("snapshot", sid)
        now = self.lock_clock()
        until = now + days * DAY

        def change(doc: dict) -> None:
            held = float(doc.get("LockExpiredTime") or 0)
            cooling = float(doc.get("LockCoolOffUntil") or 0) > now
            if until < held and not cooling:
                raise errors.error(LOCK_SHORTENED, "A snapshot locked in compliance mode after its cool-off period "
                                                   "can only have its lock extended.", 400)
            doc["LockExpiredTime"], doc["LockCoolOffUntil"] = until, now + cool_off * 3600
            doc["LockDuration"] = days

        self.store.update(SNAPSHOT, sid, change)
        return {"LockedSnapshotInfo": {"SnapshotId": sid, "LockMode": "compliance", "LockDuration": days,
                                       "CoolOffPeriod": cool_off, "LockStatus": "compliance-cooloff" if cool_off
                                       else "compliance"}}

    def _refuse_locked(self, snapshot_ids: Iterable[str]) -> None:
        now = self.lock_clock()
        for sid in snapshot_ids:
            doc = self.store.get(SNAPSHOT, sid)
            if doc is not None and float(doc.get("LockExpiredTime") or 0) > now:
                raise errors.error(SNAPSHOT_LOCKED, f"The snapshot {sid} is locked in compliance mode and cannot be "
                                                    f"deleted until its lock expires.", 403)

    def control(self, method: str, parts: list[str], body: dict) -> dict:
        """`POST /_local/ecs/lock-clock` {"AdvanceSeconds": n}: move the locks' clock forward."""
        if method == "POST" and parts == ["lock-clock"]:
            seconds = body.get("AdvanceSeconds")
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
                raise ValueError("AdvanceSeconds must be a number of seconds, at least 0")
            self._lock_clock_offset = self._lock_clock_offset + float(seconds)
            return {"LockClockOffsetSeconds": self._lock_clock_offset}
        raise ValueError(f"no ECS control endpoint {method} {'/'.join(parts)}")
