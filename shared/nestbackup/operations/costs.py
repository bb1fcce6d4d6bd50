"""Charging each record for what its steps spend: every step (the API's create, each flow step) adds the cloud calls
it made, the flow transitions it takes, one function invocation and its GB-seconds to the record's running cost; when
the record is final its cost, with the snapshot and backup bytes it created and a money estimate at the plan's
prices, goes on the record (`Cost`). Best effort: recording a cost never fails the step it describes."""
from __future__ import annotations

import json
import logging
import time

from ..decisions.cost import estimate
from ..errors import NestBackupError
from ..model.cost import Cost
from ..ports import Ports

log = logging.getLogger("nestbackup.cost")
COSTS = "record-costs"          # record id -> the counters its steps added to so far


class Meter:
    """One step's spending, from its start (which forgets calls left over from an earlier invocation)."""

    def __init__(self, w: Ports) -> None:
        self.w = w
        w.take_calls()
        self.started = time.monotonic()

    def charge(self, record_id: str, transitions: int) -> None:
        """Add the step's spending so far to the record's counters: one write, which counts itself."""
        w = self.w
        memory_gb = w.settings.function_memory_mb / 1024
        delta = Cost(w.take_calls(), transitions, 1, (time.monotonic() - self.started) * memory_gb)
        try:
            w.documents.add_counts(COSTS, record_id, delta.to_counters())
        except NestBackupError as err:
            log.warning("cost not recorded", extra={"fields": {"record_id": record_id, "reason": str(err)}})
        w.take_calls()            # that write: counted by itself


def final_cost(w: Ports, record_id: str, bytes_created: int = 0, database_bytes: int = 0) -> dict | None:
    """The record's cost so far, this read included, with the bytes it created, priced (NESTBACKUP_PRICES over the
    plan's defaults). Not in it: the record's final write and the closing after it (lock, client token,
    notifications), which come after the cost they would have to be part of."""
    try:
        counted = Cost.from_counters(w.documents.counts(COSTS, record_id)).add(Cost(w.take_calls()))
        prices = json.loads(w.settings.prices or "{}")
    except (NestBackupError, ValueError) as err:
        log.warning("cost not read", extra={"fields": {"record_id": record_id, "reason": str(err)}})
        return None
    counted.bytes_created = bytes_created
    return estimate(counted, prices if isinstance(prices, dict) else None, database_bytes=database_bytes)
