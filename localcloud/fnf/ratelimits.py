"""CloudFlow's API rate limits: one token bucket per operation per account, as the limits page documents them
[doc: https://www.alibabacloud.com/help/en/serverless-workflow/latest/limits, "API rate limits": "CloudFlow uses a
token bucket algorithm to control API call rates. Each operation has a token bucket with a fixed size and refill
rate"]: StartExecution 100 tokens refilled at 100/s, DescribeExecution and GetExecutionHistory 50 at 5/s, every
other operation 10 at 2/s.

A call that finds its bucket empty is refused before it is applied with `THROTTLED`: the page names no error code,
so the code and HTTP status are UNCONFIRMED (the same answer as the `throttle` fault gives for fnf). The local cloud
serves one account, so one bucket per operation.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from ..core.errors import ServiceError
from ..core.faults import THROTTLED as FAULT_ANSWERS

BUCKETS = {"StartExecution": (100, 100.0), "DescribeExecution": (50, 5.0), "GetExecutionHistory": (50, 5.0)}
OTHER_OPERATIONS = (10, 2.0)       # size (tokens), refill (tokens per second)
THROTTLED = FAULT_ANSWERS["fnf"]   # UNCONFIRMED: ("Throttling", "Request was denied due to request throttling.", 400)


class RateLimits:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}      # operation -> (tokens, when counted)

    def take(self, operation: str) -> None:
        """Spend one token of `operation`'s bucket, or refuse the call as CloudFlow does when there is none."""
        size, rate = BUCKETS.get(operation, OTHER_OPERATIONS)
        key = operation if operation in BUCKETS else "other"
        with self._lock:
            now = self.clock()
            tokens, then = self._buckets.get(key, (float(size), now))
            tokens = min(float(size), tokens + (now - then) * rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                raise ServiceError(THROTTLED[0], f"{THROTTLED[1]} ({operation}: {size} calls at once, then "
                                                 f"{rate:g} a second)", THROTTLED[2])
            self._buckets[key] = (tokens - 1, now)
