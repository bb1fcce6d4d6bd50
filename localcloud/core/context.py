"""What every product of the local cloud shares: the state dir, the durable store, faults, call counts, background
jobs, ids and clocks. `localcloud.cloud.LocalCloud` builds on it and adds the products; a product sees only this."""
from __future__ import annotations

import secrets
import string
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from .faults import Faults
from .ram import Ram
from .stats import Stats
from .store import Store

_ID_ALPHABET = string.ascii_lowercase + string.digits


class CloudContext:
    def __init__(self, state_dir: Path, credentials: dict[str, str], region: str) -> None:
        self.state_dir = state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.credentials = credentials
        self.ram = Ram(credentials)      # the functions' roles and the check of their calls
        self.region = region
        self.account_id = "1234567890123456"        # the account every ARN of this cloud names
        self.store = Store(self.state_dir / "state.db")
        self.faults = Faults()
        self.stats = Stats()
        self.jobs = ThreadPoolExecutor(max_workers=16, thread_name_prefix="localcloud-job")
        self._stopping = threading.Event()

    def new_id(self, prefix: str, length: int = 20) -> str:
        return f"{prefix}-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))

    @staticmethod
    def now() -> datetime:
        return datetime.now(timezone.utc)

    @staticmethod
    def iso(ts: datetime | None = None, minutes: bool = False) -> str:
        ts = ts or datetime.now(timezone.utc)
        return ts.strftime("%Y-%m-%dT%H:%MZ" if minutes else "%Y-%m-%dT%H:%M:%SZ")

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def submit(self, fn: Callable, *args: Any) -> None:
        """Run asynchronous cloud work in the background."""
        self.jobs.submit(fn, *args)

    def pace(self, started: float, *ids: str) -> None:
        """Hold an asynchronous operation on `ids` until its minimum duration (faults: pace_ms, op_delay_ms) has
        passed."""
        remaining = self.faults.min_duration(*ids) - (time.monotonic() - started)
        if remaining > 0:
            self._stopping.wait(remaining)

    def wait_while_stuck(self, *ids: str) -> bool:
        """Block while a resource is configured stuck; True if the server is stopping instead."""
        while self.faults.is_stuck(*ids):
            if self._stopping.wait(0.05):
                return True
        return False

    def stop_jobs(self) -> None:
        """Tell running work the cloud is stopping and wait for the background jobs to end."""
        self._stopping.set()
        self.jobs.shutdown(wait=True, cancel_futures=True)
