"""The event bus port in memory: buses that exist take events; an unknown bus refuses the call, as EventBridge does."""
from __future__ import annotations

from typing import Any

from nestbackup.errors import CloudError


class MemoryEventBus:
    def __init__(self) -> None:
        self.buses: dict[str, list[dict[str, Any]]] = {}
        self.failing = False

    def put_events(self, bus: str, events: list[dict[str, Any]]) -> dict[str, str]:
        if self.failing:
            raise CloudError("InternalError", "the bus is down (test)", action="PutEvents", http_status=500)
        if bus not in self.buses:
            raise CloudError("EventBusNotExist", f"The event bus [{bus}] not existed!", action="PutEvents")
        refused = {str(e.get("id")): "InvalidArgument: an event needs id, source and type"
                   for e in events if not all(e.get(k) for k in ("id", "source", "type"))}
        self.buses[bus] += [e for e in events if str(e.get("id")) not in refused]
        return refused
