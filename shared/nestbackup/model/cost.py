"""What one operation cost: the cloud calls its steps made (by product and action), the flow state transitions and
function invocations it took, the function time (GB-seconds), and the bytes of snapshots and backup sets it
created. Plain data that adds up; the money estimate is decisions/cost.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TOTALS = frozenset({"FlowTransitions", "Invocations", "MicroGbSeconds", "BytesCreated"})   # counters not calls


@dataclass
class Cost:
    """What an operation spent, as counted while it ran."""
    calls: dict[str, int] = field(default_factory=dict)     # "ecs:DescribeSnapshots" -> calls (every attempt)
    transitions: int = 0                                     # flow state transitions
    invocations: int = 0                                     # function invocations
    gb_seconds: float = 0.0                                  # function time x memory
    bytes_created: int = 0                                   # snapshots and backup sets made

    def add(self, other: Cost) -> Cost:
        calls = dict(self.calls)
        for action, n in other.calls.items():
            calls[action] = calls.get(action, 0) + n
        return Cost(calls, self.transitions + other.transitions, self.invocations + other.invocations,
                    round(self.gb_seconds + other.gb_seconds, 6), self.bytes_created + other.bytes_created)

    def to_doc(self) -> dict[str, Any]:
        return {"Calls": dict(sorted(self.calls.items())), "FlowTransitions": self.transitions,
                "Invocations": self.invocations, "GbSeconds": round(self.gb_seconds, 6),
                "BytesCreated": self.bytes_created}

    def to_counters(self) -> dict[str, int]:
        """As whole-number counters that add up: the calls by "product:Action" beside TOTALS (GB-seconds in
        micro GB-seconds)."""
        return {**self.calls, "FlowTransitions": self.transitions, "Invocations": self.invocations,
                "MicroGbSeconds": round(self.gb_seconds * 1_000_000), "BytesCreated": self.bytes_created}

    @classmethod
    def from_counters(cls, counters: dict[str, int]) -> Cost:
        return cls({k: v for k, v in counters.items() if k not in TOTALS and v}, counters.get("FlowTransitions", 0),
                   counters.get("Invocations", 0), counters.get("MicroGbSeconds", 0) / 1_000_000,
                   counters.get("BytesCreated", 0))

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Cost:
        doc = doc or {}
        return cls(dict(doc.get("Calls") or {}), int(doc.get("FlowTransitions") or 0),
                   int(doc.get("Invocations") or 0), float(doc.get("GbSeconds") or 0.0),
                   int(doc.get("BytesCreated") or 0))
