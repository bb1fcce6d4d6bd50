"""What the benches share: the cold-start baseline import, a best-of-N fresh-process timer, following a record."""
from __future__ import annotations

import subprocess
import sys
import time

SDK_CLIENTS = ("import alibabacloud_ecs20140526.client, alibabacloud_rds20140815.client, "
               "alibabacloud_fnf20190315.client, tablestore")


def best_of(code: str | list[str], runs: int = 5, env: dict[str, str] | None = None) -> float:
    """The fastest of `runs` fresh processes (seconds): this interpreter running `code`, or the command `code`."""
    args = [sys.executable, "-c", code] if isinstance(code, str) else code
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, check=True, stderr=subprocess.DEVNULL, env=env)
        times.append(time.perf_counter() - start)
    return min(times)


def until_final(api, path: str, running: str, every: float = 0.2) -> dict:
    """GET `path` through the product API client every `every` s while its Status is `running`; the record then."""
    while (record := api.call("GET", path))["Status"] == running:
        time.sleep(every)
    return record
