"""The in-memory progress of one asynchronous ECS operation (a snapshot or a rollback): work done, start time,
cancellation, and the blocks it pins against garbage collection."""
from __future__ import annotations

import math
import threading
import time


class Job:
    """In-memory progress of one asynchronous operation."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.work = 0.0
        self.cancel = threading.Event()
        self.pinned: list[bytes] = []  # block digests this job holds against garbage collection

    def set_work(self, fraction: float) -> None:
        self.work = max(self.work, min(fraction, 1.0))

    def fraction(self, delay_s: float) -> float:
        frac = self.work
        if delay_s > 0:
            frac = min(frac, (time.monotonic() - self.started) / delay_s)
        return frac

    def remaining(self, delay_s: float) -> int:
        elapsed = time.monotonic() - self.started
        left = max(delay_s - elapsed, 0.0)
        if 0 < self.work < 1:
            left = max(left, elapsed / self.work * (1 - self.work))
        elif self.work == 0:
            left = max(left, 1.0)
        return math.ceil(left)
