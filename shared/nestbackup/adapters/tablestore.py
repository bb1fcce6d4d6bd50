"""The records, claims and documents ports (`ports/records.py`, `ports/claims.py`, `ports/documents.py`) in one
Tablestore table: one adapter for the one API, whose plumbing (the versioned write, batch limits, the mapping of
Tablestore's errors to the ports' own) the three share.

Row layout (primary key `p`, `s`; both STRING):

| row | p | s | columns |
|---|---|---|---|
| record header | `rec#<id>` | `#` | `doc` (JSON), `ver` |
| record item | `rec#<id>` | `item#<resource id>` | `doc` (JSON), `ver` |
| listing | `si#<service instance>#<kind>` | `<id>` (time-ordered) | — |
| client token | `token#<service instance>#<kind>` | `<token>` | `id`, `fp` (request fingerprint), `expires` (ms) |
| lock | `lock#<service instance>` | `#` | `holder`, `expires` (ms), `ver` |
| other documents (schedules, the active-operation index, …) | a collection name | a key | `doc` (JSON), `ver` |

A record and its items share one partition key, so one GetRange reads all of it. Items are separate rows: parallel
steps that update different items never overwrite each other, and every write of a row is conditional on the `ver`
its writer read (optimistic concurrency), so a stale writer gets `StaleWrite` instead of losing an update; `save`
writes only the rows that changed. Tablestore's refused conditions leave this module as the ports' errors
(`StaleWrite`, `RecordExists`, `LockTaken`, or an answer such as False).
"""
from __future__ import annotations

import json
import secrets
import time
from typing import Any

from ..errors import CloudError
from ..ports.claims import LockTaken, TokenClaim
from ..ports.documents import check_counter_names
from ..ports.records import HEADER, RecordExists, StaleWrite, StoredRecord
from .usage import note_call

ITEM_PREFIX = "item#"
# One BatchWriteRow carries at most 200 rows and 4 MB of data (Tablestore "General limits").
BATCH_WRITE_MAX = 200
BATCH_WRITE_MAX_BYTES = 4 * 1024 * 1024
# UNCONFIRMED: how the service counts a row's "data size". Counted here as the UTF-8 bytes of every column name and
# value (8 for a number) plus this allowance per column (a cell's timestamp), which errs on the large side.
CELL_OVERHEAD_BYTES = 8
CONDITION_FAILED = "OTSConditionCheckFail"      # a write's row condition did not hold


# Tablestore SDK client methods -> the API actions they send.
COUNTER = "c_"                   # the column prefix of a counter
OTS_ACTIONS = {"batch_write_row": "BatchWriteRow", "create_table": "CreateTable", "delete_row": "DeleteRow",
                "get_range": "GetRange", "get_row": "GetRow", "list_table": "ListTable", "put_row": "PutRow",
                "update_row": "UpdateRow", "describe_table": "DescribeTable"}


