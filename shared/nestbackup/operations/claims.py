"""The service instance's lock, the index of operations not final yet, and when the holder of a claim (a lock, a
client token) is dead: what makes an operation exclusive without waiting for a lease to run out. Claiming and giving
back, in order, is `operations/opening.py` and `operations/closing.py`."""
from __future__ import annotations

from ..model.ids import is_backup_id, is_restore_id
from ..model.records import record_time
from ..model.status import BACKUP_FINAL, RESTORE_FINAL
from ..ports import Ports
from ..ports.claims import LockTaken

FINAL = {str(s) for s in BACKUP_FINAL | RESTORE_FINAL}
# The collection indexing operations not final yet: opening.py writes an entry, closing.py drops it, the sweeper reads
# them. Here, not in closing.py: creating an operation must not load the closing's notifications on its cold path.
ACTIVE = "active"
OPENING_SECONDS = 120          # an opening writes its record within this, or gives up (the API function's is 60 s)


def never_written(w: Ports, record_id: str, now: float) -> bool:
    """The opening of `record_id` gave up or died before writing its record: it never will (opening.write_record
    does not start the write after OPENING_SECONDS less a margin)."""
    return now - record_time(record_id) > OPENING_SECONDS and w.records.read(record_id) is None


def take_instance_lock(w: Ports, si: str, holder: str, now: float) -> None:
    """Take the service instance's lock, or LockTaken naming the live holder. A lock whose holder's record is already
    final is free: an operation writes its final record first and lets the lock go just after (or crashed between
    the two), and a caller who saw the final record must not be refused. So is a lock whose holder never wrote its
    record (its opening failed or died, and its give-back too)."""
    now_ms, lease_ms = int(now * 1000), w.settings.lock_lease_seconds * 1000
    try:
        w.claims.acquire_lock(si, holder, now_ms, lease_ms)
    except LockTaken:
        current = w.claims.lock_holder(si, now_ms)
        if current is None or not (is_backup_id(current) or is_restore_id(current)):
            raise
        stored = w.records.read(current)
        dead = never_written(w, current, now) if stored is None else stored.header.get("Status") in FINAL
        if not dead:
            raise
        w.claims.release_lock(si, current)
        w.claims.acquire_lock(si, holder, now_ms, lease_ms)
