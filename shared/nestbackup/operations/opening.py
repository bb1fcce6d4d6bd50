"""Opening an operation (a backup, a restore, and any creating operation to come): the ClientToken, the sweeper's
index of active operations, the service instance's lock, the record and the flow, written in an order that leaves
every state a failed write, a lost answer or a dead process can leave recoverable, without waiting for a lease.

The order: (1) index the operation as active (`claims.ACTIVE`, what the sweeper reads), (2) claim the token, (3)
take the lock, (4) write the record, (5) start the flow. The index comes before anything the sweeper must be able to
undo (the token included: a token claimed by an id no index entry names could be given back by nobody), and the
record is the commit point: an operation whose record was never written never happened, and what it claimed is given
back. An opening gives up before writing its record once OPENING_SECONDS minus a margin have passed since it began,
so an id older than OPENING_SECONDS with no record is dead: its token is reclaimed by the next request with that
token, its lock is free to the next taker (`claims.take_instance_lock`), and the sweeper gives back both and drops its
index entry.

Each write x (refused; applied with its answer lost; the process dies just after it):

1. index. Refused or lost: read back; written (the answer was lost), go on; absent, the error goes to the caller
   with nothing claimed. Dies: the sweeper finds an entry without a record older than OPENING_SECONDS, gives back
   the lock and the token (each if this id holds it) and drops the entry.
2. token. Refused or lost: the claim is made again once, and a lost answer comes back as this id's own claim; a
   second error gives back the entry (`abandon`) and goes to the caller. Held by an earlier request's id: the entry
   is dropped and that id answered. Dies: the token is bound to an id with no record; a retry within
   OPENING_SECONDS waits briefly for the record, then 409 (try again); after it, the retry reclaims it, and the
   sweeper gives it back (as 1).
3. lock. Refused or lost: read back (the holder); this id, go on; else, and on LockTaken, the token and the entry
   are given back (and the lock if this id's: a release is conditional on its holder) and the error goes to the
   caller (409 for LockTaken). Dies: as 2, and a lock held by a dead id is free to the next taker meanwhile
   (`claims.take_instance_lock`).
4. record (the adapter writes items and listing first, the header last). Refused or lost: read back; absent,
   `abandon` and the error; present, go on. Dies: the record is Creating/Restoring with no flow; a retry with the
   token starts its flow (`ensure_started`); else the sweeper closes it once its grace has passed (CreateFailed /
   RestoreFailed, cause `FlowNeverStarted`), which frees its lock.
5. flow (StartExecution, idempotent by name). Refused or lost: describe it; started, go on; absent, the record is
   closed with the cause at once (`finalize` / `recover`: final record, lock freed, token kept by the failed record)
   and the error goes to the caller; describe failing too, as "dies". Dies: the flow runs; the retry answers it.

A failure after the index entry's write whose clean-up fails too leaves the index entry, so the sweeper finishes it.
The token stays with a record that exists (the retry answers it, as the cloud answers the first result); it expires
after TOKEN_TTL_SECONDS, and a request with an expired token is a new request."""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import logs
from ..errors import CloudError, Conflict, IdempotentParameterMismatch, NestBackupError
from ..ports import Ports
from ..ports.flows import FlowInput, execution_name
from ..ports.records import StoredRecord
from .claims import ACTIVE, OPENING_SECONDS, never_written, take_instance_lock

OPENING_MARGIN_SECONDS = 30    # ... and starts its record's write no later than this before
TOKEN_TTL_SECONDS = 24 * 3600  # a ClientToken is bound to its first request for a day
WAIT_FOR_RECORD_SECONDS = 5    # a retry waits this long for the record its token's first request is writing


def fingerprint(**request: object) -> str:
    """The request a ClientToken is bound to: a hash of its normalised parameters."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _monotonic() -> float:
    """`time.monotonic` looked up when called, not bound once: a test's virtual clock stands in for `time`."""
    return time.monotonic()


@dataclass
class Opening:
    """An operation being opened: its token, record and lock (see the module)."""
    kind: str                    # "backup" | "restore": the token's namespace and the index entry's Kind
    record_id: str
    si: str
    token: str | None
    fingerprint: str
    now: float
    take_lock: bool = True       # False: the operation runs inside another's lock (a restore's safety backup)
    began: float = field(default_factory=_monotonic)


def begin(w: Ports, op: Opening) -> str | None:
    """Index the operation, claim the token, take the lock. The id an earlier request with this token opened (nothing
    else is done then), or None once all three are this operation's; whatever fails gives back what was claimed."""
    _index(w, op)
    try:
        if op.token:
            existing = _claim_token(w, op)
            if existing:
                _unindex(w, op)
                return existing
        if op.take_lock:
            _lock(w, op)
    except NestBackupError:
        abandon(w, op)
        raise
    return None


def _unindex(w: Ports, op: Opening) -> None:
    """The token named an earlier request's record: this opening claimed nothing else; the sweeper drops an entry
    left behind."""
    try:
        w.documents.delete_doc(ACTIVE, op.record_id)
    except NestBackupError as err:
        logs.event("opening left to the sweeper", step="create", record_id=op.record_id, reason=str(err))