class Tablestore:
    def __init__(self, client, table: str = "nestbackup") -> None:
        import tablestore as ots  # heavy (~0.8 s): only handlers that touch records pay for it

        self._ots = ots
        self.client = client
        self.table = table

    @classmethod
    def connect(cls, endpoint: str, access_key_id: str, access_key_secret: str, instance: str,
                security_token: str | None = None, table: str = "nestbackup") -> Tablestore:
        import logging
        # The SDK warns on every import that its optional C++ codec is absent; the Python codec is fine.
        for name in ("tablestore.encoder", "tablestore.decoder"):
            logging.getLogger(name).setLevel(logging.ERROR)
        # The client logs every refused condition as an ERROR; those are our locks and versions working, and real
        # failures reach us as exceptions, so its own log is kept quiet.
        logging.getLogger("tablestore.client").setLevel(logging.CRITICAL)
        from tablestore import OTSClient
        client = OTSClient(endpoint, access_key_id, access_key_secret, instance, sts_token=security_token,
                           logger_name="tablestore.client")
        return cls(client, table)

    # -- bootstrap
    def ensure_table(self) -> bool:
        """Create the table when missing; True if it was created."""
        ots = self._ots
        if self.table in self._call(self.client.list_table):
            return False
        meta = ots.TableMeta(self.table, [("p", "STRING"), ("s", "STRING")])
        try:
            self._call(self.client.create_table, meta, ots.TableOptions(time_to_live=-1, max_version=1),
                       ots.ReservedThroughput(ots.CapacityUnit(0, 0)))
        except CloudError as err:
            if err.code != "OTSObjectAlreadyExist":
                raise
            return False
        return True

    # -- the records port
    def create(self, kind: str, record_id: str, si: str, header: dict, items: dict[str, dict]) -> None:
        """Write a new record: its items and its listing row, then the header (refused if the id exists). The header
        is the commit: a writer that dies before it leaves no record (`read` answers None; listings skip it), never
        a header without its items. A record that exists already is refused before its items are touched."""
        ots = self._ots
        _, found, _ = self._call(self.client.get_row, self.table, [("p", f"rec#{record_id}"), ("s", HEADER)], ["ver"],
                                 None, 1)
        if found:
            raise RecordExists(f"record {record_id} exists already")
        rows = [ots.PutRowItem(ots.Row([("p", f"rec#{record_id}"), ("s", ITEM_PREFIX + rid)],
                                       [("doc", json.dumps(doc)), ("ver", 1)]),
                               ots.Condition(ots.RowExistenceExpectation.IGNORE))
                for rid, doc in items.items()]
        for listing in (f"si#{si}#{kind}", f"all#{kind}"):
            rows.append(ots.PutRowItem(ots.Row([("p", listing), ("s", record_id)], [("at", 1)]),
                                       ots.Condition(ots.RowExistenceExpectation.IGNORE)))
        for batch in _batches(rows):
            self._batch_write(batch)
        try:
            self._call(self.client.put_row, self.table,
                       ots.Row([("p", f"rec#{record_id}"), ("s", HEADER)], [("doc", json.dumps(header)), ("ver", 1)]),
                       ots.Condition(ots.RowExistenceExpectation.EXPECT_NOT_EXIST))
        except CloudError as err:
            if err.code == CONDITION_FAILED:
                raise RecordExists(f"record {record_id} exists already") from None
            raise

    def read(self, record_id: str) -> StoredRecord | None:
        ots = self._ots
        start = [("p", f"rec#{record_id}"), ("s", ots.INF_MIN)]
        end = [("p", f"rec#{record_id}"), ("s", ots.INF_MAX)]
        header, items, versions = None, {}, {}
        while start:
            _, next_pk, rows, _ = self._call(self.client.get_range, self.table, "FORWARD", start, end,
                                             ["doc", "ver"], 5000)
            for row in rows:
                key, cols = row.primary_key[1][1], _columns(row)
                if key == HEADER:
                    header, versions[HEADER] = json.loads(cols["doc"]), cols["ver"]
                elif key.startswith(ITEM_PREFIX):
                    rid = key[len(ITEM_PREFIX):]
                    items[rid], versions[rid] = json.loads(cols["doc"]), cols["ver"]
            start = next_pk
        if header is None:
            return None
        return StoredRecord(record_id, header, items, versions)

    def save(self, record: StoredRecord, header: dict, items: dict[str, dict]) -> None:
        """The rows that changed since `record` was read, one conditional UpdateRow each: items, then the header."""
        unknown = [rid for rid in items if rid not in record.items]
        if unknown:
            raise ValueError(f"record {record.record_id} has no items {unknown[:3]}")
        partition = f"rec#{record.record_id}"
        for rid, doc in items.items():
            if doc != record.items[rid]:
                record.versions[rid] = self._write_versioned(partition, ITEM_PREFIX + rid, doc, record.versions[rid])
                record.items[rid] = _copy(doc)
        if header != record.header:
            record.versions[HEADER] = self._write_versioned(partition, HEADER, header, record.versions[HEADER])
            record.header = _copy(header)

    # -- a record's timeline: rows of their own partition, so reading a record never reads its events
    def append_events(self, record_id: str, events: list[dict]) -> None:
        ots = self._ots
        stamp = f"{int(time.time() * 1000):013d}#{secrets.token_hex(3)}"
        rows = [ots.PutRowItem(ots.Row([("p", f"ev#{record_id}"), ("s", f"{stamp}#{n:04d}")],
                                       [("doc", json.dumps(event))]),
                               ots.Condition(ots.RowExistenceExpectation.IGNORE))
                for n, event in enumerate(events)]
        for start in range(0, len(rows), BATCH_WRITE_MAX):
            self._batch_write(rows[start:start + BATCH_WRITE_MAX])

    def events(self, record_id: str, limit: int) -> list[dict]:
        """The first `limit` events of a record, oldest first."""
        ots = self._ots
        start = [("p", f"ev#{record_id}"), ("s", ots.INF_MIN)]
        end = [("p", f"ev#{record_id}"), ("s", ots.INF_MAX)]
        out: list[dict] = []
        while start and len(out) < limit:
            _, start, rows, _ = self._call(self.client.get_range, self.table, "FORWARD", start, end, ["doc"],
                                           limit - len(out))
            out += [json.loads(_columns(row)["doc"]) for row in rows]
        return out

    def list_ids(self, si: str | None, kind: str, limit: int = 20,
                 after: str | None = None) -> tuple[list[str], str | None]:
        """Record ids of a service instance (every instance's when None), newest first; `after` is the last id of
        the previous page."""
        ots = self._ots
        listing = f"si#{si}#{kind}" if si is not None else f"all#{kind}"
        start = [("p", listing), ("s", after or ots.INF_MAX)]
        end = [("p", listing), ("s", ots.INF_MIN)]
        ids: list[str] = []
        while start and len(ids) < limit + 1:
            _, next_pk, rows, _ = self._call(self.client.get_range, self.table, "BACKWARD", start, end, None,
                                             limit + 1 - len(ids))
            ids += [r.primary_key[1][1] for r in rows if r.primary_key[1][1] != after]
            start = next_pk
        return ids[:limit], (ids[limit - 1] if len(ids) > limit else None)

    # -- the documents port: plain documents in collections (schedules, the index of running operations, …)
    def put_doc(self, collection: str, key: str, doc: dict) -> None:
        ots = self._ots
        self._call(self.client.put_row, self.table,
                   ots.Row([("p", collection), ("s", key)], [("doc", json.dumps(doc)), ("ver", 1)]),
                   ots.Condition(ots.RowExistenceExpectation.IGNORE))

    def create_doc(self, collection: str, key: str, doc: dict) -> bool:
        """Write a document only if the key is free; False when another writer got there first."""
        ots = self._ots
        try:
            self._call(self.client.put_row, self.table,
                       ots.Row([("p", collection), ("s", key)], [("doc", json.dumps(doc)), ("ver", 1)]),
                       ots.Condition(ots.RowExistenceExpectation.EXPECT_NOT_EXIST))
            return True
        except CloudError as err:
            if err.code != CONDITION_FAILED:
                raise
            return False

    def get_doc(self, collection: str, key: str) -> tuple[dict, int] | None:
        _, row, _ = self._call(self.client.get_row, self.table, [("p", collection), ("s", key)], ["doc", "ver"],
                               None, 1)
        if not row:
            return None
        cols = _columns(row)
        return json.loads(cols["doc"]), cols["ver"]

    def update_doc(self, collection: str, key: str, doc: dict, expected_version: int) -> int:
        """Write only if nobody changed the document since `expected_version` was read (else StaleWrite)."""
        return self._write_versioned(collection, key, doc, expected_version)

    def delete_doc(self, collection: str, key: str) -> None:
        ots = self._ots
        self._call(self.client.delete_row, self.table, ots.Row([("p", collection), ("s", key)]),
                   ots.Condition(ots.RowExistenceExpectation.IGNORE))

    def docs(self, collection: str) -> list[tuple[str, dict, int]]:
        """Every document of a collection: (key, doc, version), in key order."""
        ots = self._ots
        start = [("p", collection), ("s", ots.INF_MIN)]
        end = [("p", collection), ("s", ots.INF_MAX)]
        out = []
        while start:
            _, next_pk, rows, _ = self._call(self.client.get_range, self.table, "FORWARD", start, end,
                                             ["doc", "ver"], 5000)
            for row in rows:
                cols = _columns(row)
                out.append((row.primary_key[1][1], json.loads(cols["doc"]), cols["ver"]))
            start = next_pk
        return out

    # -- counters: one row per key, a column per counter ("c_" + the name, ':' as "__": column names are letters,
    # digits and '_'), added to with UpdateRow's INCREMENT, which needs no read and no condition.
    def add_counts(self, collection: str, key: str, counts: dict[str, int]) -> None:
        check_counter_names(counts)
        ots = self._ots
        own = f"ots:{OTS_ACTIONS['update_row']}"         # this write, counted with the calls it adds up
        added = {**counts, own: counts.get(own, 0) + 1}
        self._call(self.client.update_row, self.table,
                   ots.Row([("p", collection), ("s", key)],
                           {"increment": [(COUNTER + name.replace(":", "__"), int(n)) for name, n in added.items()]}),
                   ots.Condition(ots.RowExistenceExpectation.IGNORE))

    def counts(self, collection: str, key: str) -> dict[str, int]:
        _, row, _ = self._call(self.client.get_row, self.table, [("p", collection), ("s", key)], None, None, 1)
        if not row:
            return {}
        return {name[len(COUNTER):].replace("__", ":"): value for name, value in _columns(row).items()
                if name.startswith(COUNTER)}

    # -- the claims port: client tokens
    def claim_token(self, si: str, kind: str, token: str, record_id: str, fingerprint: str, now_ms: int,
                    ttl_ms: int) -> TokenClaim | None:
        """Bind a client token to a new record id while it is free or expired (one conditional PutRow); else the
        claim that holds it."""
        ots = self._ots
        pk = [("p", f"token#{si}#{kind}"), ("s", token)]
        expired = ots.SingleColumnCondition("expires", now_ms, ots.ComparatorType.LESS_THAN, pass_if_missing=True)
        try:
            self._call(self.client.put_row, self.table,
                       ots.Row(pk, [("id", record_id), ("fp", fingerprint), ("expires", now_ms + ttl_ms)]),
                       ots.Condition(ots.RowExistenceExpectation.IGNORE, expired))
            return None
        except CloudError as err:
            if err.code != CONDITION_FAILED:
                raise
        _, row, _ = self._call(self.client.get_row, self.table, pk, ["id", "fp"], None, 1)
        if not row:       # given back between the two calls: claim it again
            return self.claim_token(si, kind, token, record_id, fingerprint, now_ms, ttl_ms)
        cols = _columns(row)
        return TokenClaim(cols["id"], cols.get("fp", ""))

    def forget_token(self, si: str, kind: str, token: str, record_id: str) -> bool:
        """Give the token back if `record_id` still holds it."""
        return self._delete_if([("p", f"token#{si}#{kind}"), ("s", token)], "id", record_id)

    # -- locks
    def acquire_lock(self, si: str, holder: str, now_ms: int, lease_ms: int) -> None:
        """Take the service instance's lock, or raise LockTaken naming the live holder. An expired lease is taken
        over; re-acquiring one's own lock renews it."""
        ots = self._ots
        pk = [("p", f"lock#{si}"), ("s", HEADER)]
        row = ots.Row(pk, [("holder", holder), ("expires", now_ms + lease_ms)])
        free = ots.CompositeColumnCondition(ots.LogicalOperator.OR)
        free.add_sub_condition(ots.SingleColumnCondition("expires", now_ms, ots.ComparatorType.LESS_THAN,
                                                         pass_if_missing=True))
        free.add_sub_condition(ots.SingleColumnCondition("holder", holder, ots.ComparatorType.EQUAL,
                                                         pass_if_missing=False))
        try:
            self._call(self.client.put_row, self.table, row, ots.Condition(ots.RowExistenceExpectation.IGNORE, free))
        except CloudError as err:
            if err.code != CONDITION_FAILED:
                raise
            raise LockTaken(si, self.lock_holder(si, now_ms)) from None

    def lock_holder(self, si: str, now_ms: int) -> str | None:
        _, row, _ = self._call(self.client.get_row, self.table, [("p", f"lock#{si}"), ("s", HEADER)],
                               ["holder", "expires"], None, 1)
        cols = _columns(row) if row else {}
        return cols["holder"] if cols and cols.get("expires", 0) >= now_ms else None

    def release_lock(self, si: str, holder: str) -> bool:
        """Release the lock if `holder` still has it; False when someone else does (or nobody)."""
        return self._delete_if([("p", f"lock#{si}"), ("s", HEADER)], "holder", holder)

    # -- plumbing
    def _delete_if(self, pk: list, column: str, value: str) -> bool:
        """Delete the row if its `column` still holds `value`; False when it does not (or the row is gone)."""
        ots = self._ots
        mine = ots.SingleColumnCondition(column, value, ots.ComparatorType.EQUAL, pass_if_missing=False)
        try:
            self._call(self.client.delete_row, self.table, ots.Row(pk),
                       ots.Condition(ots.RowExistenceExpectation.EXPECT_EXIST, mine))
            return True
        except CloudError as err:
            if err.code != CONDITION_FAILED:
                raise
            return False

    def _write_versioned(self, p: str, s: str, doc: dict, expected: int) -> int:
        ots = self._ots
        same = ots.SingleColumnCondition("ver", expected, ots.ComparatorType.EQUAL, pass_if_missing=False)
        try:
            self._call(self.client.update_row, self.table,
                       ots.Row([("p", p), ("s", s)], {"put": [("doc", json.dumps(doc)), ("ver", expected + 1)]}),
                       ots.Condition(ots.RowExistenceExpectation.EXPECT_EXIST, same))
        except CloudError as err:
            if err.code == CONDITION_FAILED:
                raise StaleWrite(f"{p}/{s} changed since version {expected}") from None
            raise
        return expected + 1

    def _batch_write(self, row_items: list) -> None:
        ots = self._ots
        request = ots.BatchWriteRowRequest()
        request.add(ots.TableInBatchWriteRowItem(self.table, row_items))
        response = self._call(self.client.batch_write_row, request)
        failed = [*response.get_failed_of_put(), *response.get_failed_of_update(), *response.get_failed_of_delete()]
        if failed:
            raise CloudError(failed[0].error_code or "OTSBatchWriteFailed", failed[0].error_message or "",
                             action="BatchWriteRow")

    def _call(self, fn, *args):
        ots = self._ots
        note_call("ots", OTS_ACTIONS.get(fn.__name__, fn.__name__))
        try:
            return fn(*args)
        except ots.OTSServiceError as exc:
            raise CloudError(exc.get_error_code(), exc.get_error_message(), action=fn.__name__,
                             request_id=exc.get_request_id(), http_status=exc.get_http_status()) from exc
        except ots.OTSClientError as exc:
            raise CloudError("Unreachable", exc.get_error_message(), action=fn.__name__,
                             http_status=exc.get_http_status()) from exc


