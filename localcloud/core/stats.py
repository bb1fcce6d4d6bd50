"""Call counts per product:action, for /_local/stats."""
from __future__ import annotations

import threading
from collections import Counter


class Stats:
    """How many calls each product:action served, for /_local/stats."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()

    def count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._calls[key] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._calls.items()))

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
