"""What the cold-start benches share: the baseline import and a best-of-N fresh-process timer."""
from __future__ import annotations

import subprocess
import sys
import time

SDK_CLIENTS = ("import alibabacloud_ecs20140526.client, alibabacloud_rds20140815.client, "
               "alibabacloud_fnf20190315.client, tablestore")


def best_of(code: str, runs: int = 5) -> float:
    """The fastest of `runs` fresh interpreters running `code` (seconds)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return min(times)
