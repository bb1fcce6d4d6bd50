"""Backup decisions, no I/O: which items a backup has, and how each disk is snapshotted."""
from __future__ import annotations

import math
import zlib
from collections import defaultdict
from typing import Any, Iterable, NamedTuple

from ..model.causes import GROUP_MEMBER_FAILED
from ..model.engines import ENGINES
from ..model.records import BackupItem, BackupMethod, ResourceType
from ..model.status import ItemStatus, primary_instance, snapshot_item_status

# CreateSnapshotGroup limits. The doc page says 16 disks / 32 TiB per group, the SDK 7.11.8 comment 128 / 256 TiB;
# the lower figures are used until the newer ones are confirmed for every region.
GROUP_MAX_DISKS = 16
GROUP_MAX_GIB = 32 * 1024
GROUP_CATEGORIES = frozenset({"cloud_essd", "cloud_auto", "cloud_essd_entry"})   # ESSD family only


class DiskFacts(NamedTuple):
    """What the plan needs to know of a disk."""
    disk_id: str
    instance_id: str | None
    category: str
    size_gib: int
    multi_attach: bool = False
    encryption: dict[str, Any] | None = None     # decisions/encryption.py, from DescribeDisks


class DatabaseFacts(NamedTuple):
    """What the plan needs to know of an RDS instance."""
    db_instance_id: str
    engine: str
    db_instance_type: str = "Primary"    # Primary | Readonly | Guard | Temp
    master_instance_id: str = ""
    encryption: dict[str, Any] | None = None     # decisions/encryption.py, from TDE and the encryption key


def skip_reason(db: DatabaseFacts) -> str | None:
    """Why an RDS instance is not backed up itself, or None. Only primaries are: a read-only replica holds the
    primary's data (and RDS refuses CreateBackup on it); guard and temporary instances are not the service's."""
    if primary_instance(db.db_instance_type):
        return None
    of = f" of {db.master_instance_id}" if db.master_instance_id else ""
    return f"{db.db_instance_type} instance{of}: only primary RDS instances are backed up"


def groupable(disks: list[DiskFacts]) -> bool:
    """Can one crash-consistent snapshot group cover exactly these disks of one instance?"""
    return (1 < len(disks) <= GROUP_MAX_DISKS
            and sum(d.size_gib for d in disks) <= GROUP_MAX_GIB
            and all(d.category in GROUP_CATEGORIES and not d.multi_attach for d in disks))


def plan_items(disks: Iterable[DiskFacts], databases: Iterable[DatabaseFacts],
               use_groups: bool = True) -> list[BackupItem]:
    """One item per resource, in a stable order: disks by instance, then databases.

    Every disk of an instance goes into one snapshot group when all of them qualify; otherwise each disk gets its
    own snapshot. RDS engines not in the engine table (model/engines.py: MySQL, PostgreSQL, SQL Server) are not
    backed up; replicas get a Skipped item that says why."""
    by_instance: dict[str | None, list[DiskFacts]] = defaultdict(list)
    for disk in sorted(disks, key=lambda d: (d.instance_id or "", d.disk_id)):
        by_instance[disk.instance_id].append(disk)
    items: list[BackupItem] = []
    for instance_id, members in by_instance.items():
        method = (BackupMethod.SNAPSHOT_GROUP if use_groups and instance_id and groupable(members)
                  else BackupMethod.SNAPSHOT)
        items += [BackupItem(d.disk_id, ResourceType.DISK, instance_id=instance_id, method=method,
                             encryption=d.encryption) for d in members]
    for db in sorted(databases, key=lambda d: d.db_instance_id):
        reason = skip_reason(db)
        if reason:
            items.append(BackupItem(db.db_instance_id, ResourceType.RDS, engine=db.engine,
                                    status=ItemStatus.SKIPPED, error_message=reason))
        elif db.engine in ENGINES:
            items.append(BackupItem(db.db_instance_id, ResourceType.RDS, engine=db.engine,
                                    method=BackupMethod.RDS_BACKUP, encryption=db.encryption))
    return items


class CloudProgress(NamedTuple):
    """What the cloud says of one item's work, already mapped to our vocabulary (see model.status)."""
    status: ItemStatus
    progress: int = 0
    artifact_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    remain_seconds: float | None = None     # the cloud's own estimate of the time left (ECS RemainTime), if any
    size_bytes: int | None = None           # what the cloud keeps of it (a snapshot's full size), if it says
    encryption: dict[str, Any] | None = None  # the artifact's own encryption (a snapshot's), if it says