def _batches(row_items: list) -> list[list]:
    """Consecutive runs of rows within both BatchWriteRow limits: rows and bytes of data."""
    out: list[list] = [[]]
    size = 0
    for item in row_items:
        row_size = _data_size(item.row)
        if out[-1] and (len(out[-1]) >= BATCH_WRITE_MAX or size + row_size > BATCH_WRITE_MAX_BYTES):
            out.append([])
            size = 0
        out[-1].append(item)
        size += row_size
    return [batch for batch in out if batch]


def _data_size(row) -> int:
    """A row's data as BatchWriteRow's 4 MB limit counts it (see CELL_OVERHEAD_BYTES)."""
    columns = row.attribute_columns
    if isinstance(columns, dict):  # an update: {"put": [(name, value)], "delete_all": [name], ...}
        columns = [c for group in columns.values() for c in group]
    return sum(_cell_size(c) for c in [*row.primary_key, *columns])


def _cell_size(column) -> int:
    name, value = (column, None) if isinstance(column, str) else column[:2]
    if value is None:
        value_size = 0
    elif isinstance(value, str):
        value_size = len(value.encode("utf-8"))
    elif isinstance(value, (bytes, bytearray)):
        value_size = len(value)
    else:
        value_size = 8
    return len(name.encode("utf-8")) + value_size + CELL_OVERHEAD_BYTES


def _copy(doc: dict) -> dict:
    """A document as reading it back would give it (JSON), so later saves compare like with like."""
    return json.loads(json.dumps(doc))


def _columns(row) -> dict[str, Any]:
    return {name: value for name, value, *_ in row.attribute_columns}
