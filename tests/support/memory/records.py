"""The records, claims and documents ports in memory, one store for the three as adapters/tablestore.py is: the same
rows, versions, conditions, ordering and errors."""
from __future__ import annotations

import json
import threading
from typing import Any

from nestbackup.ports.claims import LockTaken, TokenClaim
from nestbackup.ports.documents import check_counter_names
from nestbackup.ports.records import HEADER, RecordExists, StaleWrite, StoredRecord


class _Rows(dict):
    """The rows, with an index of each partition's sort keys (what a GetRange reads), so that reading one record or
    one collection among many thousands does not scan them all (tests/support/scale.py holds 10,000 instances)."""

    def __init__(self) -> None:
        super().__init__()
        self.partitions: dict[str, set[str]] = {}

    def __setitem__(self, key: tuple[str, str], value: dict[str, Any]) -> None:
        super().__setitem__(key, value)
        self.partitions.setdefault(key[0], set()).add(key[1])

    def __delitem__(self, key: tuple[str, str]) -> None:
        super().__delitem__(key)
        self.partitions.get(key[0], set()).discard(key[1])

    def pop(self, key, *default):
        if key in self:
            self.partitions.get(key[0], set()).discard(key[1])
        return super().pop(key, *default)

    def partition(self, p: str) -> list[tuple[str, dict[str, Any]]]:
        """The partition's rows in sort-key order."""
        return [(s, self[(p, s)]) for s in sorted(self.partitions.get(p, ()))]