def failed_group_outcomes(group_id: str, members: dict[str, tuple[str, str, int]]) -> dict[str, CloudProgress]:
    """Each disk's outcome in a snapshot group ECS reported as failed. `members`: disk id -> (its member snapshot
    id, that snapshot's own status from DescribeSnapshots, "" if ECS no longer lists it; its progress).

    The disks whose own snapshot did not complete carry ECS's failure. A disk whose own snapshot completed fails
    with GroupMemberFailed naming the group and the disks that failed: its snapshot is kept and shown, but restoring
    it alone would break the crash consistency the group was for, so the backup does not count it."""
    culprits = sorted(d for d, (_, status, _) in members.items()
                      if snapshot_item_status(status) is not ItemStatus.SUCCEEDED)
    if not culprits:           # the group failed, yet every member says it completed: ECS does not say which
        culprits = sorted(members)
    out: dict[str, CloudProgress] = {}
    for disk, (snapshot, status, progress) in members.items():
        if disk in culprits:
            out[disk] = CloudProgress(ItemStatus.FAILED, progress, snapshot, "SnapshotFailed",
                                      f"ECS reported snapshot {snapshot} of {disk} as {status or 'gone'} "
                                      f"(snapshot group {group_id} failed)")
        else:
            out[disk] = CloudProgress(ItemStatus.FAILED, 100, snapshot, GROUP_MEMBER_FAILED,
                                      f"its own snapshot {snapshot} completed, but snapshot group {group_id} failed "
                                      f"on {', '.join(culprits)}; restoring this disk alone would break crash "
                                      f"consistency with {', '.join(culprits)}, so the backup does not count it")
    return out


ARTIFACT_NOT_FOUND = "ArtifactNotFound"      # a running item whose artifact the cloud no longer knows


def advance(item: BackupItem, seen: CloudProgress | None, now: float, deadline: float) -> bool:
    """Move a running item on from what the cloud reported; True if the item changed.

    A running item the cloud no longer knows fails (its artifact was deleted behind our back); one still running
    past its deadline fails with `Timeout`."""
    if item.status is not ItemStatus.RUNNING:
        return False
    before = (item.status, item.progress, item.artifact_id)
    if seen is None:
        item.fail(ARTIFACT_NOT_FOUND, f"the cloud no longer knows {item.artifact_id or item.group_id or item.job_id}")
        return True
    if seen.artifact_id:        # a failed one's too: it is shown, and deleting the backup deletes it
        item.artifact_id = seen.artifact_id
    if seen.size_bytes:
        item.size_bytes = seen.size_bytes
    if seen.encryption:
        item.encryption = seen.encryption
    if seen.status is ItemStatus.FAILED:
        item.fail(seen.error_code or "BackupFailed",
                  seen.error_message or f"the cloud reported the backup of {item.resource_id} as failed")
        return True
    item.progress = max(item.progress, min(100, seen.progress))
    if seen.status is ItemStatus.SUCCEEDED:
        item.status, item.progress = ItemStatus.SUCCEEDED, 100
    elif now >= deadline:
        item.fail("Timeout", f"still in progress ({item.progress}%) at its deadline")
    return (item.status, item.progress, item.artifact_id) != before


def next_wait(round_number: int, first: int = 2, cap: int = 300) -> int:
    """Seconds to wait before poll round `round_number` (0-based): doubling from `first` up to CloudFlow's
    300 s Wait limit, so a day-long backup needs few rounds and a quick one is seen quickly."""
    return int(min(cap, first * 2 ** min(round_number, 16)))


# A record is final within max(PROMPT_FLOOR_SECONDS, PROMPT_SHARE x the operation's elapsed time) after its last
# resource finished (issue 14), as long as the cloud's progress is a fair guide to the time left.
PROMPT_FLOOR_SECONDS = 5
PROMPT_SHARE = 0.05
WAIT_LIMIT_SECONDS = 300        # CloudFlow's longest Wait
# Of the predicted time left, the share waited in one hop: short enough that a prediction that was too long is
# corrected on the next round, long enough that the hops shrink geometrically towards the end.
HOP_SHARE = 0.8


class Pace(NamedTuple):
    """How far one running item is: when its cloud work started, its reported progress, and the cloud's own estimate
    of the time left when it gives one."""
    started_epoch: float
    progress: int
    remain_seconds: float | None = None

    def time_left(self, now: float) -> float | None:
        """The cloud's estimate, else a straight line through the progress so far; None before any progress. Clouds
        report whole percents (truncated), so the line is drawn through progress + 1: it may end early, never late."""
        if self.remain_seconds is not None and self.remain_seconds > 0:
            return self.remain_seconds
        if 0 < self.progress < 100:
            done = min(100, self.progress + 1)
            return (now - self.started_epoch) * (100 - done) / done
        return None


def next_poll_wait(now: float, operation_started: float, paces: list[Pace], round_number: int) -> int:
    """Seconds before the next poll round: from each running item's progress, hop towards the latest predicted end,
    and near it poll every max(5 s, 5 % of the elapsed time), so the record ends promptly without polling more often
    than the doubling schedule far from the end. Items without progress yet fall back to the doubling schedule."""
    slack = max(PROMPT_FLOOR_SECONDS, PROMPT_SHARE * max(0.0, now - operation_started))
    left = [p.time_left(now) for p in paces]
    known = [t for t in left if t is not None]
    if not paces or len(known) < len(paces):
        return next_wait(round_number)
    latest = max(known)
    wait = slack if latest <= slack else min(WAIT_LIMIT_SECONDS, max(slack, HOP_SHARE * latest))
    # Never ahead of the doubling schedule in rounds: where the progress misleads (a task that sits at 95 %), the
    # rounds fall back to its pace instead of polling every few seconds.
    not_before = doubling_time(round_number + 1) - (now - operation_started)
    return max(1, int(min(WAIT_LIMIT_SECONDS, max(wait, not_before))))


