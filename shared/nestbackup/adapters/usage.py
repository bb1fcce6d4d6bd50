"""The cloud calls this thread made since the last take, by product and action ("ecs:CreateSnapshot"): what an
operation's step spent, for its record's cost. Every attempt counts (a retried call is sent, and billed, again)."""
from __future__ import annotations

import threading
from collections import Counter

_calls = threading.local()


def note_call(product: str, action: str) -> None:
    counter = getattr(_calls, "counter", None)
    if counter is None:
        counter = _calls.counter = Counter()
    counter[f"{product}:{action}"] += 1


def take_calls() -> dict[str, int]:
    counter = getattr(_calls, "counter", None) or Counter()
    _calls.counter = Counter()
    return dict(counter)