def _index(w: Ports, op: Opening) -> None:
    try:
        w.documents.put_doc(ACTIVE, op.record_id, {"Kind": op.kind, "ServiceInstanceId": op.si,
                                                   "StartedEpoch": op.now, "ClientToken": op.token,
                                                   "TakesLock": op.take_lock})
    except CloudError:
        if w.documents.get_doc(ACTIVE, op.record_id) is None:      # not applied (else: applied, answer lost)
            raise


def _lock(w: Ports, op: Opening) -> None:
    try:
        take_instance_lock(w, op.si, op.record_id, op.now)
    except CloudError:
        if w.claims.lock_holder(op.si, int(op.now * 1000)) != op.record_id:   # not applied (else: answer lost)
            raise


def _claim_token(w: Ports, op: Opening) -> str | None:
    assert op.token
    now_ms, ttl_ms = int(op.now * 1000), TOKEN_TTL_SECONDS * 1000
    for _ in range(2):
        try:
            held = w.claims.claim_token(op.si, op.kind, op.token, op.record_id, op.fingerprint, now_ms, ttl_ms)
        except CloudError:      # refused, or applied with its answer lost: the repeat tells which
            held = w.claims.claim_token(op.si, op.kind, op.token, op.record_id, op.fingerprint, now_ms, ttl_ms)
        if held is None or held.record_id == op.record_id:
            return None
        if held.fingerprint != op.fingerprint:
            raise IdempotentParameterMismatch("the ClientToken was used before with other parameters; use a new "
                                              "ClientToken for a new request")
        if not never_written(w, held.record_id, op.now):
            return held.record_id
        w.claims.forget_token(op.si, op.kind, op.token, held.record_id)       # reclaimed: claim it afresh
        logs.event("client token reclaimed", step="create", record_id=held.record_id, service_instance_id=op.si)
    raise Conflict("another request is reclaiming this ClientToken; try again")


def earlier_record(w: Ports, record_id: str) -> StoredRecord:
    """The record an earlier request with the same ClientToken opened; that request may still be writing it."""
    deadline = time.monotonic() + WAIT_FOR_RECORD_SECONDS
    while True:
        stored = w.records.read(record_id)
        if stored:
            return stored
        if time.monotonic() > deadline:
            raise Conflict(f"a request with this ClientToken is still creating {record_id}; try again")
        time.sleep(0.1)


def write_record(w: Ports, op: Opening, header: dict, items: dict[str, dict]) -> None:
    """The commit point. Not started once the opening ran too long (others may judge it dead); a write whose answer
    was lost is read back."""
    if time.monotonic() - op.began > OPENING_SECONDS - OPENING_MARGIN_SECONDS:
        abandon(w, op)
        raise CloudError("OpeningTimedOut", f"opening {op.record_id} took over "
                         f"{OPENING_SECONDS - OPENING_MARGIN_SECONDS} s; nothing was created", action="create",
                         http_status=503)
    try:
        w.records.create(op.kind, op.record_id, op.si, header, items)
    except NestBackupError:
        try:
            written = w.records.read(op.record_id) is not None
        except NestBackupError:
            logs.event("opening left to the sweeper", step="create", record_id=op.record_id)
            raise
        if written:
            return
        abandon(w, op)
        raise


def start_flow(w: Ports, op: Opening, flow: str, start: FlowInput, close: Callable[[dict], object]) -> None:
    """Start the record's flow; a start whose answer was lost is read back. One that did not start closes the record
    with the cause at once (`close`, the kind's finalize or recover)."""
    name = execution_name(op.record_id)
    try:
        w.flows.start_once(flow, name, start)
        return
    except CloudError as err:
        cause = err
    try:
        started = w.flows.describe(flow, name) is not None
    except CloudError:
        logs.event("opening left to the sweeper", step="create", record_id=op.record_id, reason=str(cause))
        raise cause from None
    if started:
        return
    try:
        close({"Code": cause.code, "Detail": f"the {op.kind} flow could not start: {cause.message}"})
    except NestBackupError as err:
        logs.event("opening left to the sweeper", step="create", record_id=op.record_id, reason=str(err))
    raise cause


def ensure_started(w: Ports, flow: str, record_id: str, start: FlowInput) -> None:
    """A record not final whose flow never started (its opening died between the two): start it now."""
    if w.flows.describe(flow, execution_name(record_id)) is None:
        w.flows.start_once(flow, execution_name(record_id), start)
        logs.event("flow started on a retry", step="create", record_id=record_id)


def abandon(w: Ports, op: Opening) -> None:
    """Give back what an opening claimed before its record was written: the lock if it holds it, the token if it
    holds it, and last the index entry, so the sweeper still finds whatever a failed give-back leaves."""
    try:
        if op.take_lock:
            w.claims.release_lock(op.si, op.record_id)
        if op.token:
            w.claims.forget_token(op.si, op.kind, op.token, op.record_id)
        w.documents.delete_doc(ACTIVE, op.record_id)
    except NestBackupError as err:
        logs.event("opening left to the sweeper", step="create", record_id=op.record_id, reason=str(err))


def abandon_indexed(w: Ports, record_id: str, doc: dict) -> None:
    """The sweeper's `abandon` for an index entry whose record was never written."""
    abandon(w, Opening(str(doc.get("Kind")), record_id, str(doc.get("ServiceInstanceId")), doc.get("ClientToken"),
                       "", float(doc.get("StartedEpoch") or 0), take_lock=bool(doc.get("TakesLock", True))))
