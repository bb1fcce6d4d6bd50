"""Drills: prove a backup restores, without disturbing the service (the steps are in drill_steps.py).

create   -> check the backup can be drilled and nothing holds the service instance, write the record (every item
            Pending), index it as running (what the sweeper and a restore's preemption read), start flows/drill.yaml
get/list -> the record; a service instance's drills, newest first
preempt  -> a restore of the same service instance asks its running drills to stop and clean up (never waits)
cancel   -> the caller asks the same of one drill

A drill takes no instance lock: it never stops or changes anything of the service, and it must never block an
emergency restore. A restore is refused by nothing a drill does; a drill is refused while a restore holds the
instance (its lock), and while another drill of the instance runs (both would restore onto the same RDS instances).
A backup may run beside a drill (RDS refusals of a second task are waited out, as a restore waits them out)."""
from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

from .. import logs
from ..decisions import drill as decide
from ..errors import Conflict, NotFound, ValidationError
from ..model.drills import DrillRecord
from ..model.ids import is_drill_id, is_restore_id
from ..model.records import iso_utc, new_record_id
from ..model.status import DrillStatus
from ..ports.flows import DrillFlowInput
from .loading import load_backup

if TYPE_CHECKING:
    from ..ports import Ports
    from ..ports.records import StoredRecord

RUNNING = "drills-running"          # <service instance>#<drill id> -> {DrillId, ServiceInstanceId, StartedEpoch}
RECORD_GRACE_SECONDS = 60           # a drill's create writes its record within this after indexing it
PREEMPTED = "drills-preempted"      # <drill id> -> {RestoreId} or {By}: it stops and cleans up at its next round


def running_key(si: str, drill_id: str) -> str:
    return f"{si}#{drill_id}"


def create_drill(w: Ports, backup_id: str, origin: str = "user", now: float | None = None) -> dict:
    now = time.time() if now is None else now
    backup = load_backup(w, backup_id)
    si = backup.service_instance_id
    drill_id = new_record_id("drill", int(now * 1000), secrets.token_hex(4))
    try:
        items = decide.plan_items(backup, drill_id)
    except decide.NotDrillable as err:
        raise Conflict(str(err)) from None
    holder = w.claims.lock_holder(si, int(now * 1000))
    if holder and is_restore_id(holder):
        raise Conflict(f"{si} is being restored by {holder}: a drill starts once it is over (a drill never runs "
                       f"beside a restore of the same service instance)")
    other = running_drills(w, si, now)
    if other:
        raise Conflict(f"drill {other[0]} of {si} is still running: one drill of a service instance at a time")
    start, end = _epoch_of(backup.start_time), _epoch_of(backup.end_time)
    record = DrillRecord(drill_id, backup.backup_id, si, iso_utc(now), items, started_epoch=now,
                         backup_seconds=round(end - start, 1) if start is not None and end is not None else None,
                         origin=origin)
    # indexed first: a drill whose record or flow never came is found and closed by the sweeper
    w.documents.put_doc(RUNNING, running_key(si, drill_id), {"DrillId": drill_id, "ServiceInstanceId": si,
                                                             "StartedEpoch": now})
    try:
        w.records.create("drill", drill_id, si, record.header_doc(),
                         {i.resource_id: i.to_dict() for i in record.items})
    except Exception:
        if w.records.read(drill_id) is not None:
            pass                        # written, its answer lost: the drill goes on
        else:                           # not written: the entry is given back, the caller may ask again
            w.documents.delete_doc(RUNNING, running_key(si, drill_id))
            raise
    logs.event("drill created", step="create", record_id=drill_id, backup_id=backup.backup_id, items=len(items))
    try:
        w.flows.start_once(w.settings.drill_flow, drill_id, DrillFlowInput(drill_id))
    except Exception as err:  # noqa: BLE001 - the sweeper runs the drill's close; the record says it did not start
        logs.event("drill flow not started", step="create", record_id=drill_id, reason=str(err))
    return record.to_api()


def _epoch_of(text: str | None) -> float | None:
    from datetime import datetime, timezone
    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


def read_drill(w: Ports, drill_id: str) -> tuple[StoredRecord, DrillRecord]:
    stored = w.records.read(drill_id) if is_drill_id(drill_id) else None
    if stored is None or stored.header.get("Kind") != "drill":
        raise NotFound(f"no drill {drill_id!r}")
    return stored, DrillRecord.from_docs(stored.header, stored.items)


def get_drill(w: Ports, drill_id: str) -> dict:
    return read_drill(w, drill_id)[1].to_api()


def list_drills(w: Ports, service_instance_id: str | None, limit: int = 20, after: str | None = None) -> dict:
    """A page of drills, newest first: of one service instance, or of every one (None)."""
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise ValidationError("MaxResults must be a whole number from 1 to 100")
    ids, next_token = w.records.list_ids(service_instance_id, "drill", limit, after)
    out = []
    for drill_id in ids:
        stored = w.records.read(drill_id)
        if stored is not None and stored.header.get("Kind") == "drill":
            out.append(DrillRecord.from_docs(stored.header, stored.items).to_api())
    return {"Drills": out, "NextToken": next_token}


def cancel_drill(w: Ports, drill_id: str) -> dict:
    """The caller stops a drill: at its next round it removes what it made and ends Cancelled (a final one answers as
    it is)."""
    record = read_drill(w, drill_id)[1]
    if record.status is DrillStatus.RUNNING:
        w.documents.put_doc(PREEMPTED, drill_id, {"By": "the caller"})
    return record.to_api()


def running_drills(w: Ports, si: str, now: float | None = None) -> list[str]:
    """The drills of `si` still running: indexed, and not final (an entry whose drill is final, or whose record
    never came within a minute, waits for the sweeper to drop it and holds nothing back)."""
    now = time.time() if now is None else now
    out = []
    for key, doc, _ in w.documents.docs(RUNNING):
        if not key.startswith(f"{si}#"):
            continue
        stored = w.records.read(doc["DrillId"])
        if stored is None and now - float(doc.get("StartedEpoch") or now) > RECORD_GRACE_SECONDS:
            continue
        if stored is not None and stored.header.get("Status") != DrillStatus.RUNNING:
            continue
        out.append(doc["DrillId"])
    return out


def preempt(w: Ports, si: str, by: str) -> list[str]:
    """A restore of `si` begins: each running drill of it stops at its next round and cleans up (Cancelled). Never
    raises: an emergency restore must not fail because a drill could not be told."""
    told = []
    try:
        for drill_id in running_drills(w, si):
            w.documents.put_doc(PREEMPTED, drill_id, {"RestoreId": by})
            told.append(drill_id)
            logs.event("drill preempted", step="create", record_id=drill_id, by=by)
    except Exception as err:  # noqa: BLE001 - see above
        logs.event("drill preemption not written", step="create", reason=str(err))
    return told
