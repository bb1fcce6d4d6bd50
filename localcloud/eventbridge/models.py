"""EventBridge (2020-04-01): event buses that take CloudEvents.

Emulated: PutEvents, the call the product publishes final records with. Buses are created by the control plane
(`/_local/eventbridge/buses`, as the console or Terraform's alicloud_event_bridge_event_bus would), never over the
API; what was put on a bus is read back there too (as a rule's target would get it).
Sources: the API reference page api-eventbridge-2020-04-01-putevents (EventBusName and EventList required; an
event's Id, Source and Type required; the answer's Code "200", Success, Data.FailedEntryCount and Data.EntryList of
EventId, TraceId, ErrorCode, ErrorMessage), the SDK alibabacloud_eventbridge20200401 8.7.0 (PutEventsRequest,
PutEventsResponseBody; EventList travels as one JSON string in a form body), and the Terraform provider
(alicloud/service_alicloud_eventbridge.go) for an unknown bus: HTTP 200, `Code` EventBusNotExist, `Success` false.
"""
from __future__ import annotations

import uuid
from typing import Any

from ..core.errors import ServiceError, invalid
from ..core.product import Product
from ..core.rpc import RpcRequest

BUS = "eventbridge.bus"
EVENT = "eventbridge.event"
# The Terraform provider reads this code from GetEventBus's body; that PutEvents answers an unknown bus the same
# way (HTTP 200, Success false) is UNCONFIRMED.
BUS_NOT_FOUND_CODE = "EventBusNotExist"
# An event without one of the three attributes the API page marks required fails alone, in EntryList: UNCONFIRMED
# (the page does not say whether the whole call is refused instead), as is the error code.
ENTRY_INVALID_CODE = "InvalidArgument"
REQUIRED = ("Id", "Source", "Type")
# UNCONFIRMED: how many events one call may carry (no page found states it); the local cloud takes 100.
MAX_EVENTS = 100


class EventBridge(Product):
    name = "eventbridge"
    version = "2020-04-01"
    ACTIONS = frozenset({"PutEvents"})

    # ------------------------------------------------------------------------------------------------ control
    def control(self, method: str, parts: list[str], body: dict) -> dict:
        """POST buses {"EventBusName"}: create a bus; GET events?bus=…: what was put on it, oldest first."""
        if parts == ["buses"] and method == "POST":
            name = body.get("EventBusName")
            if not isinstance(name, str) or not name:
                raise ValueError("EventBusName is required")
            self.cloud.store.put(BUS, name, {"EventBusName": name, "CreateTime": self.cloud.iso()})
            return {"EventBusName": name}
        if parts[:1] == ["events"] and method == "GET" and len(parts) == 2:
            events = self.cloud.store.find(EVENT, lambda doc: doc["EventBusName"] == parts[1])
            return {"Events": [doc["Event"] for doc in sorted(events, key=lambda d: d["Sequence"])]}
        raise ValueError(f"no EventBridge control endpoint {method} {'/'.join(parts)}")

    # ------------------------------------------------------------------------------------------------ API
    def PutEvents(self, req: RpcRequest) -> dict[str, Any]:
        bus = req.require("EventBusName")
        events = req.get_json("EventList", list)
        if not events:
            raise ServiceError("MissingParameter", "The input parameter \"EventList\" that is mandatory for "
                                                   "processing this request is not supplied.", 400)
        if len(events) > MAX_EVENTS:
            raise invalid("EventList", f"At most {MAX_EVENTS} events.")
        if self.cloud.store.get(BUS, bus) is None:
            return {"Code": BUS_NOT_FOUND_CODE, "Success": False, "Message": f"The event bus [{bus}] not existed!"}
        entries = []
        for event in events:
            trace = str(uuid.uuid4())
            lacking = [name for name in REQUIRED if not isinstance(event, dict) or not event.get(name)]
            if lacking:
                entries.append({"EventId": event.get("Id") if isinstance(event, dict) else None, "TraceId": trace,
                                "ErrorCode": ENTRY_INVALID_CODE,
                                "ErrorMessage": f"The event attribute {lacking[0]} is required."})
                continue
            sequence = len(self.cloud.store.find(EVENT)) + 1
            self.cloud.store.put(EVENT, f"{bus}/{sequence:012d}", {"EventBusName": bus, "Sequence": sequence,
                                                                   "Event": event})
            entries.append({"EventId": event["Id"], "TraceId": trace})
        failed = sum(1 for e in entries if "ErrorCode" in e)
        return {"Code": "200", "Success": True, "Message": "success",
                "Data": {"FailedEntryCount": failed, "EntryList": entries}}
