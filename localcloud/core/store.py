"""Durable state of the local cloud: one SQLite database in the state dir.

Every committed change survives a killed server (WAL journal). Products keep their resources as JSON documents
(`put`/`get`/`find`) or create tables of their own through `tx()`.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS docs (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,"
                         " PRIMARY KEY (kind, id))")
        self._depth = 0

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One atomic, serialized transaction; nested calls join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")
            finally:
                self._depth = 0

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- JSON documents, listed in insertion order
    def put(self, kind: str, id: str, doc: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute("INSERT INTO docs (kind, id, body) VALUES (?, ?, ?) ON CONFLICT (kind, id)"
                       " DO UPDATE SET body = excluded.body", (kind, id, json.dumps(doc)))

    def get(self, kind: str, id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT body FROM docs WHERE kind = ? AND id = ?", (kind, id))
        return json.loads(rows[0][0]) if rows else None

    def delete(self, kind: str, id: str) -> bool:
        with self.tx() as db:
            return db.execute("DELETE FROM docs WHERE kind = ? AND id = ?", (kind, id)).rowcount > 0

    def find(self, kind: str, where: Callable[[dict], bool] | None = None) -> list[dict[str, Any]]:
        rows = self.query("SELECT body FROM docs WHERE kind = ? ORDER BY rowid", (kind,))
        docs = (json.loads(r[0]) for r in rows)
        return [d for d in docs if where is None or where(d)]

    def update(self, kind: str, id: str, change: Callable[[dict], None]) -> dict[str, Any] | None:
        """Read, change and write one document atomically; None when it does not exist."""
        with self.tx():
            doc = self.get(kind, id)
            if doc is None:
                return None
            change(doc)
            self.put(kind, id, doc)
            return doc

    def close(self) -> None:
        with self._lock:
            self._db.close()
