"""Tablestore rows: GetRow, PutRow, UpdateRow and DeleteRow, with what batches and ranges share: the read
parameters and projection of a row, and a write's validation (`_prepare`) and conditional application (`_apply`)."""
from __future__ import annotations

from tablestore.metadata import PK_AUTO_INCR
from tablestore.protobuf import table_store_pb2 as pb

from . import errors, keys
from .codec import DELETE_ALL, DELETE_ONE, INCREMENT, decode_row, encode_row, value_type
from .conditions import Filter
from .storage import INT64, MAX_NAME, StoredRow, TableInfo, TablestoreState, capacity_units, now_ms, value_size

# UNCONFIRMED: the error-code page names "The total data size of PutRow/UpdateRow request exceeds the limit" without
# the figure; the transaction page says a write is counted "in the same way as a regular write request", up to 4 MB.
MAX_ROW_WRITE_BYTES = 4 * 1024 * 1024
MAX_COLUMNS_PER_WRITE = 1024
MAX_COLUMNS_TO_GET = 128
MAX_ATTR_VALUE = 2 * 1024 * 1024


class Rows(TablestoreState):
    """The single-row operations of `models.Tablestore`."""

    def _read_params(self, req, table: TableInfo, *, pagination: bool = True):
        columns = list(req.columns_to_get)
        if len(columns) > MAX_COLUMNS_TO_GET:
            raise errors.invalid(f"The number of columns to get exceeds the limit {MAX_COLUMNS_TO_GET}.")
        filt = Filter(req.filter, allow_pagination=pagination) if req.HasField("filter") else None
        time_range = None
        if req.HasField("time_range"):
            tr = req.time_range
            if tr.HasField("specific_time"):
                time_range = (tr.specific_time, tr.specific_time + 1)
            else:
                time_range = (tr.start_time if tr.HasField("start_time") else 0,
                              tr.end_time if tr.HasField("end_time") else INT64[1])
                if time_range[0] >= time_range[1]:
                    raise errors.invalid("Invalid time range: start_time must be less than end_time.")
        if req.HasField("max_versions") and req.max_versions < 1:
            raise errors.invalid("max_versions must be at least 1.")
        start = req.start_column if req.HasField("start_column") else None
        end = req.end_column if req.HasField("end_column") else None
        return {"columns": columns, "filter": filt, "time_range": time_range, "start": start, "end": end}

    def _project(self, table: TableInfo, row: StoredRow, params: dict, now: int):
        """The row as returned to a reader: (primary key, [(name, value, ts)]) or None when nothing is returned."""
        exists, cols = row.visible(table.ttl, now)
        if not exists:
            return None
        tr = params["time_range"]
        if tr is not None:
            cols = {n: c for n, c in cols.items() if tr[0] <= c[1] < tr[1]}
        filt = params["filter"]
        if filt is not None and not filt.matches({n: c[0] for n, c in cols.items()}):
            return None
        pk_names = [c[0] for c in table.pk]
        wanted = params["columns"]
        names = sorted(cols)
        if wanted:
            wanted_set = set(wanted)
            names = [n for n in names if n in wanted_set]
        if params["start"] is not None:
            names = [n for n in names if n >= params["start"]]
        if params["end"] is not None:
            names = [n for n in names if n < params["end"]]
        if filt is not None:
            names = filt.page(names)
        if wanted and not names and not any(n in pk_names for n in wanted):
            return None
        return list(zip(pk_names, row.pk)), [(n, cols[n][0], cols[n][1]) for n in names]

    def GetRow(self, instance: str, body: bytes) -> bytes:
        req = pb.GetRowRequest.FromString(body)
        table = self._table(instance, req.table_name)
        pk, _, _ = decode_row(req.primary_key)
        values = keys.check_pk(table, pk)
        params = self._read_params(req, table)
        row = self._load(None, table.id, keys.key(values))
        resp = pb.GetRowResponse()
        projected = self._project(table, row, params, now_ms()) if row is not None else None
        if projected is not None:
            data = encode_row(*projected)
            resp.row = data
            resp.consumed.capacity_unit.read = capacity_units(len(data))
        else:
            resp.row = b""
            resp.consumed.capacity_unit.read = 1
        resp.consumed.capacity_unit.write = 0
        return resp.SerializeToString()

    def PutRow(self, instance: str, body: bytes) -> bytes:
        req = pb.PutRowRequest.FromString(body)
        return self._single_write(instance, req, "PUT", req.row, pb.PutRowResponse())

    def UpdateRow(self, instance: str, body: bytes) -> bytes:
        req = pb.UpdateRowRequest.FromString(body)
        return self._single_write(instance, req, "UPDATE", req.row_change, pb.UpdateRowResponse())

    def DeleteRow(self, instance: str, body: bytes) -> bytes:
        req = pb.DeleteRowRequest.FromString(body)
        return self._single_write(instance, req, "DELETE", req.primary_key, pb.DeleteRowResponse())

    def _single_write(self, instance, req, kind, row_bytes, resp) -> bytes:
        table = self._table(instance, req.table_name)
        op = self._prepare(table, kind, row_bytes, req.condition, req.return_content)
        if kind != "DELETE" and op["data_size"] > MAX_ROW_WRITE_BYTES:
            raise errors.invalid(f"The total data size of {'PutRow' if kind == 'PUT' else 'UpdateRow'} request "
                                 f"exceeds the limit, limit size: {MAX_ROW_WRITE_BYTES}, data size: "
                                 f"{op['data_size']}.")
        with self.store.tx() as db:
            self._check_table_alive(db, table)
            returned, cu = self._apply(db, table, op)
        if returned is not None:
            resp.row = returned
        resp.consumed.capacity_unit.read = cu[0]
        resp.consumed.capacity_unit.write = cu[1]
        return resp.SerializeToString()

    def _prepare(self, table: TableInfo, kind: str, row_bytes: bytes, condition, return_content) -> dict:
        """Everything about a write that does not depend on the stored row, validated up front."""
        pk, cells, deleted = decode_row(row_bytes)
        values = keys.check_pk(table, pk, auto=(kind == "PUT"))
        expect = condition.row_existence
        if kind == "DELETE" and expect == pb.EXPECT_NOT_EXIST:
            raise errors.invalid("Invalid condition: EXPECT_NOT_EXIST while deleting row.")
        filt = Filter(condition.column_condition, allow_pagination=False) \
            if condition.HasField("column_condition") else None
        now = now_ms()
        if kind == "DELETE":
            if cells:
                raise errors.invalid("DeleteRow must not carry attribute columns.")
        elif kind == "PUT":
            if deleted:
                raise errors.invalid("PutRow must not carry a delete marker.")
            if any(c[3] is not None for c in cells):
                raise errors.invalid("PutRow columns cannot carry an update type.")
        elif not cells:
            raise errors.invalid("UpdateRow must change at least one attribute column.")
        elif not table.meta["options"]["allow_update"]:
            raise errors.invalid("UpdateRow is not allowed: the table was created with allow_update false.")
        if len(cells) > MAX_COLUMNS_PER_WRITE:
            raise errors.invalid(f"The number of attribute columns exceeds the limit, limit count:"
                                         f"{MAX_COLUMNS_PER_WRITE}, column count: {len(cells)}.")
        seen = set()
        pk_names = {c[0] for c in table.pk}
        for name, value, ts, cell_type in cells:
            if not name or len(name.encode("utf-8")) > MAX_NAME:
                raise errors.invalid(f"Invalid column name: '{name}'.")
            if name in seen:
                raise errors.invalid(f"Duplicated attribute column name: '{name}'.")
            if name in pk_names:
                raise errors.invalid(f"The attribute column '{name}' has the name of a primary key column.")
            seen.add(name)
            if cell_type in (None, INCREMENT) and value is None:
                raise errors.invalid(f"The value of column '{name}' is missing.")
            if cell_type == INCREMENT and value_type(value) != "INTEGER":
                raise errors.invalid(f"The increment of column '{name}' must be an INTEGER.")
            if cell_type == INCREMENT and ts is not None:
                raise errors.invalid(f"The increment of column '{name}' cannot carry a timestamp.")
            if cell_type == DELETE_ONE and ts is None:
                raise errors.invalid(f"Deleting one version of column '{name}' requires its timestamp.")
            if cell_type not in (None, INCREMENT, DELETE_ONE, DELETE_ALL):
                raise errors.invalid(f"Unknown update type {cell_type} of column '{name}'.")
            if value is not None and value_size(value) > MAX_ATTR_VALUE:
                raise errors.invalid(f"The length of attribute column: '{name}' exceeded the MaxLength:"
                                             f"{MAX_ATTR_VALUE} with CurrentLength:{value_size(value)}.")
            if ts is not None and cell_type in (None, INCREMENT):
                if ts < 0 or abs(ts - now) > table.deviation * 1000:
                    raise errors.invalid(f"The timestamp {ts} of column '{name}' is out of the allowed range.")
        return_pk = return_content.return_type == pb.RT_PK if return_content is not None and \
            return_content.HasField("return_type") else False
        data = sum(len(n.encode("utf-8")) + value_size(v) for n, v in pk) + \
            sum(len(name.encode("utf-8")) + (value_size(value) if value is not None else 0)
                for name, value, *_ in cells)
        return {"kind": kind, "values": values, "cells": cells, "expect": expect, "filter": filt,
                "return_pk": return_pk, "data_size": data}

    def _apply(self, db, table: TableInfo, op: dict):
        """Check the condition against the stored row and write, inside the caller's transaction.

        Returns (row to return or None, (read CU, write CU)); raises OTSConditionCheckFail.
        """
        values = list(op["values"])
        now = now_ms()
        auto_pos = next((i for i, v in enumerate(values) if v is PK_AUTO_INCR), None)
        if auto_pos is not None:
            last = db.execute("SELECT auto_incr FROM ots_tables WHERE id = ?", (table.id,)).fetchone()[0]
            values[auto_pos] = max(last + 1, now * 1000)
            db.execute("UPDATE ots_tables SET auto_incr = ? WHERE id = ?", (values[auto_pos], table.id))
        key = keys.key(values)
        stored = self._load(db, table.id, key) if auto_pos is None else None
        exists, cols = stored.visible(table.ttl, now) if stored is not None else (False, {})
        expect = op["expect"]
        read_cu = 1 if (expect != pb.IGNORE or op["filter"] is not None) else 0
        if (expect == pb.EXPECT_EXIST and not exists) or (expect == pb.EXPECT_NOT_EXIST and exists):
            raise errors.condition_failed()
        if op["filter"] is not None and not op["filter"].matches({n: c[0] for n, c in cols.items()}):
            raise errors.condition_failed()
        kind, size = op["kind"], sum(value_size(v) for v in values)
        if kind == "DELETE":
            if stored is not None:
                db.execute("DELETE FROM ots_rows WHERE tid = ? AND pk = ?", (table.id, key))
        else:
            if kind == "PUT":
                row = StoredRow(values, now, {})
            else:
                marker = stored.marker if stored is not None else None
                if marker is not None and table.ttl > 0 and marker <= now - table.ttl * 1000:
                    marker = None
                row = StoredRow(values, marker, dict(cols))
            for name, value, ts, cell_type in op["cells"]:
                size += len(name) + (value_size(value) if value is not None else 0)
                if cell_type is None:
                    old = row.cols.get(name)
                    ts = now if ts is None else ts
                    if old is None or ts >= old[1] or kind == "PUT":
                        row.cols[name] = (value, ts)
                elif cell_type == INCREMENT:
                    old = row.cols.get(name)
                    if old is not None and value_type(old[0]) != "INTEGER":
                        raise errors.invalid(f"Column '{name}' is not an INTEGER and cannot be incremented.")
                    total = (old[0] if old is not None else 0) + value
                    if not INT64[0] <= total <= INT64[1]:
                        raise errors.invalid(f"The increment overflows column '{name}'.")
                    row.cols[name] = (total, now)
                elif cell_type == DELETE_ALL:
                    row.cols.pop(name, None)
                elif cell_type == DELETE_ONE:
                    if name in row.cols and row.cols[name][1] == ts:
                        del row.cols[name]
            if row.marker is None and not row.cols:
                if stored is not None:
                    db.execute("DELETE FROM ots_rows WHERE tid = ? AND pk = ?", (table.id, key))
            else:
                db.execute("INSERT INTO ots_rows (tid, pk, data) VALUES (?, ?, ?) ON CONFLICT (tid, pk)"
                           " DO UPDATE SET data = excluded.data", (table.id, key, row.dump()))
        returned = None
        if op["return_pk"]:
            returned = encode_row(list(zip([c[0] for c in table.pk], values)))
        return returned, (read_cu, capacity_units(size))