# ECS counts each API's calls per region, account and minute ("throttled in minute T" -> callable again in minute
# T + 1; docs/cloud-fidelity.md, "Scale under the real limits"): the poll budget is counted in the same minutes.
BUDGET_WINDOW_SECONDS = 60
# A round refused by the budget comes back spread over at most this many minutes (demand that many times the budget).
BUDGET_SPREAD_WINDOWS = 4


# A round's calls follow its take by a store write: one that would take this close to a minute's end waits for the
# next minute instead, so its calls land in the minute they were counted in.
BUDGET_EDGE_SECONDS = 1


def budget_window(now: float) -> int:
    """The minute whose budget a round taking its calls at `now` counts against."""
    return int(now // BUDGET_WINDOW_SECONDS)


def budget_edge_wait(now: float) -> int | None:
    """Seconds to the next minute when `now` is within BUDGET_EDGE_SECONDS of a minute's end, else None."""
    left = BUDGET_WINDOW_SECONDS - now % BUDGET_WINDOW_SECONDS
    return max(1, math.ceil(left)) if left <= BUDGET_EDGE_SECONDS else None


def budget_pressure(now: float, full_at: float | None) -> float:
    """How many times the budget the demand of the minute of `now` is, from when its budget ran out (`full_at`): 60 / f
    for a budget spent `f` s into the minute, 1 when it was not spent; at most BUDGET_SPREAD_WINDOWS."""
    start = budget_window(now) * BUDGET_WINDOW_SECONDS
    filled_in = (full_at - start) if full_at is not None and full_at >= start else BUDGET_WINDOW_SECONDS
    return min(float(BUDGET_SPREAD_WINDOWS), BUDGET_WINDOW_SECONDS / max(1.0, filled_in))


def _point(seed: str) -> float:
    """A place in [0, 1) that `seed` (a backup and its round) picks: the same round the same place, rounds apart."""
    return zlib.crc32(seed.encode()) / 2 ** 32


def budget_wait(now: float, pressure: float, seed: str) -> int:
    """Seconds before a poll round the budget refused asks again: into a later minute, at a place `seed` picks,
    spread over as many minutes as the demand is times the budget (`budget_pressure`), so the rounds refused come
    back about as fast as a minute's budget serves them, and no backup's place is the same each time."""
    start = budget_window(now) * BUDGET_WINDOW_SECONDS
    wait = start + BUDGET_WINDOW_SECONDS - now + _point(seed) * max(1.0, pressure) * BUDGET_WINDOW_SECONDS
    return max(1, min(WAIT_LIMIT_SECONDS, int(wait)))


def budget_floor(pressure: float, seed: str) -> int:
    """The least wait after a round the budget served while the demand is over it: about `pressure` minutes (from
    half to one and a half of it), so the backups come back at the pace the budget serves them instead of being
    refused in turn (each refused round still enters CloudFlow states). 0 while the demand fits."""
    if pressure <= 1:
        return 0
    return min(WAIT_LIMIT_SECONDS, int(pressure * BUDGET_WINDOW_SECONDS * (0.5 + _point(seed))))


def doubling_time(rounds: int) -> int:
    """Seconds from the first poll round to round `rounds` (0-based) on the doubling schedule."""
    return sum(next_wait(k) for k in range(rounds))


START_BATCH_UNITS = 25      # units one start invocation handles; the flow's Map runs batches in parallel


def start_units(items: Iterable[BackupItem]) -> list[list[BackupItem]]:
    """The cloud calls a backup needs, in record order: one per snapshot group (every disk of an instance), one per
    other item."""
    units: list[list[BackupItem]] = []
    groups: dict[str, list[BackupItem]] = {}
    for item in items:
        if item.method is BackupMethod.SNAPSHOT_GROUP and item.instance_id:
            if item.instance_id not in groups:
                groups[item.instance_id] = []
                units.append(groups[item.instance_id])
            groups[item.instance_id].append(item)
        else:
            units.append([item])
    return units


def batch_indexes(unit_count: int, size: int = START_BATCH_UNITS) -> list[int]:
    return list(range((unit_count + size - 1) // size))


def client_token(record_id: str, key: str) -> str:
    """ECS ClientToken: at most 64 ASCII characters, the same for every retry of the same start."""
    token = f"{record_id}-{key}"
    if len(token) <= 64:
        return token
    import hashlib
    return f"{record_id[:30]}-{hashlib.sha256(token.encode()).hexdigest()[:33]}"
