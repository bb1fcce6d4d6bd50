"""Waiting, bounded, for something asynchronous to show."""
from __future__ import annotations

import time


def wait_until(predicate, timeout: float = 60):
    """Poll `predicate` until it returns something true (returned), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")

