"""Timer triggers fired as Function Compute fires them: every enabled timer trigger of the deployed s.yaml invokes its
function on its cron, with FC's timer event, without anyone calling.

- When: `cronExpression` of six fields, second first, in UTC unless it starts with `CRON_TZ=<zone> `, or
  `@every <n><s|m|h>` [doc: https://www.alibabacloud.com/help/doc-detail/171746.htm; devsapp/fc3 src/schema.json
  ITimerTriggerConfig]. A disabled trigger (`enable: false`) never fires. Where an `@every` interval starts counting
  is not documented: here, from when the timers start (UNCONFIRMED, `EVERY_STARTS_AT_START`).
- The event: `{"triggerTime": "2018-02-09T05:49:00Z", "triggerName": "<trigger>", "payload": "<the trigger's
  payload>"}` [doc: https://www.alibabacloud.com/help/en/fc/formats-of-event-for-different-triggers, "Time trigger"].
- How: each firing runs on a thread of its own, so a long run does not hold back the next firing of any trigger;
  an exception is logged, as FC logs it. Firings missed while the local cloud was not running are not made up.

Opt-in (`LocalCloud(fire_timers=True)`): `nestbackup local serve` fires them; the embedded clouds of the tests and
the demo do not, so nothing runs there that a test did not ask for. Counts in /_local/stats: `timer:<function>/
<trigger>` per firing, and `fc:<function>` as for any invocation.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from .syaml import FunctionSpec, TriggerSpec

log = logging.getLogger("localcloud.fc.timers")

EVERY_STARTS_AT_START = True      # UNCONFIRMED: an `@every` interval counts from when the trigger starts
_UNITS = {"s": 1, "m": 60, "h": 3600}


@dataclass(frozen=True)
class Timer:
    function: str
    trigger: str
    cron: str
    payload: str

    def next_fire(self, after: float, started: float) -> float:
        """The first time after `after` (epoch seconds) this trigger fires; `started`: when the timers started."""
        text = self.cron.strip()
        zone = timezone.utc
        if text.startswith("CRON_TZ="):
            name, text = text.split(None, 1)
            from zoneinfo import ZoneInfo
            zone = ZoneInfo(name.split("=", 1)[1])     # type: ignore[assignment]
        if text.startswith("@every"):
            amount = text.split()[1]
            period = int(amount[:-1]) * _UNITS[amount[-1]]
            return started + (int((after - started) // period) + 1) * period
        from croniter import croniter
        return croniter(text, datetime.fromtimestamp(after, zone), second_at_beginning=True).get_next(float)

    def event(self, at: float) -> bytes:
        when = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return json.dumps({"triggerTime": when, "triggerName": self.trigger, "payload": self.payload}).encode()


def timers_of(specs: list[FunctionSpec]) -> list[Timer]:
    """The enabled timer triggers of the deployed functions."""
    found: list[Timer] = []
    for spec in specs:
        for trigger in spec.triggers:
            if trigger.type == "timer" and trigger.config.get("enable") is True:
                found.append(_timer(spec, trigger))
    return found


def _timer(spec: FunctionSpec, trigger: TriggerSpec) -> Timer:
    return Timer(spec.name, trigger.name, trigger.config["cronExpression"], trigger.config.get("payload", ""))


class TimerClock:
    """Fires `timers` through `invoke(function, event)` at their times, on a background thread, until stopped."""

    def __init__(self, timers: list[Timer], invoke: Callable[[str, bytes], object], count: Callable[[str], None],
                 clock: Callable[[], float] = time.time) -> None:
        self.timers = timers
        self.invoke = invoke
        self.count = count
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or not self.timers:
            return
        self._thread = threading.Thread(target=self._run, name="localcloud-timers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        started = self.clock()
        due = {timer: timer.next_fire(started, started) for timer in self.timers}
        while not self._stop.is_set():
            timer, at = min(due.items(), key=lambda item: item[1])
            if self._stop.wait(max(0.0, at - self.clock())):
                return
            self._fire(timer, at)
            due[timer] = timer.next_fire(at, started)

    def _fire(self, timer: Timer, at: float) -> None:
        self.count(f"timer:{timer.function}/{timer.trigger}")

        def run() -> None:
            try:
                self.invoke(timer.function, timer.event(at))
            except Exception:       # FC logs a failed invocation; the next firing comes all the same
                log.exception("timer %s of %s failed", timer.trigger, timer.function)
        threading.Thread(target=run, name=f"localcloud-timer-{timer.trigger}", daemon=True).start()
