"""Many scheduled backups under the clouds' published API limits, in virtual time, on the in-memory ports.

What one machine cannot hold is simulated, and only that:
- service instances are disk-only (one ECS instance, one disk each) in the in-memory ports: a disk is a row, no data;
  a snapshot is accomplished at its first describe (a tiny, sparse disk);
- time is virtual (`SimClock` stands in for `time` in the product and the in-memory ports): every cloud call costs
  `CLOUD_CALL_SECONDS`, every Tablestore operation `STORE_CALL_SECONDS`; the timer's tick runs its schedules one
  after another in its own thread (`_InlineExecutor` for its pool of 16 workers, which would read the one virtual
  clock out of turn), each call costing a 16th of its time (as if the 16 workers overlapped perfectly);
  executions run side by side: each event (a tick, or an execution's run up to its next Wait) starts at its own
  virtual time, so the clock moves back between events of different executions, never within one;
- the timer fires every virtual minute (the real `functions/nestbackup-timer` handler) and every flow execution
  runs the real `flows/*.yaml` in the local CloudFlow interpreter; an execution waiting in a top-level Wait state
  is suspended and resumed at its virtual time, so thousands of them interleave as CloudFlow would run them.

Every cloud call and every state entered is recorded at its virtual time and held against `LIMITS`: CloudFlow's
token buckets as published, ECS and RDS per API and minute at one UNCONFIRMED figure (their limits are shown only in
each account's Quota Center). The longest invocation of each function is held against its s.yaml timeout.
`Simulation.run_sweeps` runs the timer's sweep job every 10 virtual minutes over that many running backups until it
has described every one's execution (its DescribeExecution calls held to CloudFlow's bucket)."""
from __future__ import annotations

import heapq
import importlib
import itertools
import pkgutil
import re
import time as _time
from collections import Counter, defaultdict
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nestbackup
from localcloud.fnf.errors import Cancelled, StateError
from localcloud.fnf.interpreter import Interpreter
from nestbackup.model.status import BackupStatus
from nestbackup.operations import schedules
from nestbackup.operations.backup import create_backup
from nestbackup.operations.sweeper import SWEEP_GRACE_SECONDS

from .faults import START_EPOCH, clock_installed
from .flowplay import ROOT, FlowPlayer, _definition
from .memory.wiring import MemoryWiring

_POOL = schedules.ThreadPoolExecutor
CLOUD_CALL_SECONDS = 0.05       # an OpenAPI call from a function in the region (assumed, for durations only)
STORE_CALL_SECONDS = 0.01       # a Tablestore operation over the VPC endpoint (assumed, for durations only)
TIMER_WORKERS = 16              # schedules.tick's default
CRON = "0 3 * * *"              # every instance's schedule: 03:00 UTC


