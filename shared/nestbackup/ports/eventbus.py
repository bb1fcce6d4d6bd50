"""The event bus port: put a batch of CloudEvents on a named bus, for operators who route events with the cloud's own
tools. `adapters/eventbridge.py` implements it (Alibaba Cloud EventBridge, PutEvents)."""
from __future__ import annotations

from typing import Any, Protocol


class EventBus(Protocol):
    def put_events(self, bus: str, events: list[dict[str, Any]]) -> dict[str, str]:
        """Put the events (CloudEvents 1.0 attributes and `data`, as `decisions/cloudevents.py` makes them) on
        `bus`; answer, by event id, why each event the bus refused was refused (empty: all were put). A refusal of
        the whole call (an unknown bus, no permission, no answer in time) raises CloudError."""
        ...
