"""The backup flow's poll step: one round describes every running item in batches (each kind its own: ECS snapshots
and groups, RDS backup jobs), advances each and says when to poll again (backup_finalize.py closes the record)."""
from __future__ import annotations

import time

from .. import logs
from ..decisions.backup import (
    CloudProgress,
    Pace,
    advance,
    next_poll_wait,
    next_wait,
    start_units,
)
from ..errors import Conflict
from ..model.records import BackupItem, BackupRecord, epoch_of
from ..model.status import (
    BACKUP_FINAL,
    ITEM_FINAL,
    ItemStatus,
)
from ..ports import Ports
from ..ports.compute import SNAPSHOT_IDS_PER_CALL
from ..ports.flows import BackupFlowInput, execution_name
from ..ports.steps.poll import PollOutput, PollState
from .backup_copies import follow_copies
from .backup_unit import start_unit
from .costs import Meter
from .kinds import KINDS, kind_of
from .loading import read_backup, save
from .poll_budget import Budget, take


def poll(w: Ports, backup_id: str, round_number: int = 0, now: float | None = None, budgeted: bool = True) -> dict:
    """One poll round over every running item; returns what the flow routes on. `budgeted`: its describe calls are
    taken from the poll budget every running backup shares (operations/poll_budget.py); a round the budget refuses
    describes nothing and waits (the sweeper's last look, closing a record, does not ask)."""
    now = time.time() if now is None else now
    s = w.settings
    stored, record = read_backup(w, backup_id)
    if record.status in BACKUP_FINAL:         # closed already (e.g. cancelled): a late step takes no lock back
        return {"BackupId": backup_id, "Done": True, "Wait": 0, "Round": round_number + 1, "Continue": False}
    try:
        w.claims.acquire_lock(record.service_instance_id, backup_id, int(now * 1000), s.lock_lease_seconds * 1000)
    except Conflict:
        pass    # a restore runs this backup under its own lock (safety backup): keep polling our own items
    def deadline(item: BackupItem) -> float:
        kind = kind_of(item)
        return record.started_epoch + (kind.deadline_seconds(s) if kind else 0)

    pending = [i for i in record.items if i.status is ItemStatus.PENDING or i.starting]
    for unit in start_units(pending):
        if now >= deadline(unit[0]):
            for item in unit:
                why = f" (last refusal: {item.wait_reason})" if item.wait_reason else ""
                item.fail("Timeout", f"the backup could not be started before its deadline{why}")
            save(w, stored, record)
        else:
            start_unit(w, stored, record, unit)
    running = [i for i in record.items if i.status is ItemStatus.RUNNING]
    copying = [c for c in record.copies if c.status is ItemStatus.RUNNING]
    budget = Budget(None)
    if (running or copying) and budgeted and all(now < deadline(i) for i in running):
        calls = _describe_calls(running)
        if copying:      # the copies' region is counted with this one's: the budget errs on the side of fewer calls
            calls["ecs:DescribeSnapshots"] = calls.get("ecs:DescribeSnapshots", 0) + \
                -(-len(copying) // SNAPSHOT_IDS_PER_CALL)
        budget = take(w, calls, max(now, time.time()), f"{backup_id}#{round_number}")
    refused = budget.wait
    seen = _describe(w, running) if refused is None else {}
    for item in running if refused is None else []:
        if advance(item, seen.get(item.resource_id), now, deadline(item)):
            kind = kind_of(item)
            if kind and item.status is ItemStatus.SUCCEEDED:
                kind.settle(w, item)
            if item.status is not ItemStatus.RUNNING:
                logs.event("backup item ended", step="poll", record_id=backup_id, resource_id=item.resource_id,
                           status=str(item.status), code=item.error_code, artifact_id=item.artifact_id)
    # a set the cloud lists late: its facts are read once it shows, until the kind's deadline
    unpublished = [i for i in record.items
                   if now < deadline(i) and (kind := kind_of(i)) is not None and kind.facts_pending(w, i)]
    if refused is None:
        follow_copies(w, record, now)
    save(w, stored, record)
    done = all(i.status in ITEM_FINAL for i in record.items) and not unpublished \
        and all(c.final for c in record.copies)
    wait = refused if refused is not None else \
        max(budget.floor, _next_wait(s.poll_schedule, record, seen, now, round_number))
    return {"BackupId": backup_id, "Done": done, "Wait": wait,
            "Round": round_number + 1,
            "Continue": not done and (round_number + 1) % s.poll_rounds_per_execution == 0}


def _next_wait(schedule: str, record: BackupRecord, seen: dict[str, CloudProgress], now: float,
                round_number: int) -> int:
    """When to poll again: from each unfinished item's progress (adaptive), or doubling (NESTBACKUP_POLL_SCHEDULE)."""
    if schedule == "doubling":
        return next_wait(round_number)
    paces = []
    for item in record.items:
        if item.status in ITEM_FINAL:
            continue
        cloud = seen.get(item.resource_id)
        paces.append(Pace(epoch_of(item.start_time) or now, item.progress,
                          cloud.remain_seconds if cloud and item.status is ItemStatus.RUNNING else None))
    return next_poll_wait(now, record.started_epoch, paces, round_number)


def poll_step(w: Ports, backup_id: str, round_number: int, generation: int = 1) -> dict:
    """The flow's poll step. Its `State` routes the flow: Done -> finalize, Wait -> wait `Wait` s and poll again,
    Continue -> this execution has used its event budget; the next generation was started and this one ends."""
    meter = Meter(w)
    out = poll(w, backup_id, round_number)
    state = PollState.DONE if out["Done"] else PollState.CONTINUE if out["Continue"] else PollState.WAIT
    if state is PollState.CONTINUE:
        w.flows.start_once(w.settings.backup_flow, execution_name(backup_id, generation + 1),
                           BackupFlowInput(backup_id, out["Round"], generation + 1))
    meter.charge(backup_id, PollOutput.TRANSITIONS)
    return PollOutput(backup_id, state, out["Wait"], out["Round"], generation).to_event()


def _describe_calls(running: list[BackupItem]) -> dict[str, int]:
    """The calls `_describe` makes, by "product:Action"."""
    calls: dict[str, int] = {}
    for method, kind in KINDS.items():
        mine = [i for i in running if i.method is method]
        for api, n in (kind.describe_calls(mine) if mine else {}).items():
            calls[api] = calls.get(api, 0) + n
    return calls


def _describe(w: Ports, running: list[BackupItem]) -> dict[str, CloudProgress]:
    """What the cloud says of every running item: each kind describes its own items, in batches."""
    seen: dict[str, CloudProgress] = {}
    for method, kind in KINDS.items():
        mine = [i for i in running if i.method is method]
        if mine:
            seen.update(kind.describe_batch(w, mine))
    return seen
