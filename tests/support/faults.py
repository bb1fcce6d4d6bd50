"""The fault matrix's harness: every call an operation makes to a port, failing in each way the real services fail.

`FaultyWiring` is a `MemoryWiring` whose ports (compute, databases, catalog, flows, records, claims, documents, the
database gateway, webhooks) are proxies that count every call by name (`compute.create_snapshot#1`: the first
CreateSnapshot) and make the one call the `Injector` targets fail in one way:

- `error`: the call is not applied and the port raises what its adapter raises once its own retries gave up (a
  CloudError answered with HTTP 500; a webhook post answers failed);
- `lost`: the call is applied, then its answer is lost (the adapter's `Unreachable`, a read timeout);
- `crash`: the call is applied, then the process dies (`ProcessDied`, a BaseException: no `except Exception` of the
  product sees it). Every later call of that process dies too (a `finally` of a dead process writes nothing) until
  its boundary catches it: the flow player turns it into the task's failure (its Retry and Catch apply), the
  `Client` into a 5xx answer.

A `VirtualClock` replaces the `time` module in the product and the in-memory ports, so leases, grace periods and
deadlines pass in no time. `violations(w)` reads the in-memory state directly and says, in words, what breaks an
invariant: a record not final or whose status is false, an artifact no record owns (or two for one), a lock or
token held for no live record, an instance left stopped, a drill's scratch disk or database left. `run_cell` plays one scenario with one fault and returns
the violations."""
from __future__ import annotations

import functools
import sys
import threading
import time as _time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Callable, Iterator

from localcloud.fnf.errors import FC_UNHANDLED, StateError
from nestbackup.decisions.dbnames import short_id
from nestbackup.decisions.retention import Retention
from nestbackup.errors import CloudError, Conflict, NestBackupError, NotFound, ValidationError
from nestbackup.model.ids import DRILL_TAG, OWNER_TAG
from nestbackup.model.selection import RestoreRequest, Selection
from nestbackup.model.status import (
    BACKUP_FINAL,
    DRILL_FINAL,
    RESTORE_FINAL,
    BackupStatus,
    DrillStatus,
    ItemStatus,
    RestorePhase,
    RestoreStatus,
)
from nestbackup.model.undo import UNDO_TAG, UndoState
from nestbackup.operations.artifacts import delete_backup
from nestbackup.operations.backup import create_backup, get_backup
from nestbackup.operations.backup_hooks import FROZEN, freeze
from nestbackup.operations.backup_poll import poll as backup_poll
from nestbackup.operations.backup_settings import set_backup_settings
from nestbackup.operations.backup_start import start_batch, start_batch_count
from nestbackup.operations.cancel import cancel_backup, cancel_restore
from nestbackup.operations.catalog_transfer import export_page, import_entries
from nestbackup.operations.drill import RUNNING as DRILLS_RUNNING
from nestbackup.operations.drill import create_drill
from nestbackup.operations.drill_steps import advance as drill_advance
from nestbackup.operations.loading import read_backup, save
from nestbackup.operations.locks import set_lock
from nestbackup.operations.restore import advance, create_restore, get_restore
from nestbackup.operations.restore_point_in_time import create_point_in_time_restore
from nestbackup.operations.restore_preview import preview
from nestbackup.operations.schedules import apply_retention, set_schedule, tick
from nestbackup.operations.sweeper import SWEEP_GRACE_SECONDS, sweep
from nestbackup.operations.timeline import TimelineRecords
from nestbackup.operations.undo import create_undo
from nestbackup.ports.catalog import ServiceCatalog
from nestbackup.ports.claims import Claims
from nestbackup.ports.compute import Compute
from nestbackup.ports.databases import Databases
from nestbackup.ports.documents import Documents
from nestbackup.ports.flows import Flows
from nestbackup.ports.gateway import DatabaseGateway
from nestbackup.ports.records import HEADER, Records
from nestbackup.ports.webhooks import Outcome, Webhooks

from .flowplay import MAX_TRANSITIONS, FlowPlayer
from .memory.records import MemoryStore
from .memory.wiring import MemoryWiring

WAYS = ("error", "lost", "crash")
START_EPOCH = 1_900_000_000.0
RECORD_FINAL = {str(s) for s in BACKUP_FINAL | RESTORE_FINAL | DRILL_FINAL}
STORE_PORTS = ("records", "claims", "documents")


class ProcessDied(BaseException):
    """The function's (or the API request's) process died right after a call; nothing after it runs."""


# -- the virtual clock
class VirtualClock:
    """Stands in for the `time` module: each reading moves it on by a millisecond (so ids made one after another
    differ and a loop waiting on a deadline ends), `sleep` moves it on by the time asked, `advance` by the test."""

    def __init__(self, start: float = START_EPOCH) -> None:
        self._now = start
        self._start = start
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            self._now += 0.001
            return self._now

    def monotonic(self) -> float:
        return self.time() - self._start + 1000.0

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, float(seconds))

    def peek(self) -> float:
        return self._now

    def __getattr__(self, name: str) -> Any:          # strftime, gmtime, ...: the real module's
        return getattr(_time, name)


@contextmanager
def clock_installed(clock: VirtualClock) -> Iterator[VirtualClock]:
    """Every loaded module of the product and of the in-memory ports reads `clock` as its `time` while inside."""
    patched = [m for name, m in list(sys.modules.items())
               if name.startswith(("nestbackup.", "tests.support.memory.")) and getattr(m, "time", None) is _time]
    for module in patched:
        module.time = clock
    try:
        yield clock
    finally:
        for module in patched:
            module.time = _time