@dataclass(frozen=True)
class Limit:
    size: int           # calls at once (a bucket) or per window
    rate: float         # calls a second refilled (bucket); 0 for a fixed window of `window` seconds
    window: int = 1
    source: str = ""

    def violations(self, times: list[float]) -> int:
        """Calls that the service would have refused."""
        if self.rate == 0:
            per = Counter(int(t // self.window) for t in times)
            return sum(max(0, n - self.size) for n in per.values())
        tokens, then, refused = float(self.size), None, 0
        for t in sorted(times):
            tokens = tokens if then is None else min(float(self.size), tokens + (t - then) * self.rate)
            then = t
            if tokens < 1:
                refused += 1
            else:
                tokens -= 1
        return refused

    def describe(self) -> str:
        return f"{self.size} a {self.window} s window" if self.rate == 0 else \
            f"bucket {self.size}, refilled {self.rate:g}/s"


FLOW_LIMITS = "CloudFlow limits page, alibabacloud.com/help/en/serverless-workflow/latest/limits (help.aliyun.com 122093)"
# ECS: "Region-specific throttling thresholds are defined for different API operations", counted per minute
# ("throttled in minute T ... until minute T + 1"), shown in Quota Center (alibabacloud.com/help/doc-detail/437902.htm);
# the published rows of the ECS quota page (help/en/ecs/developer-reference/api-ecs-2014-05-26-quota) read 500-1,000
# per 60 s, the rows the product calls are not shown. RDS publishes none. UNCONFIRMED: one figure for both.
UNPUBLISHED_PER_MINUTE = 500
UNPUBLISHED = Limit(UNPUBLISHED_PER_MINUTE, 0, 60, "UNCONFIRMED (Quota Center only)")
LIMITS: dict[str, Limit] = {
    "fnf:StartExecution": Limit(100, 100.0, source=FLOW_LIMITS),
    "fnf:DescribeExecution": Limit(50, 5.0, source=FLOW_LIMITS),
    "fnf:StopExecution": Limit(10, 2.0, source=FLOW_LIMITS),
    "fnf:steps": Limit(100, 100.0, source=FLOW_LIMITS + ": maximum step entry rate"),
    **{f"ecs:{a}": UNPUBLISHED for a in ("CreateSnapshot", "CreateSnapshotGroup", "DescribeSnapshots",
                                          "DescribeSnapshotGroups", "DescribeDisks", "DescribeInstances",
                                          "DeleteSnapshot", "DeleteSnapshotGroup", "ListTagResources")},
    **{f"rds:{a}": UNPUBLISHED for a in ("CreateBackup", "DescribeBackupTasks", "DeleteBackup")},
}
MAX_RUNNING_EXECUTIONS = 10_000   # the same page: executions Running at once per account


def function_timeouts() -> dict[str, int]:
    """Each function's s.yaml timeout (seconds), by function name."""
    text = (ROOT / "s.yaml").read_text()
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r"functionName: (\S+)\n(?:.*\n)*?\s+timeout: (\d+)", text)}


class SimClock:
    """Stands in for the `time` module: virtual seconds that move only when something costs time."""

    def __init__(self, start: float) -> None:
        self.now = start
        self.start = start
        self.overlap = 1           # calls made at once (the timer's workers): each costs 1/overlap of its time

    def time(self) -> float:
        self.now += 1e-6            # ids made one after another differ
        return self.now

    def monotonic(self) -> float:
        return self.time() - self.start + 1000.0

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, float(seconds))

    def cost(self, seconds: float) -> None:
        self.now += seconds / self.overlap

    def set(self, when: float) -> None:
        self.now = when

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)


class _Costly:
    """A lock that costs a Tablestore call each time it is taken: the in-memory store takes it once per operation."""

    def __init__(self, lock, clock: SimClock, calls: Counter) -> None:
        self.lock, self.clock, self.calls = lock, clock, calls

    def __enter__(self):
        self.clock.cost(STORE_CALL_SECONDS)
        self.calls["ots"] += 1
        return self.lock.__enter__()

    def __exit__(self, *exc):
        return self.lock.__exit__(*exc)


