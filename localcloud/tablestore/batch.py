"""Tablestore batches: BatchGetRow and BatchWriteRow, answering per row what depends on the stored rows and
failing the whole request on parameter errors."""
from __future__ import annotations

from tablestore.metadata import PK_AUTO_INCR
from tablestore.protobuf import table_store_pb2 as pb

from ..core.errors import ServiceError
from . import errors, keys
from .codec import PlainBufferError, decode_row, encode_row
from .rows import Rows
from .storage import capacity_units, now_ms

MAX_BATCH_WRITE_BYTES = 4 * 1024 * 1024  # "Size of data written by one BatchWriteRow request: 4 MB" (General limits)
MAX_BATCH_WRITE = 200
MAX_BATCH_GET = 100


class Batches(Rows):
    """The batch operations of `models.Tablestore`."""

    def BatchGetRow(self, instance: str, body: bytes) -> bytes:
        req = pb.BatchGetRowRequest.FromString(body)
        total = sum(len(t.primary_key) for t in req.tables)
        if total > MAX_BATCH_GET:
            raise errors.invalid(f"Rows count exceeds the upper limit: {MAX_BATCH_GET}.")
        resp = pb.BatchGetRowResponse()
        now = now_ms()
        for t in req.tables:
            out = resp.tables.add(table_name=t.table_name)
            try:
                table = self._table(instance, t.table_name)
                params = self._read_params(t, table)
                table_error = None
            except ServiceError as err:
                table_error = err
            for raw in t.primary_key:
                item = out.rows.add(is_ok=True)
                try:
                    if table_error is not None:
                        raise table_error
                    pk, _, _ = decode_row(raw)
                    row = self._load(None, table.id, keys.key(keys.check_pk(table, pk)))
                    projected = self._project(table, row, params, now) if row is not None else None
                    item.row = encode_row(*projected) if projected is not None else b""
                    item.consumed.capacity_unit.read = capacity_units(len(item.row))
                    item.consumed.capacity_unit.write = 0
                except PlainBufferError as exc:
                    self._row_error(item, errors.invalid_plainbuffer(exc))
                except ServiceError as err:
                    self._row_error(item, err)
        return resp.SerializeToString()

    @staticmethod
    def _row_error(item, err: ServiceError) -> None:
        item.Clear()
        item.is_ok = False
        item.error.code = err.code
        item.error.message = err.message

    def BatchWriteRow(self, instance: str, body: bytes) -> bytes:
        req = pb.BatchWriteRowRequest.FromString(body)
        total = sum(len(t.rows) for t in req.tables)
        if total > MAX_BATCH_WRITE:
            raise errors.invalid(f"Rows count exceeds the upper limit: {MAX_BATCH_WRITE}.")
        if total == 0:
            raise errors.invalid("No row is specified in BatchWriteRow.")
        names = [t.table_name for t in req.tables]
        if len(set(names)) != len(names):
            raise errors.invalid(f"Duplicated table name: '{next(n for n in names if names.count(n) > 1)}'.")
        kinds = {pb.PUT: "PUT", pb.UPDATE: "UPDATE", pb.DELETE: "DELETE"}
        # Parameter errors (unknown table, a malformed or mismatched primary key, sizes, ...) fail the whole request:
        # "The request fails if any of the following conditions exist" (BatchWriteRow reference). Only what depends
        # on the stored rows (conditions, increments) is answered per row.
        plans = []  # per table: (table, [op])
        for t in req.tables:
            table = self._table(instance, t.table_name)
            ops, seen_keys = [], set()
            for r in t.rows:
                try:
                    op = self._prepare(table, kinds[r.type], r.row_change, r.condition,
                                       r.return_content if r.HasField("return_content") else None)
                except PlainBufferError as exc:
                    raise errors.invalid_plainbuffer(exc) from None
                if PK_AUTO_INCR not in op["values"]:
                    key = keys.key(op["values"])
                    if key in seen_keys:
                        raise errors.invalid("Duplicated primary key in the request of BatchWriteRow.")
                    seen_keys.add(key)
                ops.append(op)
            plans.append((table, ops))
        data = sum(op["data_size"] for _, ops in plans for op in ops)
        if data > MAX_BATCH_WRITE_BYTES:
            raise errors.invalid(f"The total data size of BatchWriteRow request exceeds the limit, limit size: "
                                 f"{MAX_BATCH_WRITE_BYTES}, data size:{data}.")
        resp = pb.BatchWriteRowResponse()
        with self.store.tx() as db:
            for table, _ in plans:
                self._check_table_alive(db, table)
            for t, (table, ops) in zip(req.tables, plans):
                out = resp.tables.add(table_name=t.table_name)
                for op in ops:
                    item = out.rows.add(is_ok=True)
                    try:
                        returned, cu = self._apply(db, table, op)
                    except ServiceError as failure:
                        self._row_error(item, failure)
                        continue
                    item.consumed.capacity_unit.read = cu[0]
                    item.consumed.capacity_unit.write = cu[1]
                    if returned is not None:
                        item.row = returned
        return resp.SerializeToString()
