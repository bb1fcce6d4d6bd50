"""The records port: records (a header and one row per resource, each written under optimistic concurrency), their
timelines and their listing by service instance. `adapters/tablestore.py` implements it (with the claims and
documents ports) on one Tablestore table; `operations/timeline.py` wraps it to derive each record's timeline."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import Conflict

HEADER = "#"          # the key of a record's header in StoredRecord.versions


class StaleWrite(Conflict):
    """The row changed since it was read; read it again and retry the decision."""


class RecordExists(Conflict):
    """A record with this id was already written."""


@dataclass
class StoredRecord:
    """A record's rows as read, with the versions a save is conditional on."""
    record_id: str
    header: dict[str, Any]
    items: dict[str, dict[str, Any]]                       # resource id -> item document, in key order
    versions: dict[str, int] = field(default_factory=dict[str, Any])  # HEADER or resource id -> ver read


class Records(Protocol):
    def ensure_table(self) -> bool:
        """Create the store's table when missing (bootstrap); True if it was created."""
        ...

    def create(self, kind: str, record_id: str, si: str, header: dict[str, Any],
               items: dict[str, dict[str, Any]]) -> None:
        """Write a new record and list it under its service instance and in the listing of every instance;
        RecordExists when the id is taken."""
        ...

    def read(self, record_id: str) -> StoredRecord | None: ...

    def save(self, record: StoredRecord, header: dict[str, Any], items: dict[str, dict[str, Any]]) -> None:
        """Write what changed since `record` was read: each item whose document differs from the one read, then the
        header if it differs; nothing else. Each row is written on the condition that its version is still the one
        read (StaleWrite when not), so writers of different items never lose each other's updates. `record` follows
        each row as it is written (document and version): rows written before a StaleWrite stay written, and a
        second save of the same documents writes nothing. `items` holds the record's own items (ValueError for
        another); an item left out is left as it is."""
        ...

    def append_events(self, record_id: str, events: list[dict[str, Any]]) -> None: ...

    def events(self, record_id: str, limit: int) -> list[dict[str, Any]]: ...

    def list_ids(self, si: str | None, kind: str, limit: int = 20,
                 after: str | None = None) -> tuple[list[str], str | None]:
        """Record ids of a service instance (of every instance when `si` is None), newest first, `limit` at most,
        after the id `after`; and the last id of the page when more may follow. Records created before the listing
        of every instance existed are listed only under their own instance."""
        ...
