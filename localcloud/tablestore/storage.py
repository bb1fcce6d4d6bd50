"""How tables and rows are stored: the `ots_tables` and `ots_rows` SQLite tables, a table's schema (`TableInfo`),
a stored row with one version per column (`StoredRow`), value sizes and capacity units, and the shared state every
Tablestore operation builds on (the cached table lookup)."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field

from ..core.product import Product
from . import errors
from .codec import dump_value, load_value

MAX_NAME = 255
INT64 = (-(1 << 63), (1 << 63) - 1)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def capacity_units(nbytes: int) -> int:
    return max(1, math.ceil(nbytes / 4096))


def value_size(value: object) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    return 8 if not isinstance(value, bool) else 1


@dataclass
class TableInfo:
    id: int
    instance: str
    name: str
    meta: dict

    @property
    def pk(self) -> list[list]:  # [[name, type, auto_increment]]
        return self.meta["pk"]

    @property
    def ttl(self) -> int:
        return self.meta["options"]["time_to_live"]

    @property
    def deviation(self) -> int:
        return self.meta["options"]["deviation"]


@dataclass
class StoredRow:
    pk: list                       # primary-key values in schema order
    marker: int | None = None      # PutRow's row marker (a row without attributes still exists)
    cols: dict = field(default_factory=dict)  # name -> (value, timestamp ms)

    @classmethod
    def load(cls, data: str) -> StoredRow:
        doc = json.loads(data)
        return cls([load_value(v) for v in doc["p"]], doc.get("m"),
                   {name: (load_value(c[:2]), c[2]) for name, c in doc["c"].items()})

    def dump(self) -> str:
        return json.dumps({"p": [dump_value(v) for v in self.pk], "m": self.marker,
                           "c": {name: dump_value(v) + [ts] for name, (v, ts) in self.cols.items()}},
                          separators=(",", ":"))

    def visible(self, ttl: int, now: int) -> tuple[bool, dict]:
        """(exists, {name: (value, ts)}) as a reader sees it now: cells older than the TTL are gone."""
        if ttl is None or ttl <= 0:
            return (self.marker is not None or bool(self.cols)), self.cols
        cutoff = now - ttl * 1000
        cols = {n: c for n, c in self.cols.items() if c[1] > cutoff}
        marker = self.marker is not None and self.marker > cutoff
        return (marker or bool(cols)), cols


class TablestoreState(Product):
    """What the table, row, range and batch mixins of `models.Tablestore` build on."""

    def __init__(self, cloud) -> None:
        super().__init__(cloud)
        self.store = cloud.store
        with self.store.tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS ots_tables (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                       " instance TEXT NOT NULL, name TEXT NOT NULL, meta TEXT NOT NULL,"
                       " auto_incr INTEGER NOT NULL DEFAULT 0, UNIQUE (instance, name))")
            db.execute("CREATE TABLE IF NOT EXISTS ots_rows (tid INTEGER NOT NULL, pk BLOB NOT NULL,"
                       " data TEXT NOT NULL, PRIMARY KEY (tid, pk)) WITHOUT ROWID")
        self._tables: dict[tuple[str, str], TableInfo] = {}
        self._generation = 0

    def _table(self, instance: str, name: str) -> TableInfo:
        info = self._tables.get((instance, name))
        if info is not None:
            return info
        generation = self._generation
        rows = self.store.query("SELECT id, meta FROM ots_tables WHERE instance = ? AND name = ?", (instance, name))
        if not rows:
            raise errors.not_found()
        info = TableInfo(rows[0][0], instance, name, json.loads(rows[0][1]))
        if generation == self._generation:
            self._tables[(instance, name)] = info
        return info

    def _forget(self, instance: str, name: str) -> None:
        self._generation += 1
        self._tables.pop((instance, name), None)

    def _check_table_alive(self, db, table: TableInfo) -> None:
        if db.execute("SELECT 1 FROM ots_tables WHERE id = ?", (table.id,)).fetchone() is None:
            self._forget(table.instance, table.name)
            raise errors.not_found()

    def _load(self, db_or_none, tid: int, key: bytes) -> StoredRow | None:
        sql, args = "SELECT data FROM ots_rows WHERE tid = ? AND pk = ?", (tid, key)
        rows = db_or_none.execute(sql, args).fetchall() if db_or_none is not None else self.store.query(sql, args)
        return StoredRow.load(rows[0][0]) if rows else None
