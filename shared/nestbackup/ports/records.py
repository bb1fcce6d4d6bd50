"""The record store port: records (a header and one row per resource, each written under optimistic concurrency),
their timelines, listings, client tokens, per-instance locks and small document collections.
`adapters/tablestore.py` implements it on one Tablestore table."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import Conflict

HEADER = "#"          # the key of a record's header in StoredRecord.versions
COUNTER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(:[A-Za-z][A-Za-z0-9]*)?")    # "Invocations", "ecs:CreateSnapshot"


def check_counter_names(counts: dict[str, int]) -> None:
    """Counter names are part of the port's contract: each store must be able to keep them as they are."""
    bad = [name for name in counts if not (isinstance(name, str) and COUNTER_NAME.fullmatch(name) and len(name) < 200)]
    if bad:
        raise ValueError(f"counter names must be letters and digits, optionally 'product:Action': {bad}")


class StaleWrite(Conflict):
    """The row changed since it was read; read it again and retry the decision."""


@dataclass
class StoredRecord:
    record_id: str
    header: dict[str, Any]
    items: dict[str, dict[str, Any]]                       # resource id -> item document, in key order
    versions: dict[str, int] = field(default_factory=dict[str, Any])  # HEADER or resource id -> ver read


class RecordStore(Protocol):
    def ensure_table(self) -> bool: ...

    # -- records
    def create(self, kind: str, record_id: str, si: str, header: dict[str, Any],
               items: dict[str, dict[str, Any]]) -> None: ...

    def read(self, record_id: str) -> StoredRecord | None: ...

    def write_header(self, record: StoredRecord, header: dict[str, Any]) -> None:
        """Conditional on the version read; StaleWrite when the header changed since."""
        ...

    def write_item(self, record: StoredRecord, resource_id: str, item: dict[str, Any]) -> None:
        """Conditional on the version read; StaleWrite when the item changed since."""
        ...

    def append_events(self, record_id: str, events: list[dict[str, Any]]) -> None: ...

    def events(self, record_id: str, limit: int) -> list[dict[str, Any]]: ...

    def list_ids(self, si: str, kind: str, limit: int = 20,
                 after: str | None = None) -> tuple[list[str], str | None]: ...

    # -- client tokens and locks
    def claim_token(self, si: str, kind: str, token: str, record_id: str) -> str | None:
        """None once `token` is `record_id`'s; else the record id that claimed it first."""
        ...

    def forget_token(self, si: str, kind: str, token: str) -> None: ...

    def acquire_lock(self, si: str, holder: str, now_ms: int, lease_ms: int) -> None:
        """Conflict when another holder's lease has not expired."""
        ...

    def lock_holder(self, si: str, now_ms: int) -> str | None: ...

    def release_lock(self, si: str, holder: str) -> bool: ...

    # -- document collections
    def put_doc(self, collection: str, key: str, doc: dict[str, Any]) -> None: ...

    def create_doc(self, collection: str, key: str, doc: dict[str, Any]) -> bool: ...

    def get_doc(self, collection: str, key: str) -> tuple[dict[str, Any], int] | None: ...

    def update_doc(self, collection: str, key: str, doc: dict[str, Any], expected_version: int) -> int: ...

    def delete_doc(self, collection: str, key: str) -> None: ...

    def docs(self, collection: str) -> list[tuple[str, dict[str, Any], int]]: ...

    # -- counters
    def add_counts(self, collection: str, key: str, counts: dict[str, int]) -> None:
        """Add each count to the counter of that name (names: letters, digits and ':'), atomically and without a
        read, so writers at once never lose each other's counts; absent counters start at 0. The write counts
        itself among them, as the cloud call it is (a cost counts every call)."""
        ...

    def counts(self, collection: str, key: str) -> dict[str, int]: ...