class _InlineExecutor:
    """The tick's thread pool in virtual time: each task runs when submitted, in the submitting thread."""

    def __init__(self, max_workers: int | None = None) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, fn, *iterables):
        return [fn(*args) for args in zip(*iterables)]

    def submit(self, fn, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:  # noqa: BLE001 - handed to whoever reads the future, as a pool does
            future.set_exception(err)
        return future


class _Suspend(BaseException):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


@dataclass
class Outcome:
    instances: int
    seconds_until_final: float
    statuses: Counter
    backups_per_instance: Counter
    peaks: dict[str, tuple[int, int, str]]        # api -> (peak in its window, limit, source)
    refused: dict[str, int]                        # api -> calls its limit would have refused
    running_peak: int
    longest: dict[str, tuple[float, int]]          # function -> (longest invocation, timeout)
    ticks: int
    wall_seconds: float
    calls: Counter = field(default_factory=Counter)

    @property
    def within_limits(self) -> bool:
        return not any(self.refused.values()) and self.running_peak <= MAX_RUNNING_EXECUTIONS and \
            all(d <= t for d, t in self.longest.values())


class Simulation(FlowPlayer):
    """`instances` service instances whose schedules all fire at 03:00, run until every backup is final."""

    strict = True

    def __init__(self, instances: int, snapshot_seconds: float = 0, **settings: Any) -> None:
        """`snapshot_seconds`: how long a snapshot takes (0: accomplished at its first describe)."""
        super().__init__(MemoryWiring(steps=0 if snapshot_seconds else 1, **settings))
        self.instances = instances
        self.snapshot_seconds = snapshot_seconds
        self.clock = SimClock(START_EPOCH - START_EPOCH % 86400 + 2 * 3600)      # 02:00 UTC
        self.calls: list[tuple[str, float]] = []
        self.store_calls: Counter = Counter()
        self.longest: dict[str, float] = defaultdict(float)
        self._seq = itertools.count()
        self._queue: list[tuple[float, int, str, Any]] = []
        self._running_now: tuple[str, str] | None = None
        self._resumed: str | None = None
        self._checkpoint: tuple[str, dict] | None = None
        self.running_peak = 0
        self._started: list[tuple[tuple[str, str], float]] = []
        self._running_count = 0

    # -- the cloud's clock and meters
    def _metered(self, product: str, refusals) -> None:
        call = refusals.call

        def metered(action: str) -> None:
            self.clock.cost(CLOUD_CALL_SECONDS)
            self.calls.append((f"{product}:{action}", self.clock.now))
            call(action)
        refusals.call = metered

    def _install(self) -> None:
        w = self.w
        for product, port in (("ecs", w.ecs), ("rds", w.rds), ("fnf", w.flows)):
            self._metered(product, port.refusals)
        if self.snapshot_seconds:
            for name in ("describe_snapshots", "describe_snapshot_groups"):
                described = getattr(w.ecs, name)

                def in_time(ids, _described=described):
                    ids = list(ids)
                    self._finish_due(ids)
                    return _described(ids)
                setattr(w.ecs, name, in_time)
        start_once = w.flows.start_once

        def noted(flow, name, start):
            new = (flow, name) not in w.flows.executions
            started = start_once(flow, name, start)
            if new and (flow, name) in w.flows.executions:
                self._started.append(((flow, name), self.clock.now))
            return started
        w.flows.start_once = noted
        w.store._lock = _Costly(w.store._lock, self.clock, self.store_calls)
        for name in ("service_instance", "resources"):
            original = getattr(w.computenest, name)

            def costly(*args, _original=original, _name=name):
                self.clock.cost(CLOUD_CALL_SECONDS)
                self.calls.append((f"computenest:{_name}", self.clock.now))
                return _original(*args)
            setattr(w.computenest, name, costly)

    def _finish_due(self, ids: list[str]) -> None:
        """Snapshots (or a group's members) started `snapshot_seconds` ago or more are accomplished."""
        ecs = self.w.ecs
        for sid in ids:
            members = ecs.groups[sid]["members"] if sid in ecs.groups else [sid]
            for member in members:
                snap = ecs.snapshots.get(member)
                if snap and snap["status"] == "progressing":
                    if self.clock.now - snap["created"] >= self.snapshot_seconds:
                        ecs.finish(member)
                    else:
                        snap["progress"] = int(99 * (self.clock.now - snap["created"]) / self.snapshot_seconds)

    # -- the interpreter's hooks
    def invoke(self, arn, body, state):
        began = self.clock.now
        try:
            return super().invoke(arn, body, state)
        finally:
            name = arn.rsplit("/", 1)[-1] if "functions/" not in arn else arn.split("functions/")[1].split("/")[0]
            self.longest[name] = max(self.longest[name], self.clock.now - began)

    def checkpoint(self, state, state_input, wait_until=None):
        self._checkpoint = (state, state_input)

    def sleep(self, seconds, state, top, until=None):
        if until is not None:
            return                                     # resumed at its time
        if top:
            raise _Suspend(seconds)
        self.clock.sleep(seconds)                      # a retry's delay inside a step

    def transition(self, state):
        if self._resumed == state:                     # the Wait state it was suspended in, entered again
            self._resumed = None
            return
        self.calls.append(("fnf:steps", self.clock.now))

    def cancelled(self):
        flow, name = self._running_now
        return self._executions()[(flow, name)]["status"] == "Stopped"

    # -- the event loop
    def _at(self, when: float, kind: str, payload: Any) -> None:
        heapq.heappush(self._queue, (when, next(self._seq), kind, payload))

    def _schedule_started(self) -> None:
        for key, when in self._started:             # it runs from when it was started
            self._executions()[key]["played"] = True
            self._running_count += 1
            self._at(when, "run", (key, None, None, None))
        self._started.clear()

    def _step(self, key, state, data, until) -> None:
        flow, name = key
        execution = self._executions()[key]
        self._running_now, self._resumed, self._checkpoint = key, state, None
        try:
            Interpreter(_definition(flow), self, name, execution["input"]).run(state, data, until)
            execution["status"] = "Succeeded"
        except _Suspend as pause:
            at = self.clock.now + pause.seconds
            state_name, state_input = self._checkpoint
            self._at(at, "run", (key, state_name, state_input, at))
            return
        except Cancelled:
            pass
        except StateError as err:
            execution["status"] = "Failed"
            self.failures.append(f"{name} of {flow} failed: {err.code}: {err.detail}")
        self._running_count -= 1

    def _tick(self) -> dict:
        began = self.clock.now
        handler = self.functions.handler("nestbackup-timer")
        self.clock.overlap, schedules.ThreadPoolExecutor = TIMER_WORKERS, _InlineExecutor
        try:
            out = handler(b'{"payload": "{\\"Job\\": \\"schedules\\"}"}', self.functions.context("nestbackup-timer"))
        finally:
            self.clock.overlap, schedules.ThreadPoolExecutor = 1, _POOL
        self.longest["nestbackup-timer"] = max(self.longest["nestbackup-timer"], self.clock.now - began)
        return out

    def run(self, limit_minutes: int = 24 * 60) -> Outcome:
        wall = _time.perf_counter()
        for module in _product_modules():
            importlib.import_module(module)            # loaded before the clock goes in, so it reaches them
        w = self.w
        with clock_installed(self.clock):              # type: ignore[arg-type]
            names = [f"si-scale-{n:05d}" for n in range(self.instances)]
            for si in names:
                w.seed(si, disks_per_instance=1)
            schedules.set_schedule(w, names[0], CRON, now=self.clock.now)
            doc = w.store.get_doc(schedules.SCHEDULES, names[0])[0]
            for si in names[1:]:                        # the same schedule, without checking the cron again
                w.store.put_doc(schedules.SCHEDULES, si, doc)
            self._install()
            first = self.clock.now - self.clock.now % 86400 + 3 * 3600
            for minute in range(limit_minutes):
                self._at(first + 60 * minute, "tick", None)
            ticks, deferred, final_at = 0, True, None
            backups: Counter = Counter()
            while self._queue:
                when, _, kind, payload = heapq.heappop(self._queue)
                self.clock.set(when)
                if kind == "tick":
                    if not deferred and not self._running():
                        break
                    out = self._tick()
                    ticks += 1
                    deferred = out.get("Deferred", 0) > 0 or out.get("Fired", 0) > 0
                else:
                    self._step(*payload)
                self._schedule_started()
                self.running_peak = max(self.running_peak, self._running())
            final_at = max((t for _, t in self.calls), default=first)
            statuses: Counter = Counter()
            for si in names:
                ids, _ = w.store.list_ids(si, "backup", 10)
                backups[len(ids)] += 1
                for record_id in ids:
                    statuses[w.store.read(record_id).header["Status"]] += 1
        by_api: dict[str, list[float]] = defaultdict(list)
        for api, t in self.calls:
            by_api[api].append(t)
        peaks, refused = {}, {}
        for api, times in sorted(by_api.items()):
            limit = LIMITS.get(api)
            if limit is None:
                continue
            window = limit.window
            peaks[api] = (max(Counter(int(t // window) for t in times).values()), limit.size, limit.describe())
            refused[api] = limit.violations(times)
        timeouts = function_timeouts()
        return Outcome(self.instances, final_at - first, statuses, backups, peaks, refused, self.running_peak,
                       {f: (round(d, 1), timeouts.get(f, 0)) for f, d in sorted(self.longest.items())}, ticks,
                       _time.perf_counter() - wall, Counter(a for a, _ in self.calls) + self.store_calls)

    def _running(self) -> int:
        return self._running_count

    def run_sweeps(self, max_sweeps: int = 100) -> SweepOutcome:
        """`instances` backups running (their flows Running, never played), then the timer's sweep job every 10
        virtual minutes (s.yaml's cron) until the sweeper has described every one's execution."""
        wall = _time.perf_counter()
        for module in _product_modules():
            importlib.import_module(module)
        w = self.w
        looked: Counter = Counter()
        with clock_installed(self.clock):              # type: ignore[arg-type]
            ids = []
            for n in range(self.instances):
                w.seed(f"si-sweep-{n:05d}", disks_per_instance=1)
                ids.append(create_backup(w, f"si-sweep-{n:05d}")["BackupId"])
            self._install()
            describe = w.flows.describe

            def noted(flow, name):
                looked[re.sub(r"-g\d+$", "", name)] += 1
                return describe(flow, name)
            w.flows.describe = noted
            self.calls.clear()
            handler = self.functions.handler("nestbackup-timer")
            started = self.clock.now + SWEEP_GRACE_SECONDS + 60
            longest, sweeps, left = 0.0, 0, []
            while sweeps < max_sweeps:
                self.clock.set(started + 600 * sweeps)
                began = self.clock.now
                out = handler(b'{"payload": "{\\"Job\\": \\"sweep\\"}"}', self.functions.context("nestbackup-timer"))
                longest, sweeps = max(longest, self.clock.now - began), sweeps + 1
                left.append(out["LeftForNextSweep"])
                if all(looked[i] for i in ids):
                    break
        times = [t for api, t in self.calls if api == "fnf:DescribeExecution"]
        limit = LIMITS["fnf:DescribeExecution"]
        return SweepOutcome(self.instances, sweeps, longest, function_timeouts()["nestbackup-timer"],
                            sum(1 for i in ids if looked[i]), left, len(times),
                            max(Counter(int(t) for t in times).values(), default=0), limit.violations(times),
                            _time.perf_counter() - wall)


@dataclass
class SweepOutcome:
    records: int
    sweeps: int                    # sweeps until every record's execution was described
    longest: float                 # the longest sweep invocation, virtual seconds
    timeout: int                   # the timer function's (s.yaml)
    looked_at: int                 # records whose execution some sweep described
    left: list[int]                # per sweep, the records it left to the next one
    describes: int                 # DescribeExecution calls in all
    describe_peak: int             # the most in one second
    describe_refused: int          # those CloudFlow's bucket would have refused
    wall_seconds: float


def _product_modules() -> list[str]:
    out = []
    for package in ("operations", "decisions", "model"):
        path = Path(nestbackup.__file__).parent / package
        out += [f"nestbackup.{package}.{m.name}" for m in pkgutil.walk_packages([str(path)])]
    return out + ["nestbackup.operations.kinds." + m.name for m in
                  pkgutil.iter_modules([str(Path(nestbackup.__file__).parent / "operations" / "kinds")])]


def all_final(outcome: Outcome) -> bool:
    return set(outcome.statuses) <= {BackupStatus.CREATED.value} and \
        outcome.backups_per_instance == Counter({1: outcome.instances})
