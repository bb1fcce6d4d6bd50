"""The secrets port in memory: named values, and how often each was read from the store."""
from __future__ import annotations

from collections import Counter

from nestbackup.errors import NotFound


class MemorySecrets:
    def __init__(self, values: dict[str, str] | None = None) -> None:
        self.values = dict(values or {})
        self.reads: Counter[str] = Counter()       # reads that reached the store (fresh ones)
        self._cached: dict[str, str] = {}

    def read(self, name: str, *, fresh: bool = False) -> str:
        if name in self._cached and not fresh:
            return self._cached[name]
        self.reads[name] += 1
        if name not in self.values:
            raise NotFound(f"no secret named {name!r}")
        self._cached[name] = self.values[name]
        return self._cached[name]
