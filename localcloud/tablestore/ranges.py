"""Tablestore range reads: GetRange, a primary-key-ordered index scan in either direction with limits on rows,
bytes and rows examined."""
from __future__ import annotations

from tablestore.protobuf import table_store_pb2 as pb

from . import errors, keys
from .codec import RowsWriter, decode_row, encode_row
from .rows import Rows
from .storage import StoredRow, capacity_units, now_ms

MAX_RANGE_ROWS = 5000
MAX_RANGE_BYTES = 4 * 1024 * 1024
MAX_SCAN_ROWS = 20000  # rows examined per GetRange when a filter drops most of them


class Ranges(Rows):
    """GetRange of `models.Tablestore`."""

    def GetRange(self, instance: str, body: bytes) -> bytes:
        req = pb.GetRangeRequest.FromString(body)
        table = self._table(instance, req.table_name)
        start_pk, _, _ = decode_row(req.inclusive_start_primary_key)
        end_pk, _, _ = decode_row(req.exclusive_end_primary_key)
        start = keys.bound(keys.check_pk(table, start_pk, bound=True))
        end = keys.bound(keys.check_pk(table, end_pk, bound=True))
        forward = req.direction == pb.FORWARD
        if not (keys.lt(start, end) if forward else keys.lt(end, start)):
            word = "less" if forward else "greater"
            raise errors.invalid(f"Begin key must be {word} than end key in {'FORWARD' if forward else 'BACKWARD'}.")
        if req.HasField("limit") and req.limit <= 0:
            raise errors.invalid("The limit must be greater than 0.")
        limit = min(req.limit, MAX_RANGE_ROWS) if req.HasField("limit") else MAX_RANGE_ROWS
        params = self._read_params(req, table)
        now = now_ms()
        writer = RowsWriter()
        returned = scanned = 0
        next_pk = None
        chunk = min(limit + 1, MAX_RANGE_ROWS + 1)
        for _, data in self._scan(table.id, start, end, forward, chunk):
            row = StoredRow.load(data)
            if returned >= limit or scanned >= MAX_SCAN_ROWS or writer.size() >= MAX_RANGE_BYTES:
                next_pk = row.pk
                break
            scanned += 1
            projected = self._project(table, row, params, now)
            if projected is not None:
                writer.add(*projected)
                returned += 1
        resp = pb.GetRangeResponse()
        resp.rows = writer.getvalue() if returned else b""
        resp.consumed.capacity_unit.read = capacity_units(writer.size())
        resp.consumed.capacity_unit.write = 0
        if next_pk is not None:
            resp.next_start_primary_key = encode_row(list(zip([c[0] for c in table.pk], next_pk)))
        return resp.SerializeToString()

    def _scan(self, tid: int, start: bytes | None, end: bytes | None, forward: bool, chunk: int):
        """Rows in key order between the bounds (forward: start <= key < end; backward: end < key <= start).

        Bounds made from INF_MIN/INF_MAX never equal a stored key, so inclusive/exclusive only matters for
        exact keys. Pages of `chunk` rows (the caller stops early); each continues strictly after the last key seen.
        """
        near: tuple[str, bytes | None] | None
        far: tuple[str, bytes | None] | None
        if forward:
            near, far = ("pk >= ?", start), (("pk < ?", end) if end is not None else None)
            cont, order = "pk > ?", "ASC"
        else:
            near, far = (("pk <= ?", start) if start is not None else None), ("pk > ?", end)
            cont, order = "pk < ?", "DESC"
        while True:
            where: list[str] = ["tid = ?"]
            args: list[object] = [tid]
            for cond in (near, far):
                if cond is not None:
                    where.append(cond[0])
                    args.append(cond[1])
            rows = self.store.query(f"SELECT pk, data FROM ots_rows WHERE {' AND '.join(where)}"
                                    f" ORDER BY pk {order} LIMIT ?", (*args, chunk))
            yield from rows
            if len(rows) < chunk:
                return
            near = (cont, rows[-1][0])
            chunk = max(chunk, 1000)  # later pages only happen when rows were filtered out: read more at once
