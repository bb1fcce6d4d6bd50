"""ECS's API throttling: each API's calls per region and account are counted per minute, and once an API's threshold
is reached the calls of that minute are refused until the next [doc: alibabacloud.com/help/doc-detail/437902.htm,
"ECS API throttling": "Region-specific throttling thresholds are defined for different API operations ... When the
system-defined throttling threshold is reached, the system denies subsequent API calls that are initiated within a
specific unit of time"]. The thresholds are shown only in each account's Quota Center: `PER_MINUTE` (500 a minute
for every API) is UNCONFIRMED, the figure the scale harness holds the product to (tests/support/scale.py
`UNPUBLISHED_PER_MINUTE`). A refused call is not applied and answers as the `throttle` fault does
(`Throttling.User`, 400: core/faults.py).

On in `nestbackup local serve` (`--ecs-calls-per-minute`, 500 by default), where an operator tries the product as
on an account; off in the suite's in-process clouds unless asked for (`LocalCloud(ecs_calls_per_minute=...)`, or
`throttling.per_minute`): their helpers poll the SDKs in tight loops that no account would allow either. The
product's calls back off when refused.
"""
from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Callable

from ..core.errors import ServiceError
from ..core.faults import THROTTLED

PER_MINUTE = 500
REFUSAL = THROTTLED["ecs"]


class MinuteThrottling:
    def __init__(self, per_minute: int | None = None, clock: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute          # None: not enforced
        self.clock = clock
        self._lock = threading.Lock()
        self._minute = -1
        self._calls: Counter[str] = Counter()

    def take(self, action: str) -> None:
        """Count one call of `action` in this minute, or refuse it as ECS does past the API's threshold."""
        if self.per_minute is None:
            return
        with self._lock:
            minute = int(self.clock() // 60)
            if minute != self._minute:
                self._minute, self._calls = minute, Counter()
            if self._calls[action] >= self.per_minute:
                raise ServiceError(REFUSAL[0], f"{REFUSAL[1]} ({action}: {self.per_minute} calls a minute)",
                                   REFUSAL[2])
            self._calls[action] += 1