# -- the injector and the proxies
class Injector:
    """Counts the ports' calls by name and makes the targeted one fail in its way (once)."""

    def __init__(self, target: str | None = None, way: str | None = None) -> None:
        assert way in (None, *WAYS), way
        self.target, self.way = target, way
        self.armed = False                  # calls made while seeding and setting up are neither counted nor failed
        self.calls: list[str] = []
        self.fired = False
        self.dead = False
        self._counts: Counter[str] = Counter()
        self._lock = threading.RLock()

    def revive(self) -> None:
        """A new process takes over (the next task attempt, the next request)."""
        self.dead = False

    def call(self, port: str, method: str, fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        if not self.armed:
            return fn(*args, **kwargs)
        with self._lock:
            if self.dead:
                raise ProcessDied(f"{port}.{method} called by a process that died")
            self._counts[f"{port}.{method}"] += 1
            name = f"{port}.{method}#{self._counts[f'{port}.{method}']}"
            self.calls.append(name)
            hit = name == self.target and not self.fired
            if hit:
                self.fired = True
        if not hit:
            return fn(*args, **kwargs)
        if self.way == "error":
            return _refused(port, method, args)
        result = fn(*args, **kwargs)
        if self.way == "lost":
            return _lost(port, method, args, result)
        with self._lock:
            self.dead = True
        raise ProcessDied(f"the process died right after {name}")


def _refused(port: str, method: str, args: tuple) -> Any:
    if port == "webhooks":                  # the adapter answers each post's outcome, it does not raise
        return [Outcome(p.key, False, "HTTP 500 (injected)") for p in args[0]]
    code = "OTSInternalServerError" if port in STORE_PORTS else "InternalError"
    raise CloudError(code, f"{port}.{method} failed (injected)", action=method, http_status=500)


def _lost(port: str, method: str, args: tuple, result: Any) -> Any:
    if port == "webhooks":
        return [Outcome(p.key, False, "timed out (injected; the post was delivered)") for p in args[0]]
    raise CloudError("Unreachable", f"{port}.{method}: read timed out (injected; the call was applied)",
                     action=method)


# The port methods that are calls (not pure helpers such as Databases.backup_must_wait).
PURE = {"backup_must_wait", "restore_waits", "snapshot_must_wait", "reset_must_wait"}


def _methods(protocol: type) -> frozenset[str]:
    return frozenset(n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_") and n not in PURE)


class Faulty:
    """A port whose calls go through the injector; anything else (the in-memory state, seeding) passes through."""

    def __init__(self, port: Any, name: str, protocol: type, injector: Injector) -> None:
        self._port, self._name, self._injector = port, name, injector
        self._calls = _methods(protocol)

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._port, attr)
        if attr not in self._calls:
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._injector.call(self._name, attr, value, args, kwargs)
        return call


class FaultyWiring(MemoryWiring):
    """The in-memory ports behind fault-injecting proxies; `raw` holds the in-memory ports themselves."""

    def __init__(self, injector: Injector, clock: VirtualClock, **settings: object) -> None:
        super().__init__(**settings)
        self.injector, self.clock = injector, clock
        self.failed_jobs: list[str] = []            # the timer's runs that ended in an error or a death
        self.raw = SimpleNamespace(ecs=self.ecs, rds=self.rds, flows=self.flows, computenest=self.computenest,
                                   webhooks=self.webhooks, store=self.store)
        self.ecs = Faulty(self.ecs, "compute", Compute, injector)
        self.rds = Faulty(self.rds, "databases", Databases, injector)
        self.flows = Faulty(self.flows, "flows", Flows, injector)
        self.computenest = Faulty(self.computenest, "catalog", ServiceCatalog, injector)
        self.webhooks = Faulty(self.webhooks, "webhooks", Webhooks, injector)
        self.records = TimelineRecords(Faulty(self.store, "records", Records, injector))
        self.claims = Faulty(self.store, "claims", Claims, injector)
        self.documents = Faulty(self.store, "documents", Documents, injector)

    def database(self, db_instance_id: str, engine: str) -> Any:
        return Faulty(super().database(db_instance_id, engine), "gateway", DatabaseGateway, self.injector)


# -- the boundaries: the flow's task, the API's request
class Runaway(BaseException):
    """A flow still running after the player's budget of transitions: it never ends by itself."""


class FaultPlayer(FlowPlayer):
    """Plays the flows; a task whose process died fails as FC reports it, and the flow's Retry and Catch apply.
    Wait states and retry delays move the virtual clock on (so deadlines come), without sleeping."""

    strict = False                      # a flow that fails outside its Fail states is an invariant's business here

    def sleep(self, seconds, state, top, until=None):
        self.w.clock.advance(seconds)
        super().sleep(seconds, state, top, until)

    def transition(self, state):
        self.transitions += 1
        if self.transitions > MAX_TRANSITIONS:
            raise Runaway(f"{self.running} still running after {MAX_TRANSITIONS} transitions")

    def invoke(self, arn, body, state):
        try:
            return super().invoke(arn, body, state)
        except ProcessDied as died:
            self.w.injector.revive()
            raise StateError(FC_UNHANDLED, f"the function's process died: {died}") from None


@dataclass
class Answer:
    status: int
    body: Any = None


CLIENT_ERRORS = {ValidationError: 400, NotFound: 404, Conflict: 409}


class Client:
    """The API's caller: a request that dies or fails with a 5xx is sent again once, as it was (the same
    ClientToken), as a real client does."""

    def __init__(self, w: FaultyWiring) -> None:
        self.w = w
        self.answers: list[Answer] = []

    def call(self, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Answer:
        answer = self._request(operation, *args, **kwargs)
        if answer.status >= 500:
            answer = self._request(operation, *args, **kwargs)
        return answer

    def _request(self, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Answer:
        try:
            answer = Answer(200, operation(self.w, *args, **kwargs))
        except ProcessDied as died:
            self.w.injector.revive()
            answer = Answer(502, str(died))
        except Exception as err:  # noqa: BLE001 - the API answers every error; 5xx for what is not the caller's
            status = next((s for kind, s in CLIENT_ERRORS.items() if isinstance(err, kind)), 500)
            answer = Answer(status, f"{type(err).__name__}: {err}")
        self.answers.append(answer)
        return answer


def timer(w: FaultyWiring, job: Callable[..., Any], *args: Any) -> Any:
    """One run of a timer job (its own process): a death or an error ends that run; the next one starts afresh."""
    try:
        return job(w, *args)
    except ProcessDied as died:
        w.injector.revive()
        w.failed_jobs.append(f"{job.__name__}: {died}")
    except NestBackupError as err:
        w.failed_jobs.append(f"{job.__name__}: {err}")
    return None


def settle(w: FaultyWiring, player: FaultPlayer, sweeps: int = 3) -> None:
    """What happens after the operation: the executions it started run, the cloud finishes its work, and the
    timer's sweeper runs a few times, each past the sweeper's grace (still within the locks' lease)."""
    player.play_started()
    for _ in range(sweeps):
        w.clock.advance(SWEEP_GRACE_SECONDS + 60)
        _cloud_finishes(w)
        timer(w, sweep)
        player.play_started()


def _cloud_finishes(w: FaultyWiring) -> None:
    """The work the cloud accepted ends, whether or not anyone asks (the in-memory ports move on when described)."""
    w.raw.ecs.finish()
    w.raw.rds.finish()
    for iid, doc in w.raw.ecs.instances.items():
        if iid not in w.raw.ecs.refuse_stop:
            doc["status"] = {"Starting": "Running", "Stopping": "Stopped"}.get(doc["status"], doc["status"])
    for doc in w.raw.ecs.disks.values():
        if doc["status"] == "ReIniting":
            doc["status"] = "In_use" if doc["instance_id"] else "Available"


# -- the invariants
def violations(w: FaultyWiring) -> list[str]:
    """Every broken invariant of the in-memory state, in words (empty when all hold)."""
    out: list[str] = []
    rows = w.raw.store.rows
    records = {p[4:]: cols["doc"] for (p, s), cols in rows.items() if p.startswith("rec#") and s == HEADER}
    items = {rid: {s[5:]: cols["doc"] for (p, s), cols in rows.items() if p == f"rec#{rid}" and s.startswith("item#")}
             for rid in records}
    for rid, header in sorted(records.items()):
        status = header.get("Status")
        if status not in RECORD_FINAL:
            out.append(f"record {rid} is {status}, not final")
        elif rid.startswith("backup-"):
            out += _false_backup(w, rid, status, items[rid], header)
        elif rid.startswith("drill-"):
            out += _false_drill(records, rid, status, items[rid], header)
        else:
            out += _false_restore(w, rid, status, items[rid], _reset_later(rid, items), header.get("RestoreTime"))
    out += _unowned_artifacts(w, records, items)
    out += _scratch_left(w, records)
    out += _held_claims(w, records)
    out += [f"instance {iid} left {doc['status']}" for iid, doc in sorted(w.raw.ecs.instances.items())
            if doc["status"] != "Running"]
    out += _left_frozen(w)
    return out


def _left_frozen(w: FaultyWiring) -> list[str]:
    """No instance stays frozen: each pre hook run (FREEZE) is followed by a post hook run (THAW) on its instance,
    and no backup is still listed as waiting for its thaw."""
    frozen: dict[str, bool] = {}
    for iid, script in w.raw.ecs.ran:
        frozen[iid] = script == FREEZE if script in (FREEZE, THAW) else frozen.get(iid, False)
    out = [f"instance {iid} left frozen (its pre hook ran, no post hook after it)"
           for iid, still in sorted(frozen.items()) if still]
    return out + [f"backup {key} still waits for its thaw" for key, _, _ in w.raw.store.docs(FROZEN)]


def _artifacts_of(item: dict) -> list[str]:
    return [x for x in (item.get("artifact_id"), item.get("group_id")) if x]


def _exists(w: FaultyWiring, artifact: str) -> bool:
    return artifact in w.raw.ecs.snapshots or artifact in w.raw.ecs.groups or artifact in w.raw.rds.sets


def _false_copies(w: FaultyWiring, rid: str, status: str, items: dict[str, dict]) -> list[str]:
    """A final backup follows no copy any more, and a Succeeded copy is accomplished in its region."""
    out = []
    for resource, item in sorted(items.items()):
        for copy in item.get("copies") or []:
            snap = w.raw.ecs.snapshots.get(copy.get("snapshot_id") or "")
            if status not in (BackupStatus.CREATING, BackupStatus.DELETING) and \
                    copy["status"] in (ItemStatus.PENDING, ItemStatus.RUNNING):
                out.append(f"backup {rid} is {status} but its copy of {resource} is still {copy['status']}")
            deleting = status in (BackupStatus.DELETING, BackupStatus.DELETE_FAILED)     # a delete may be mid-way
            if copy["status"] == ItemStatus.SUCCEEDED and not deleting and (
                    snap is None or snap["status"] != "accomplished" or snap.get("region") != copy["region"]):
                out.append(f"backup {rid}'s copy of {resource} is Succeeded but {copy.get('snapshot_id')} is not "
                           f"accomplished in {copy['region']}")
    return out


def _false_backup(w: FaultyWiring, rid: str, status: str, items: dict[str, dict], header: dict) -> list[str]:
    out = _false_copies(w, rid, status, items)
    taken = {r: i for r, i in items.items() if i["status"] != ItemStatus.SKIPPED}
    if status == BackupStatus.CREATED:
        for resource, item in sorted(taken.items()):
            if item["status"] != ItemStatus.SUCCEEDED:
                out.append(f"backup {rid} is Created but its item {resource} is {item['status']}")
            elif not _artifacts_of(item) or not all(_exists(w, a) for a in _artifacts_of(item)):
                out.append(f"backup {rid} is Created but the artifact of {resource} "
                           f"({_artifacts_of(item) or 'none'}) does not exist")
            elif item.get("artifact_id") in w.raw.ecs.snapshots and \
                    w.raw.ecs.snapshots[item["artifact_id"]]["status"] != "accomplished":
                out.append(f"backup {rid} is Created but snapshot {item['artifact_id']} is "
                           f"{w.raw.ecs.snapshots[item['artifact_id']]['status']}")
    elif status == BackupStatus.CREATE_FAILED:
        # a failed item, or the operation's own cause when it ended before any cloud call (docs/statuses.md)
        if taken and not any(i["status"] == ItemStatus.FAILED for i in taken.values()) and not (
                header.get("Cause") and all(i["status"] == ItemStatus.NOT_STARTED for i in taken.values())):
            out.append(f"backup {rid} is CreateFailed but none of its items failed")
        if any(i["status"] == ItemStatus.SUCCEEDED for i in taken.values()):
            out.append(f"backup {rid} is CreateFailed but an item succeeded (PartiallyCreated)")
    elif status == BackupStatus.PARTIALLY_CREATED:
        if not any(i["status"] == ItemStatus.SUCCEEDED for i in taken.values()) or \
                all(i["status"] == ItemStatus.SUCCEEDED for i in taken.values()):
            out.append(f"backup {rid} is PartiallyCreated but its items are not part done, part not")
    elif status == BackupStatus.CANCELLED:
        out += [f"backup {rid} is Cancelled but its item {r} is still {i['status']}"
                for r, i in sorted(taken.items()) if i["status"] == ItemStatus.SUCCEEDED]
    elif status == BackupStatus.DELETED:
        out += [f"backup {rid} is Deleted but {a} of {r} still exists"
                for r, i in sorted(items.items()) for a in _artifacts_of(i) if _exists(w, a)]
    return out + _broken_lock(w, rid, status, items, header.get("Lock"))


def _broken_lock(w: FaultyWiring, rid: str, status: str, items: dict[str, dict], lock: dict | None) -> list[str]:
    """A lock that holds keeps the backup and every artifact; what the record says the cloud locks, it locks."""
    from nestbackup.decisions.locks import active
    now = w.clock.peek()
    if not active(lock, now):
        return []
    assert lock is not None
    out = []
    if status in (BackupStatus.DELETING, BackupStatus.DELETED, BackupStatus.DELETE_FAILED):
        out.append(f"backup {rid} is locked until {lock['Until']} but {status}")
    out += [f"backup {rid} is locked but {a} of {r} is gone" for r, i in sorted(items.items())
            if i["status"] == ItemStatus.SUCCEEDED for a in _artifacts_of(i) if not _exists(w, a)]
    if lock["Mode"] == "Compliance" and lock.get("CloudLock") in ("Pending", "Failed"):
        out.append(f"backup {rid}'s Compliance lock is still {lock['CloudLock']} in ECS after the sweeps")
    if lock.get("CloudLock") == "Locked":
        out += [f"backup {rid} says ECS locks {sid} but it does not" for sid in lock.get("CloudLocked") or []
                if w.raw.ecs.locks.get(sid, 0) <= now]
    return out


def _reset_later(rid: str, items: dict[str, dict[str, dict]]) -> set[str]:
    """The disks a later restore (e.g. an undo) reset again: their content is that one's."""
    return {r for other, its in items.items() if other.startswith("restore-") and other > rid
            for r, i in its.items() if i["resource_type"] == "disk" and i.get("restore_started_epoch")}


def _false_restore(w: FaultyWiring, rid: str, status: str, items: dict[str, dict], reset_later: set[str],
                   restore_time: str | None = None) -> list[str]:
    out = []
    if status == RestoreStatus.RESTORED:
        for resource, item in sorted(items.items()):
            if item["status"] not in (ItemStatus.SUCCEEDED, ItemStatus.SKIPPED):
                out.append(f"restore {rid} is Restored but its item {resource} is {item['status']}")
            elif item["resource_type"] == "disk" and resource not in reset_later and \
                    w.raw.ecs.disks[resource]["reset_to"] != item["source_artifact_id"]:
                out.append(f"restore {rid} is Restored but disk {resource} was not reset to "
                           f"{item['source_artifact_id']}")
            elif item["resource_type"] == "rds":
                server = w.raw.rds.servers[resource]
                out += [f"restore {rid} is Restored but database {db['name']} of {resource} is not there"
                        for db in item["databases"] if db["name"] not in server]
                if restore_time:            # to a second: each database holds what was logged before it
                    at = datetime.strptime(restore_time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
                    logged = [c for t, c in w.raw.rds.history.get(resource, []) if t < at.timestamp()]
                    out += [f"restore {rid} is Restored but {db['name']} of {resource} is not as at {restore_time}"
                            for db in item["databases"] if db["name"] in server and logged
                            and server[db["name"]] != logged[-1].get(db["name"])]
    return out


def _false_drill(records: dict[str, dict], rid: str, status: str, items: dict[str, dict], header: dict) -> list[str]:
    """A Passed drill checked every artifact and proved its backup; a final drill removed everything it made."""
    out = []
    if status == DrillStatus.PASSED:
        out += [f"drill {rid} is Passed but {r} is {i['status']}" for r, i in sorted(items.items())
                if i["status"] != ItemStatus.SUCCEEDED]
        if (records.get(header["BackupId"]) or {}).get("LastDrill") is None:
            out.append(f"drill {rid} is Passed but its backup {header['BackupId']} has no LastDrill")
    if status in RECORD_FINAL and not header.get("CleanedUp"):
        out.append(f"drill {rid} is {status} without its scratch resources removed")
    return out


def _scratch_left(w: FaultyWiring, records: dict[str, dict]) -> list[str]:
    """No scratch disk or scratch database of any drill is left once everything settled, and no drill is indexed
    as running once it is final (or never was)."""
    out = [f"scratch disk {d} of {doc['tags'][DRILL_TAG]} is left ({doc['status']})"
           for d, doc in sorted(w.raw.ecs.disks.items()) if DRILL_TAG in doc["tags"]]
    for rid in records:
        if rid.startswith("drill-"):
            tag = "__rst_" + short_id(rid)
            out += [f"scratch database {name} of {rid} is left on {inst}"
                    for inst, dbs in sorted(w.raw.rds.servers.items()) for name in sorted(dbs) if name.endswith(tag)]
    for _, doc, _ in w.raw.store.docs(DRILLS_RUNNING):
        if doc["DrillId"] not in records or records[doc["DrillId"]].get("Status") in RECORD_FINAL:
            out.append(f"drill {doc['DrillId']} is still indexed as running")
    return out


def _unowned_artifacts(w: FaultyWiring, records: dict[str, dict], items: dict[str, dict[str, dict]]) -> list[str]:
    """Every snapshot, group and backup set we made is named by a record that keeps it, once."""
    out = []
    owners: Counter[str] = Counter()            # a group is named by the item of each of its disks
    named: Counter[str] = Counter()             # a snapshot or backup set by one item only
    for rid, header in records.items():
        if rid.startswith("backup-") and header.get("Status") != BackupStatus.DELETED:
            for item in items[rid].values():
                owners.update(set(_artifacts_of(item)))
                named.update([item["artifact_id"]] if item.get("artifact_id") else [])
                copies = [c["snapshot_id"] for c in item.get("copies") or [] if c.get("snapshot_id")]
                owners.update(copies)           # a copy in another region: named by its item's copy
                named.update(copies)
    ecs, rds = w.raw.ecs, w.raw.rds
    for gid, group in sorted(ecs.groups.items()):
        if not owners[gid]:
            out.append(f"snapshot group {gid} (tagged {group['tags'].get(OWNER_TAG)}) is owned by no record")
    out += _undo_snapshots_kept(w, records, items)
    for sid, snap in sorted(ecs.snapshots.items()):
        if UNDO_TAG in snap["tags"]:
            continue                            # a restore's snapshot at the stop: _undo_snapshots_kept
        if snap["group"] is None and not owners[sid]:
            out.append(f"snapshot {sid} of {snap['disk']} (tagged {snap['tags'].get(OWNER_TAG)}) is owned by no "
                       f"record")
    for bid, backup_set in sorted(rds.sets.items()):
        if backup_set["mode"] == "Manual" and not owners[bid]:
            out.append(f"RDS backup set {bid} of {backup_set['instance']} is owned by no record")
    out += [f"artifact {a} is named by {n} items" for a, n in sorted(named.items()) if n > 1]
    # one artifact per record and resource: two snapshots of a disk (or groups of an instance) for one backup
    made: Counter[tuple[str, str]] = Counter()
    for snap in ecs.snapshots.values():
        if snap["group"] is None:           # a copy counts in its own region: one per backup, disk and region
            made[(snap["tags"].get(OWNER_TAG) or snap["tags"].get(UNDO_TAG, "?"),
                  snap["disk"] + (f" in {snap['region']}" if snap.get("region") else ""))] += 1
    for gid, group in ecs.groups.items():
        first = ecs.snapshots.get(group["members"][0]) if group["members"] else None
        instance = ecs.disks[first["disk"]]["instance_id"] if first else gid
        made[(group["tags"].get(OWNER_TAG, "?"), str(instance))] += 1
    out += [f"backup {owner} made {n} artifacts of {resource}" for (owner, resource), n in sorted(made.items())
            if n > 1]
    # one manual RDS backup job per backup record that backs the instance up
    wanted: Counter[str] = Counter(r for rid in records if rid.startswith("backup-")
                                   for r, i in items[rid].items() if i["resource_type"] == "rds"
                                   and i["status"] != ItemStatus.SKIPPED)
    jobs: Counter[str] = Counter(j["instance"] for j in rds.jobs.values() if j["mode"] == "Manual")
    out += [f"{n} RDS backup jobs of {inst} for {wanted[inst]} backup records" for inst, n in sorted(jobs.items())
            if n > wanted[inst]]
    return out


def _undo_snapshots_kept(w: FaultyWiring, records: dict[str, dict], items: dict[str, dict[str, dict]]) -> list[str]:
    """A snapshot taken at a restore's stop exists exactly while its restore can be undone: listed by the record
    (Undo.Snapshots), for a disk the restore reset, before UndoableUntil; and every one such a record lists exists."""
    out, now = [], w.clock.peek()
    needed: dict[str, str] = {}
    for rid, header in records.items():
        if not rid.startswith("restore-"):
            continue
        undo = UndoState.from_doc(header.get("Undo"))
        reset = {r for r, i in items[rid].items() if i["resource_type"] == "disk" and i.get("restore_started_epoch")}
        if undo.until_epoch is not None and now < undo.until_epoch:
            needed.update({sid: rid for disk, sid in undo.snapshots.items() if disk in reset})
    for sid, snap in sorted(w.raw.ecs.snapshots.items()):
        if UNDO_TAG in snap["tags"] and sid not in needed:
            out.append(f"snapshot {sid} of {snap['disk']} taken at the stop of {snap['tags'][UNDO_TAG]} is needed "
                       f"by no undo")
    out += [f"restore {rid} can be undone but its snapshot {sid} is gone" for sid, rid in sorted(needed.items())
            if sid not in w.raw.ecs.snapshots]
    return out


def _held_claims(w: FaultyWiring, records: dict[str, dict]) -> list[str]:
    out = []
    now_ms = int(w.clock.peek() * 1000)
    for (p, s), row in sorted(w.raw.store.rows.items()):
        if p.startswith("lock#") and row["expires"] >= now_ms:
            # a lock whose holder's record is final is free: the next operation takes it (claims.take_instance_lock)
            if row["holder"] not in records:
                out.append(f"the lock of {p[5:]} is held by {row['holder']} (no record) for "
                           f"{(row['expires'] - now_ms) // 1000} s more")
        elif p.startswith("token#") and row["id"] not in records:
            out.append(f"client token {s} of {p[6:]} names {row['id']}, which does not exist")
    return out


# -- scenarios and cells
@dataclass
class Scenario:
    """One operation: `setup(w, player)` prepares the state (no fault, nothing counted) and returns what `run`
    needs; `run(w, player, client, prepared)` makes the calls under test, `gap` seconds later."""
    name: str
    setup: Callable[[FaultyWiring, FaultPlayer], Any]
    run: Callable[[FaultyWiring, FaultPlayer, Client, Any], None]
    settings: dict | None = None
    gap: float = 3600.0                 # an operation comes an hour after the ones that prepared it


@dataclass
class CellResult:
    calls: list[str]                    # the operation's calls (not the settling's), in order
    violations: list[str]
    fired: bool                         # the targeted call was made (and failed)
    answers: list[Answer]               # what the API answered the operation's requests
    failed_jobs: list[str]              # the timer's runs (the operation's and the settling's) that failed


def _unless_runaway(step: Callable[[], None], player: FaultPlayer, runaways: list[str]) -> None:
    try:
        step()
    except Runaway as runaway:
        runaways.append(f"a flow never ends: {runaway}")
        player.transitions = 0


def run_cell(scenario: Scenario, target: str | None = None, way: str | None = None) -> CellResult:
    """The scenario from scratch with `target` failing in `way` (none: the clean run), settled, then checked."""
    clock = VirtualClock()
    injector = Injector(target, way)
    with clock_installed(clock):
        w = FaultyWiring(injector, clock, **(scenario.settings or {}))
        player = FaultPlayer(w)
        prepared = scenario.setup(w, player)
        w.clock.advance(scenario.gap)
        injector.armed = True
        runaways: list[str] = []
        client = Client(w)
        _unless_runaway(lambda: scenario.run(w, player, client, prepared), player, runaways)
        calls = list(injector.calls)
        _unless_runaway(lambda: settle(w, player), player, runaways)
        injector.armed = False
        found = violations(w) + runaways
        if player.failures:
            found += [f"the flow failed outside its Fail states: {f}" for f in player.failures]
    return CellResult(calls, found, injector.fired, client.answers, w.failed_jobs)


# -- the operations of the matrix
DAY = 86400
DATABASES = {"PostgreSQL": {"app": {"t": [1, 2, 3]}}}


def seeded(w: FaultyWiring) -> dict:
    """si-1: an ECS instance of two ESSD disks (one snapshot group), one of a basic disk (a snapshot) and a
    PostgreSQL instance (an RDS backup)."""
    out = w.seed("si-1", instances=1, disks_per_instance=2, databases=DATABASES)
    tags = {w.settings.tag_key: "si-1"}
    iid = w.raw.ecs.add_instance(tags)
    w.raw.ecs.add_disk(iid, tags, category="cloud_efficiency")
    w.raw.computenest.list_resource("si-1", "ecs", "instance", iid)
    return out


def created_backup(w: FaultyWiring, player: FaultPlayer, now: float | None = None) -> str:
    """A Created backup of si-1 (made before the faults are armed)."""
    backup_id = create_backup(w, "si-1", now=now)["BackupId"]
    player.play_started()
    assert get_backup(w, backup_id)["Status"] == "Created", get_backup(w, backup_id)
    return backup_id


def _backup_setup(w: FaultyWiring, player: FaultPlayer) -> None:
    seeded(w)


def _backup_run(w: FaultyWiring, player: FaultPlayer, client: Client, _: Any) -> None:
    client.call(create_backup, "si-1", token="client-token-1")
    player.play_started()


COPY_REGION = "cn-shanghai"


def _copied_backup_run(w: FaultyWiring, player: FaultPlayer, client: Client, _: Any) -> None:
    client.call(create_backup, "si-1", token="client-token-1", copy_to_region=COPY_REGION)
    player.play_started()


def _copying_backup(w: FaultyWiring, player: FaultPlayer) -> str:
    """A backup asking for copies whose start steps and first poll round ran: snapshots made, copies started."""
    seeded(w)
    backup_id = create_backup(w, "si-1", copy_to_region=COPY_REGION)["BackupId"]
    for batch in start_batch_count(w, backup_id):
        start_batch(w, backup_id, batch)
    backup_poll(w, backup_id, 0, budgeted=False)
    assert any(c["SnapshotId"] for r in get_backup(w, backup_id)["Resources"] for c in r.get("Copies") or [])
    return backup_id


def _copied_backup(w: FaultyWiring, player: FaultPlayer) -> str:
    """A Created backup of si-1 whose snapshots were copied into COPY_REGION."""
    seeded(w)
    backup_id = create_backup(w, "si-1", copy_to_region=COPY_REGION)["BackupId"]
    player.play_started()
    assert get_backup(w, backup_id)["CopyStatus"] == "Created", get_backup(w, backup_id)
    return backup_id


def _restore_setup(w: FaultyWiring, player: FaultPlayer) -> str:
    seeded(w)
    return created_backup(w, player)


def _restore_run(w: FaultyWiring, player: FaultPlayer, client: Client, backup_id: str) -> None:
    client.call(create_restore, backup_id, token="client-token-1")
    player.play_started()


def _selective_restore_setup(w: FaultyWiring, player: FaultPlayer) -> tuple[str, Selection]:
    """A Created backup of si-1, and a selection of its basic disk (alone on its instance) and the PostgreSQL
    instance's first database: the other instance and its snapshot group are not part of the restore."""
    seeded(w)
    backup_id = created_backup(w, player)
    items = get_backup(w, backup_id)["Resources"]
    basic = next(r["ResourceId"] for r in items if r["Method"] == "Snapshot")
    rds = next(r for r in items if r["ResourceType"] == "rds")
    return backup_id, Selection((basic,), {rds["ResourceId"]: tuple(rds["Databases"][:1])})


def _selective_restore_run(w: FaultyWiring, player: FaultPlayer, client: Client,
                           prepared: tuple[str, Selection]) -> None:
    backup_id, selection = prepared
    client.call(create_restore, backup_id, token="client-token-1", selection=selection)
    player.play_started()


def _preview_run(w: FaultyWiring, player: FaultPlayer, client: Client, prepared: tuple[str, Selection]) -> None:
    backup_id, selection = prepared
    client.call(preview, RestoreRequest(backup_id))
    client.call(preview, RestoreRequest(backup_id, selection=selection))


def _restore_to_time_setup(w: FaultyWiring, player: FaultPlayer) -> str:
    """si-2: a MySQL instance (log backup on), backed up once (where its logs start), then written to before and
    after the second a point-in-time restore brings back, which this answers."""
    rid = w.seed("si-2", instances=0, databases={"MySQL": {"app": {"t": [1, 2, 3]}}})["DBInstances"][0]
    backup_id = create_backup(w, "si-2")["BackupId"]
    player.play_started()
    assert get_backup(w, backup_id)["Status"] == "Created", get_backup(w, backup_id)
    middle = _written_around(w, rid)
    return datetime.fromtimestamp(int(middle), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _written_around(w: FaultyWiring, rid: str) -> float:
    """A row written to the MySQL instance's app.t (and logged) 10 s before the moment answered, another 10 s after."""
    rows = w.raw.rds.servers[rid]["app"]["t"]
    w.clock.advance(10)
    rows.append(4)
    w.raw.rds.log(rid, w.clock.peek())
    w.clock.advance(10)
    middle = w.clock.peek()
    w.clock.advance(10)
    rows.append(5)
    w.raw.rds.log(rid, w.clock.peek())
    return middle


def _restore_to_time_run(w: FaultyWiring, player: FaultPlayer, client: Client, chosen: str) -> None:
    client.call(create_point_in_time_restore, "si-2", chosen, token="client-token-1")
    player.play_started()


def _started_backup(w: FaultyWiring, player: FaultPlayer) -> str:
    """A backup whose start steps ran (its snapshots, group and RDS job made) and whose flow polls next."""
    seeded(w)
    backup_id = create_backup(w, "si-1")["BackupId"]
    for batch in start_batch_count(w, backup_id):
        start_batch(w, backup_id, batch)
    return backup_id


def _cancel_backup_run(w: FaultyWiring, player: FaultPlayer, client: Client, backup_id: str) -> None:
    client.call(cancel_backup, backup_id)
    player.play_started()               # the flow goes on if the cancel did not stop it


def _started_restore(w: FaultyWiring, player: FaultPlayer) -> str:
    seeded(w)
    return create_restore(w, created_backup(w, player))["RestoreId"]


def _cancel_restore_run(w: FaultyWiring, player: FaultPlayer, client: Client, restore_id: str) -> None:
    client.call(cancel_restore, restore_id)
    player.play_started()


def _delete_run(w: FaultyWiring, player: FaultPlayer, client: Client, backup_id: str) -> None:
    client.call(delete_backup, backup_id)


def _catalog_lost(w: FaultyWiring, player: FaultPlayer) -> list[dict]:
    """A Created backup and a schedule exported, then the catalog lost: the store starts empty, the cloud keeps the
    backup's artifacts (a deployment in the second region importing the export)."""
    seeded(w)
    created_backup(w, player)
    set_schedule(w, "si-1", "0 3 * * *", keep_last=3, now=w.clock.time())
    entries = export_page(w, 100)["Entries"]
    w.store = w.raw.store = MemoryStore()
    w.records = TimelineRecords(Faulty(w.store, "records", Records, w.injector))
    w.claims = Faulty(w.store, "claims", Claims, w.injector)
    w.documents = Faulty(w.store, "documents", Documents, w.injector)
    return entries


def _catalog_import_run(w: FaultyWiring, player: FaultPlayer, client: Client, entries: list[dict]) -> None:
    client.call(import_entries, entries)


def _retention_setup(w: FaultyWiring, player: FaultPlayer) -> None:
    seeded(w)
    now = w.clock.time()
    for days in (3, 2, 1):
        created_backup(w, player, now - days * DAY)


def _retention_run(w: FaultyWiring, player: FaultPlayer, client: Client, _: Any) -> None:
    timer(w, apply_retention, "si-1", Retention(keep_last=1), w.clock.time())


def _lock_run(w: FaultyWiring, player: FaultPlayer, client: Client, _: Any) -> None:
    """Lock the oldest of three backups (Compliance, ten days), then retention that would delete it."""
    oldest = min(p[4:] for (p, s), _ in w.raw.store.rows.items() if p.startswith("rec#backup-") and s == HEADER)
    client.call(set_lock, oldest, "Compliance", w.clock.time() + 10 * DAY, "admin", True)
    timer(w, apply_retention, "si-1", Retention(keep_last=1), w.clock.time())


def _locked_schedule_setup(w: FaultyWiring, player: FaultPlayer) -> None:
    seeded(w)
    set_schedule(w, "si-1", "0 */2 * * *", lock_mode="Compliance", lock_days=7)
    w.clock.advance(2 * 3600 + 60)


def _schedule_setup(w: FaultyWiring, player: FaultPlayer) -> None:
    seeded(w)
    set_schedule(w, "si-1", "0 */2 * * *")
    w.clock.advance(2 * 3600 + 60)


def _schedule_run(w: FaultyWiring, player: FaultPlayer, client: Client, _: Any) -> None:
    timer(w, tick)
    player.play_started()


def _flow_died(w: FaultyWiring, flow: str, record_id: str) -> None:
    """Its execution failed without closing the record (a Catch that failed too, a stopped flow)."""
    for (name_flow, name), execution in w.raw.flows.executions.items():
        if name_flow == flow and name.startswith(record_id):
            execution["status"] = "Failed"


def _backup_whose_flow_died(w: FaultyWiring, player: FaultPlayer) -> str:
    backup_id = _started_backup(w, player)
    _flow_died(w, w.settings.backup_flow, backup_id)
    return backup_id


def _restore_whose_flow_died(w: FaultyWiring, player: FaultPlayer) -> str:
    """A restore (no safety backup) whose flow died with the instances stopped and the disks being reset."""
    seeded(w)
    restore_id = create_restore(w, created_backup(w, player), safety_backup=False)["RestoreId"]
    for _ in range(20):
        if get_restore(w, restore_id)["Phase"] == RestorePhase.RESTORING_DATA:
            break
        advance(w, restore_id)
    assert get_restore(w, restore_id)["Phase"] == RestorePhase.RESTORING_DATA, get_restore(w, restore_id)
    assert all(doc["status"] == "Stopped" for doc in w.raw.ecs.instances.values())
    _flow_died(w, w.settings.restore_flow, restore_id)
    return restore_id


def _restored(w: FaultyWiring, player: FaultPlayer) -> str:
    """A finished restore of si-1 (no safety backup) that can be undone."""
    seeded(w)
    restore_id = create_restore(w, created_backup(w, player), safety_backup=False)["RestoreId"]
    player.play_started()
    assert get_restore(w, restore_id)["Status"] == RestoreStatus.RESTORED, get_restore(w, restore_id)
    return restore_id


def _undo_run(w: FaultyWiring, player: FaultPlayer, client: Client, restore_id: str) -> None:
    client.call(create_undo, restore_id, True, "client-token-1")
    player.play_started()


FREEZE, THAW = "sync; fsfreeze -f /data", "fsfreeze -u /data"


def _hooked(w: FaultyWiring, player: FaultPlayer) -> None:
    """si-1 with quiesce hooks on its instances."""
    seeded(w)
    set_backup_settings(w, "si-1", {"Hooks": {"Pre": FREEZE, "Post": THAW, "TimeoutSeconds": 30}})


def _frozen_backup(w: FaultyWiring, player: FaultPlayer) -> str:
    """A hooked backup whose instances its Freeze step froze; its snapshots are not created yet."""
    _hooked(w, player)
    backup_id = create_backup(w, "si-1")["BackupId"]
    freeze(w, backup_id)
    return backup_id


def _hooked_backup_past_its_moment(w: FaultyWiring, player: FaultPlayer) -> str:
    """si-2: an ECS instance with quiesce hooks and a MySQL instance (log backup on), backed up (a hooked backup),
    then written to before and after its moment T (moved past the first write: T is where the restore brings the
    database, its logs reaching it)."""
    rid = w.seed("si-2", instances=1, databases={"MySQL": {"app": {"t": [1, 2, 3]}}})["DBInstances"][0]
    set_backup_settings(w, "si-2", {"Hooks": {"Pre": FREEZE, "Post": THAW, "TimeoutSeconds": 30}})
    backup_id = create_backup(w, "si-2")["BackupId"]
    player.play_started()
    assert get_backup(w, backup_id)["Status"] == "Created", get_backup(w, backup_id)
    middle = _written_around(w, rid)
    stored, record = read_backup(w, backup_id)
    record.quiesce.consistent_at = middle + 0.5
    save(w, stored, record)
    return backup_id


def _sweep_run(w: FaultyWiring, player: FaultPlayer, client: Client, _: Any) -> None:
    timer(w, sweep)


def _drill_run(w: FaultyWiring, player: FaultPlayer, client: Client, backup_id: str) -> None:
    client.call(create_drill, backup_id)
    player.play_started()


def _started_drill(w: FaultyWiring, player: FaultPlayer) -> str:
    """A backup and a drill of it whose first round asked for its scratch disks and databases."""
    backup_id = _restore_setup(w, player)
    drill_advance(w, create_drill(w, backup_id)["DrillId"])
    return backup_id


def _drill_whose_flow_died(w: FaultyWiring, player: FaultPlayer) -> None:
    _started_drill(w, player)
    for (flow, _), execution in w.raw.flows.executions.items():
        if flow == w.settings.drill_flow:
            execution["status"] = "Failed"


def _restore_preempting_run(w: FaultyWiring, player: FaultPlayer, client: Client, backup_id: str) -> None:
    client.call(create_restore, backup_id, token="client-token-1")
    player.play_started()               # the drill's flow and the restore's run on


SCENARIOS = {s.name: s for s in (
    Scenario("backup", _backup_setup, _backup_run),
    Scenario("restore", _restore_setup, _restore_run),
    Scenario("restore-selective", _selective_restore_setup, _selective_restore_run),
    Scenario("restore-preview", _selective_restore_setup, _preview_run),
    Scenario("restore-to-time", _restore_to_time_setup, _restore_to_time_run),
    Scenario("cancel-backup", _started_backup, _cancel_backup_run),
    Scenario("cancel-restore", _started_restore, _cancel_restore_run),
    Scenario("delete", _restore_setup, _delete_run),
    Scenario("retention", _retention_setup, _retention_run),
    Scenario("schedule", _schedule_setup, _schedule_run),
    Scenario("lock-retention", _retention_setup, _lock_run),
    Scenario("locked-schedule", _locked_schedule_setup, _schedule_run),
    Scenario("sweep-backup", _backup_whose_flow_died, _sweep_run),
    Scenario("sweep-restore", _restore_whose_flow_died, _sweep_run),
    Scenario("undo", _restored, _undo_run),
    # the sweeper past a restore's undo window (an hour here): its snapshots at the stop go
    Scenario("sweep-undo-window", _restored, _sweep_run, settings={"undo_hours": 1}, gap=2 * 3600.0),
    Scenario("drill", _restore_setup, _drill_run),
    Scenario("sweep-drill", _drill_whose_flow_died, _sweep_run),
    Scenario("restore-preempts-drill", _started_drill, _restore_preempting_run),
    Scenario("hooked-backup", _hooked, _backup_run),
    Scenario("cancel-hooked-backup", _frozen_backup, _cancel_backup_run),
    # a hooked backup's restore: the database to the backup's moment, the disk from its snapshot
    Scenario("restore-hooked-to-moment", _hooked_backup_past_its_moment, _restore_run),
    Scenario("backup-with-copy", _backup_setup, _copied_backup_run),
    Scenario("delete-with-copy", _copied_backup, _delete_run),
    Scenario("cancel-backup-with-copy", _copying_backup, _cancel_backup_run),
    Scenario("catalog-import", _catalog_lost, _catalog_import_run),
)}


@functools.cache
def matrix() -> dict[str, list[tuple[str, str]]]:
    """Per operation, (call, way) for every call of its clean run and every way it can fail."""
    out = {}
    for name, scenario in SCENARIOS.items():
        clean = run_cell(scenario)
        assert not clean.violations, f"{name} breaks the invariants with no fault: {clean.violations}"
        refused = [a for a in clean.answers if a.status != 200] + clean.failed_jobs
        assert not refused, f"{name} fails with no fault (its cells would test nothing): {refused}"
        out[name] = [(call, way) for call in clean.calls for way in WAYS]
    return out


def size_lines() -> list[str]:
    """The matrix's size, per operation (calls x ways) and in all."""
    lines = [f"{name}: {len(found) // len(WAYS)} calls x {len(WAYS)} ways = {len(found)} cells"
             for name, found in matrix().items()]
    return [*lines, f"fault matrix: {sum(len(found) for found in matrix().values())} cells in all"]
