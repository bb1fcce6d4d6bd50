"""The documents port: small collections of JSON documents keyed by name (schedules, tenants, the index of running
operations, webhook deliveries, …), each with a version for optimistic concurrency, and counters added to without a
read (a record's running cost). `adapters/tablestore.py` implements it on the records' table."""
from __future__ import annotations

import re
from typing import Any, Protocol

COUNTER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(:[A-Za-z][A-Za-z0-9]*)?")    # "Invocations", "ecs:CreateSnapshot"


def check_counter_names(counts: dict[str, int]) -> None:
    """Counter names are part of the port's contract: each store must be able to keep them as they are."""
    bad = [name for name in counts if not (isinstance(name, str) and COUNTER_NAME.fullmatch(name) and len(name) < 200)]
    if bad:
        raise ValueError(f"counter names must be letters and digits, optionally 'product:Action': {bad}")


class Documents(Protocol):
    def put_doc(self, collection: str, key: str, doc: dict[str, Any]) -> None: ...

    def create_doc(self, collection: str, key: str, doc: dict[str, Any]) -> bool:
        """Write a document only if the key is free; False when another writer got there first."""
        ...

    def get_doc(self, collection: str, key: str) -> tuple[dict[str, Any], int] | None: ...

    def update_doc(self, collection: str, key: str, doc: dict[str, Any], expected_version: int) -> int:
        """Write only if nobody changed the document since `expected_version` was read (else records.StaleWrite);
        answers the new version."""
        ...

    def delete_doc(self, collection: str, key: str) -> None: ...

    def docs(self, collection: str) -> list[tuple[str, dict[str, Any], int]]:
        """Every document of a collection: (key, doc, version), in key order."""
        ...

    def add_counts(self, collection: str, key: str, counts: dict[str, int]) -> None:
        """Add each count to the counter of that name (names: letters, digits and ':'), atomically and without a
        read, so writers at once never lose each other's counts; absent counters start at 0. The write counts
        itself among them, as the cloud call it is (a cost counts every call)."""
        ...

    def counts(self, collection: str, key: str) -> dict[str, int]: ...
