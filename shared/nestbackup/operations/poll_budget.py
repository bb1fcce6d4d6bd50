"""One budget of describe calls a minute, shared by every running backup's poll rounds: the sum of their
DescribeSnapshots (DescribeSnapshotGroups, RDS DescribeBackupTasks) calls stays under what the cloud takes per API
and minute however many backups run at once (docs/cloud-fidelity.md, "Scale under the real limits").

One document (`poll-budget` / `calls`) holds the current minute and the calls taken in it, per API. A round reads it
and, when its calls fit under `poll_calls_per_minute` for each API, writes the sums conditional on the version read
(another round's write in between makes it read again); a round that does not fit describes nothing and waits into a
later minute (`decisions.backup.budget_wait`). Every round that polls saw its own calls counted under the limit, so
however many run at once, the calls of the minute stay under it. The document also says how soon the last minute's
budget ran out (the demand, in times the budget): while it is over, a served round waits about that many minutes
too (`decisions.backup.budget_floor`), so backups come back at the pace the budget serves them instead of being
refused in turn (a refused round still costs an invocation and the flow's states).

Advisory under failure: a read or write that fails or whose answer is lost makes the round wait as a refused one
does (over-waiting a minute rather than polling over the limit), never fails the backup; a round alone in a fresh
minute always fits, and one whose item is past its deadline does not ask (backup_poll.py), so none waits for ever.
"""
from __future__ import annotations

from typing import NamedTuple

from .. import logs
from ..decisions.backup import budget_edge_wait, budget_floor, budget_pressure, budget_wait, budget_window
from ..errors import NestBackupError
from ..ports import Ports
from ..ports.records import StaleWrite

POLL_BUDGET = "poll-budget"
KEY = "calls"
ATTEMPTS = 3            # reads and conditional writes before a contended round waits as a refused one


class Budget(NamedTuple):
    wait: int | None        # None: the calls were taken (the round describes); else seconds to wait before asking
    floor: int = 0          # a served round's least wait while the demand is over the budget


def take(w: Ports, wanted: dict[str, int], now: float, seed: str) -> Budget:
    """Take `wanted` calls ({"ecs:DescribeSnapshots": 1, ...}) from this minute's budget. `seed` spreads the waits
    (the backup and its round)."""
    limit = w.settings.poll_calls_per_minute
    wanted = {api: n for api, n in wanted.items() if n > 0}
    if limit <= 0 or not wanted:
        return Budget(None)
    if budget_edge_wait(now) is not None:       # spread into the next minute, not all at its first second
        return Budget(budget_wait(now, 1.0, seed))
    minute = budget_window(now)
    pressure = 1.0
    try:
        for _ in range(ATTEMPTS):
            found = w.documents.get_doc(POLL_BUDGET, KEY)
            doc, version = found or ({}, 0)
            # a later minute already counted (another instance's clock ahead): count in it, never start it over
            minute = max(minute, int(doc.get("Minute") or 0))
            fresh = doc.get("Minute") != minute
            used: dict[str, int] = {} if fresh else dict(doc.get("Used") or {})
            full_at = None if fresh else doc.get("FullAt")
            # the demand of the last minute that ran out, carried into the next one
            before = float(doc.get("Pressure") or 1.0)
            if fresh:
                before = budget_pressure(doc["Minute"] * 60.0, doc.get("FullAt")) \
                    if doc.get("Minute") == minute - 1 else 1.0
            pressure = max(before, budget_pressure(now, full_at) if full_at else 1.0)
            if any(used.get(api, 0) and used.get(api, 0) + n > limit for api, n in wanted.items()):
                return Budget(budget_wait(now, pressure, seed))
            for api, n in wanted.items():
                used[api] = used.get(api, 0) + n
            taken = {"Minute": minute, "Used": used, "Pressure": before,
                     "FullAt": full_at if full_at or max(used.values()) < limit else now}
            if found is None:
                if w.documents.create_doc(POLL_BUDGET, KEY, taken):
                    return Budget(None)
                continue
            try:
                w.documents.update_doc(POLL_BUDGET, KEY, taken, version)
                return Budget(None, budget_floor(pressure, seed))
            except StaleWrite:
                continue
    except NestBackupError as err:          # the store failed or its answer was lost: wait, never fail the backup
        logs.event("poll budget not read", step="poll", reason=str(err))
    return Budget(budget_wait(now, pressure, seed))