def _copy(doc: Any) -> Any:
    return json.loads(json.dumps(doc))          # what a store gives back is never the caller's object


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.rows = _Rows()                                         # (partition, sort key) -> columns
        self.counters: dict[tuple[str, str], dict[str, int]] = {}
        self.versioned_writes = 0                                  # conditional row writes, as UpdateRow calls
        self._seq = 0

    def ensure_table(self) -> bool:
        return False

    # -- records
    def create(self, kind: str, record_id: str, si: str, header: dict, items: dict[str, dict]) -> None:
        with self._lock:
            if (f"rec#{record_id}", HEADER) in self.rows:
                raise RecordExists(f"record {record_id} exists already")
            self.rows[(f"rec#{record_id}", HEADER)] = {"doc": _copy(header), "ver": 1}
            for rid, doc in items.items():
                self.rows[(f"rec#{record_id}", "item#" + rid)] = {"doc": _copy(doc), "ver": 1}
            self.rows[(f"si#{si}#{kind}", record_id)] = {"at": 1}
            self.rows[(f"all#{kind}", record_id)] = {"at": 1}

    def read(self, record_id: str) -> StoredRecord | None:
        with self._lock:
            head = self.rows.get((f"rec#{record_id}", HEADER))
            if head is None:
                return None
            items, versions = {}, {HEADER: head["ver"]}
            for s, cols in self.rows.partition(f"rec#{record_id}"):
                if s.startswith("item#"):
                    items[s[5:]], versions[s[5:]] = _copy(cols["doc"]), cols["ver"]
            return StoredRecord(record_id, _copy(head["doc"]), items, versions)

    def save(self, record: StoredRecord, header: dict, items: dict[str, dict]) -> None:
        unknown = [rid for rid in items if rid not in record.items]
        if unknown:
            raise ValueError(f"record {record.record_id} has no items {unknown[:3]}")
        partition = f"rec#{record.record_id}"
        for rid, doc in items.items():
            if doc != record.items[rid]:
                record.versions[rid] = self._write_versioned(partition, "item#" + rid, doc, record.versions[rid])
                record.items[rid] = _copy(doc)
        if header != record.header:
            record.versions[HEADER] = self._write_versioned(partition, HEADER, header, record.versions[HEADER])
            record.header = _copy(header)

    def append_events(self, record_id: str, events: list[dict]) -> None:
        with self._lock:
            for event in events:
                self._seq += 1
                self.rows[(f"ev#{record_id}", f"{self._seq:013d}")] = {"doc": _copy(event)}

    def events(self, record_id: str, limit: int) -> list[dict]:
        with self._lock:
            rows = self.rows.partition(f"ev#{record_id}")
            return [_copy(c["doc"]) for _, c in rows[:limit]]

    def list_ids(self, si: str | None, kind: str, limit: int = 20,
                 after: str | None = None) -> tuple[list[str], str | None]:
        listing = f"si#{si}#{kind}" if si is not None else f"all#{kind}"
        with self._lock:
            ids = [s for s, _ in reversed(self.rows.partition(listing))]
        if after:
            ids = [i for i in ids if i < after]
        return ids[:limit], (ids[limit - 1] if len(ids) > limit else None)

    # -- client tokens and locks
    def claim_token(self, si: str, kind: str, token: str, record_id: str, fingerprint: str, now_ms: int,
                    ttl_ms: int) -> TokenClaim | None:
        with self._lock:
            row = self.rows.get((f"token#{si}#{kind}", token))
            if row is None or row.get("expires", 0) < now_ms:
                self.rows[(f"token#{si}#{kind}", token)] = {"id": record_id, "fp": fingerprint,
                                                            "expires": now_ms + ttl_ms}
                return None
            return TokenClaim(row["id"], row.get("fp", ""))

    def forget_token(self, si: str, kind: str, token: str, record_id: str) -> bool:
        with self._lock:
            row = self.rows.get((f"token#{si}#{kind}", token))
            if not row or row["id"] != record_id:
                return False
            del self.rows[(f"token#{si}#{kind}", token)]
            return True

    def acquire_lock(self, si: str, holder: str, now_ms: int, lease_ms: int) -> None:
        with self._lock:
            row = self.rows.get((f"lock#{si}", HEADER))
            if row and row["expires"] >= now_ms and row["holder"] != holder:
                raise LockTaken(si, row["holder"])
            self.rows[(f"lock#{si}", HEADER)] = {"holder": holder, "expires": now_ms + lease_ms}

    def lock_holder(self, si: str, now_ms: int) -> str | None:
        with self._lock:
            row = self.rows.get((f"lock#{si}", HEADER))
            return row["holder"] if row and row["expires"] >= now_ms else None

    def release_lock(self, si: str, holder: str) -> bool:
        with self._lock:
            row = self.rows.get((f"lock#{si}", HEADER))
            if not row or row["holder"] != holder:
                return False
            del self.rows[(f"lock#{si}", HEADER)]
            return True

    # -- document collections
    def put_doc(self, collection: str, key: str, doc: dict) -> None:
        with self._lock:
            self.rows[(collection, key)] = {"doc": _copy(doc), "ver": 1}

    def create_doc(self, collection: str, key: str, doc: dict) -> bool:
        with self._lock:
            if (collection, key) in self.rows:
                return False
            self.rows[(collection, key)] = {"doc": _copy(doc), "ver": 1}
            return True

    def get_doc(self, collection: str, key: str) -> tuple[dict, int] | None:
        with self._lock:
            row = self.rows.get((collection, key))
            return (_copy(row["doc"]), row["ver"]) if row else None

    def update_doc(self, collection: str, key: str, doc: dict, expected_version: int) -> int:
        return self._write_versioned(collection, key, doc, expected_version)

    def delete_doc(self, collection: str, key: str) -> None:
        with self._lock:
            self.rows.pop((collection, key), None)

    def docs(self, collection: str) -> list[tuple[str, dict, int]]:
        with self._lock:
            return [(s, _copy(c["doc"]), c["ver"]) for s, c in self.rows.partition(collection)]

    def add_counts(self, collection: str, key: str, counts: dict[str, int]) -> None:
        check_counter_names(counts)
        with self._lock:
            row = self.counters.setdefault((collection, key), {})
            for name, n in counts.items():
                row[name] = row.get(name, 0) + int(n)

    def counts(self, collection: str, key: str) -> dict[str, int]:
        with self._lock:
            return dict(self.counters.get((collection, key), {}))

    def _write_versioned(self, p: str, s: str, doc: dict, expected: int) -> int:
        with self._lock:
            row = self.rows.get((p, s))
            self.versioned_writes += 1
            if row is None or row["ver"] != expected:
                raise StaleWrite(f"{p}/{s} changed since version {expected}")
            row.update(doc=_copy(doc), ver=expected + 1)
            return expected + 1

