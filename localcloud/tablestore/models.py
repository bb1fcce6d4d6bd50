"""Tablestore: tables and rows over protobuf + PlainBuffer, durable in the local cloud's SQLite store.

Every API is `POST /<Api>` with a protobuf body (`tablestore.protobuf.table_store_pb2`); rows travel as PlainBuffer
(`codec.py`), conditions and filters as `table_store_filter_pb2.Filter` (`conditions.py`), requests and responses
are signed (`auth.py`). Tables live in the namespace of the `x-ots-instancename` header.

Storage: `ots_tables` (one row per table, its meta as JSON) and `ots_rows` (table id, order-preserving encoded
primary key, row as JSON) WITHOUT ROWID, so GetRange is an index range scan in primary-key order. A write reads the
row, checks its condition and writes it in one store transaction, committed before the response is sent.

Rows keep one version per column (the latest); its timestamp is returned. TTL hides expired cells on reads.
"""
from __future__ import annotations

import hashlib
import base64
import json
import math
import re
import time
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError
from tablestore.metadata import INF_MAX, INF_MIN, PK_AUTO_INCR
from tablestore.protobuf import table_store_pb2 as pb

from ..cloud import Product
from ..core.errors import ServiceError
from .auth import new_request_id, response_headers, verify_request
from .codec import (DELETE_ALL, DELETE_ONE, INCREMENT, PlainBufferError, RowsWriter, decode_row, dump_value,
                    encode_row, key_part, load_value, successor, value_type)
from .conditions import Filter

MAX_BODY = 5 * 1024 * 1024
MAX_BATCH_WRITE_BYTES = 4 * 1024 * 1024  # "Size of data written by one BatchWriteRow request: 4 MB" (General limits)
# UNCONFIRMED: the error-code page names "The total data size of PutRow/UpdateRow request exceeds the limit" without
# the figure; the transaction page says a write is counted "in the same way as a regular write request", up to 4 MB.
MAX_ROW_WRITE_BYTES = 4 * 1024 * 1024
MAX_RANGE_ROWS = 5000
MAX_RANGE_BYTES = 4 * 1024 * 1024
MAX_SCAN_ROWS = 20000  # rows examined per GetRange when a filter drops most of them
MAX_BATCH_WRITE = 200
MAX_BATCH_GET = 100
MAX_COLUMNS_PER_WRITE = 1024
MAX_COLUMNS_TO_GET = 128
MAX_PK_VALUE = 1024
MAX_ATTR_VALUE = 2 * 1024 * 1024
MAX_NAME = 255
INT64 = (-(1 << 63), (1 << 63) - 1)
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_PK_TYPES = {pb.INTEGER: "INTEGER", pb.STRING: "STRING", pb.BINARY: "BINARY"}
_PK_ENUM = {v: k for k, v in _PK_TYPES.items()}
_VT = {"INTEGER": "VT_INTEGER", "STRING": "VT_STRING", "BINARY": "VT_BLOB", "DOUBLE": "VT_DOUBLE",
       "BOOLEAN": "VT_BOOLEAN", "INF_MIN": "VT_INF_MIN", "INF_MAX": "VT_INF_MAX",
       "AUTO_INCREMENT": "VT_AUTO_INCREMENT"}


def _err(code: str, message: str, status: int) -> ServiceError:
    return ServiceError(code, message, status)


def invalid(message: str) -> ServiceError:
    return _err("OTSParameterInvalid", message, 400)


def invalid_pk(message: str) -> ServiceError:
    return _err("OTSInvalidPK", message, 400)


def condition_failed() -> ServiceError:
    return _err("OTSConditionCheckFail", "Condition check failed.", 403)


def not_found() -> ServiceError:
    return _err("OTSObjectNotExist", "Requested table does not exist.", 404)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _cu(nbytes: int) -> int:
    return max(1, math.ceil(nbytes / 4096))


def _size(value) -> int:
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
    def load(cls, data: str) -> "StoredRow":
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


class Tablestore(Product):
    name = "ots"

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
        self._apis = {
            "CreateTable": self.CreateTable, "DescribeTable": self.DescribeTable, "ListTable": self.ListTable,
            "DeleteTable": self.DeleteTable, "UpdateTable": self.UpdateTable, "PutRow": self.PutRow,
            "GetRow": self.GetRow, "UpdateRow": self.UpdateRow, "DeleteRow": self.DeleteRow,
            "GetRange": self.GetRange, "BatchWriteRow": self.BatchWriteRow, "BatchGetRow": self.BatchGetRow,
        }

    # ------------------------------------------------------------------------------------------ wire
    def handle(self, api: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        request_id = new_request_id()
        ak = key = None
        try:
            if len(body) > MAX_BODY:
                raise _err("OTSRequestBodyTooLarge", f"The request body is too large: {len(body)} bytes.", 413)
            ak, key = verify_request(api, headers, self.cloud.credentials)
            md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
            if headers.get("x-ots-contentmd5", md5) != md5:
                raise invalid("Content MD5 mismatch.")
            instance = headers.get("x-ots-instancename", "")
            if not instance:
                raise invalid("The x-ots-instancename header is missing.")
            fn = self._apis.get(api)
            if fn is None:
                raise _err("OTSUnsupportOperation", f"Unsupported operation: '{api}'.", 400)
            out = fn(instance, body)
            return 200, response_headers(api, out, request_id, ak, key), out
        except ServiceError as err:
            return self._error_response(api, err, request_id, ak, key)
        except PlainBufferError as exc:
            return self._error_response(api, invalid(f"Invalid PlainBuffer: {exc}"), request_id, ak, key)
        except DecodeError as exc:
            return self._error_response(api, invalid(f"Failed to parse the request body: {exc}"), request_id,
                                        ak, key)

    def error(self, api: str, err) -> tuple[int, dict, bytes]:
        return self._error_response(api, err, new_request_id(), None, None)

    @staticmethod
    def _error_response(api, err: ServiceError, request_id, ak, key):
        body = pb.Error(code=err.code, message=err.message).SerializeToString()
        # An OTSAuthFailed answer cannot be signed (the client does not check it); others are signed when we can.
        sign = err.code != "OTSAuthFailed"
        return err.status, response_headers(api, body, request_id, ak if sign else None, key if sign else None), body

    # ------------------------------------------------------------------------------------------ tables
    def _table(self, instance: str, name: str) -> TableInfo:
        info = self._tables.get((instance, name))
        if info is not None:
            return info
        generation = self._generation
        rows = self.store.query("SELECT id, meta FROM ots_tables WHERE instance = ? AND name = ?", (instance, name))
        if not rows:
            raise not_found()
        info = TableInfo(rows[0][0], instance, name, json.loads(rows[0][1]))
        if generation == self._generation:
            self._tables[(instance, name)] = info
        return info

    def _forget(self, instance: str, name: str) -> None:
        self._generation += 1
        self._tables.pop((instance, name), None)

    def CreateTable(self, instance: str, body: bytes) -> bytes:
        req = pb.CreateTableRequest.FromString(body)
        meta_in = req.table_meta
        name = meta_in.table_name
        if not _TABLE_NAME.match(name):
            raise invalid(f"Invalid table name: '{name}'.")
        if not 1 <= len(meta_in.primary_key) <= 4:
            raise invalid("The number of primary key columns must be in range: [1, 4].")
        pk, seen = [], set()
        for i, col in enumerate(meta_in.primary_key):
            if not col.name or len(col.name.encode()) > MAX_NAME:
                raise invalid(f"Invalid column name: '{col.name}'.")
            if col.name in seen:
                raise invalid(f"Duplicated primary key name: '{col.name}'.")
            seen.add(col.name)
            if col.type not in _PK_TYPES:
                raise invalid(f"Invalid type of primary key column '{col.name}'.")
            auto = col.HasField("option") and col.option == pb.AUTO_INCREMENT
            if auto and (i == 0 or col.type != pb.INTEGER):
                raise invalid("The auto-increment primary key must be an INTEGER column other than the partition"
                              " key.")
            pk.append([col.name, _PK_TYPES[col.type], auto])
        if sum(1 for c in pk if c[2]) > 1:
            raise invalid("A table can have at most one auto-increment primary key column.")
        defined = []
        for col in meta_in.defined_column:
            if col.name in seen:
                raise invalid(f"Duplicated column name: '{col.name}'.")
            seen.add(col.name)
            defined.append([col.name, int(col.type)])
        if len(defined) > 32:
            raise invalid("The number of defined columns exceeds the limit 32.")
        opts = req.table_options
        options = {
            "time_to_live": opts.time_to_live if opts.HasField("time_to_live") else -1,
            "max_versions": opts.max_versions if opts.HasField("max_versions") else 1,
            "deviation": opts.deviation_cell_version_in_sec if opts.HasField("deviation_cell_version_in_sec")
            else 86400,
            "allow_update": opts.allow_update if opts.HasField("allow_update") else True,
        }
        self._check_options(options)
        cu = req.reserved_throughput.capacity_unit
        if cu.read < 0 or cu.write < 0:
            raise invalid("The reserved capacity units must not be negative.")
        now = int(time.time())
        indexes = [{"name": ix.name, "primary_key": list(ix.primary_key), "defined_column": list(ix.defined_column),
                    "index_update_mode": int(ix.index_update_mode), "index_type": int(ix.index_type)}
                   for ix in req.index_metas]
        meta = {"pk": pk, "defined": defined, "options": options,
                "reserved": {"read": cu.read, "write": cu.write, "last_increase": now, "last_decrease": None},
                "indexes": indexes, "created": now}
        with self.store.tx() as db:
            exists = db.execute("SELECT 1 FROM ots_tables WHERE instance = ? AND name = ?", (instance, name))
            if exists.fetchone():
                raise _err("OTSObjectAlreadyExist", "Requested table already exists.", 409)
            db.execute("INSERT INTO ots_tables (instance, name, meta) VALUES (?, ?, ?)",
                       (instance, name, json.dumps(meta)))
        self._forget(instance, name)
        return pb.CreateTableResponse().SerializeToString()

    @staticmethod
    def _check_options(options: dict) -> None:
        ttl = options["time_to_live"]
        if ttl != -1 and ttl < 86400:
            raise invalid("time_to_live must be -1 or at least 86400 seconds.")
        if options["max_versions"] < 1:
            raise invalid("max_versions must be at least 1.")
        if options["deviation"] < 1:
            raise invalid("deviation_cell_version_in_sec must be positive.")

    def _fill_details(self, meta: dict, details, options) -> None:
        res = meta["reserved"]
        details.capacity_unit.read = res["read"]
        details.capacity_unit.write = res["write"]
        details.last_increase_time = res["last_increase"]
        if res.get("last_decrease") is not None:
            details.last_decrease_time = res["last_decrease"]
        opts = meta["options"]
        options.time_to_live = opts["time_to_live"]
        options.max_versions = opts["max_versions"]
        options.deviation_cell_version_in_sec = opts["deviation"]
        options.allow_update = opts["allow_update"]

    def DescribeTable(self, instance: str, body: bytes) -> bytes:
        req = pb.DescribeTableRequest.FromString(body)
        info = self._table(instance, req.table_name)
        resp = pb.DescribeTableResponse()
        resp.table_meta.table_name = info.name
        for name, type_, auto in info.pk:
            col = resp.table_meta.primary_key.add(name=name, type=_PK_ENUM[type_])
            if auto:
                col.option = pb.AUTO_INCREMENT
        for name, type_ in info.meta["defined"]:
            resp.table_meta.defined_column.add(name=name, type=type_)
        self._fill_details(info.meta, resp.reserved_throughput_details, resp.table_options)
        for ix in info.meta["indexes"]:
            resp.index_metas.add(name=ix["name"], primary_key=ix["primary_key"], defined_column=ix["defined_column"],
                                 index_update_mode=ix["index_update_mode"], index_type=ix["index_type"])
        return resp.SerializeToString()

    def ListTable(self, instance: str, body: bytes) -> bytes:
        pb.ListTableRequest.FromString(body)
        names = [r[0] for r in self.store.query("SELECT name FROM ots_tables WHERE instance = ? ORDER BY name",
                                                (instance,))]
        return pb.ListTableResponse(table_names=names).SerializeToString()

    def DeleteTable(self, instance: str, body: bytes) -> bytes:
        req = pb.DeleteTableRequest.FromString(body)
        with self.store.tx() as db:
            row = db.execute("SELECT id FROM ots_tables WHERE instance = ? AND name = ?",
                             (instance, req.table_name)).fetchone()
            if row is None:
                raise not_found()
            db.execute("DELETE FROM ots_rows WHERE tid = ?", (row[0],))
            db.execute("DELETE FROM ots_tables WHERE id = ?", (row[0],))
        self._forget(instance, req.table_name)
        return pb.DeleteTableResponse().SerializeToString()

    def UpdateTable(self, instance: str, body: bytes) -> bytes:
        req = pb.UpdateTableRequest.FromString(body)
        with self.store.tx() as db:
            row = db.execute("SELECT id, meta FROM ots_tables WHERE instance = ? AND name = ?",
                             (instance, req.table_name)).fetchone()
            if row is None:
                raise not_found()
            meta = json.loads(row[1])
            if req.HasField("table_options"):
                opts, new = req.table_options, dict(meta["options"])
                if opts.HasField("time_to_live"):
                    new["time_to_live"] = opts.time_to_live
                if opts.HasField("max_versions"):
                    new["max_versions"] = opts.max_versions
                if opts.HasField("deviation_cell_version_in_sec"):
                    new["deviation"] = opts.deviation_cell_version_in_sec
                if opts.HasField("allow_update"):
                    new["allow_update"] = opts.allow_update
                self._check_options(new)
                meta["options"] = new
            if req.HasField("reserved_throughput"):
                cu, res, now = req.reserved_throughput.capacity_unit, meta["reserved"], int(time.time())
                for kind in ("read", "write"):
                    if cu.HasField(kind):
                        value = getattr(cu, kind)
                        if value < 0:
                            raise invalid("The reserved capacity units must not be negative.")
                        if value > res[kind]:
                            res["last_increase"] = now
                        elif value < res[kind]:
                            res["last_decrease"] = now
                        res[kind] = value
            db.execute("UPDATE ots_tables SET meta = ? WHERE id = ?", (json.dumps(meta), row[0]))
        self._forget(instance, req.table_name)
        resp = pb.UpdateTableResponse()
        self._fill_details(meta, resp.reserved_throughput_details, resp.table_options)
        return resp.SerializeToString()

    # ------------------------------------------------------------------------------------------ keys
    def _check_pk(self, table: TableInfo, pk: list, *, bound: bool = False, auto: bool = False) -> list:
        """Validate a primary key against the schema; return its values in schema order."""
        schema = table.pk
        if len(pk) != len(schema):
            raise invalid_pk(f"Validate PK size fail. Input: {len(pk)}, Meta: {len(schema)}.")
        values = []
        for (name, value), (sname, stype, sauto) in zip(pk, schema):
            if name != sname:
                raise invalid_pk(f"Validate PK name fail. Input: {name}, Meta: {sname}.")
            vtype = value_type(value)
            if vtype in ("INF_MIN", "INF_MAX"):
                if not bound:
                    raise invalid_pk(f"Validate PK type fail. Input: {_VT[vtype]}, Meta: {_VT[stype]}.")
            elif vtype == "AUTO_INCREMENT":
                if not (auto and sauto):
                    raise invalid_pk(f"Validate PK type fail. Input: VT_AUTO_INCREMENT, Meta: {_VT[stype]}.")
            elif vtype != stype:
                raise invalid_pk(f"Validate PK type fail. Input: {_VT.get(vtype, vtype)}, Meta: {_VT[stype]}.")
            elif stype in ("STRING", "BINARY") and _size(value) > MAX_PK_VALUE:
                raise invalid(f"The length of primary key column: '{name}' exceeds the MaxLength: "
                                      f"{MAX_PK_VALUE} with CurrentLength: {_size(value)}.")
            elif stype == "INTEGER" and not INT64[0] <= value <= INT64[1]:
                raise invalid(f"Primary key column '{name}' is out of the INTEGER range.")
            values.append(value)
        return values

    @staticmethod
    def _key(values: list) -> bytes:
        return b"".join(key_part(v) for v in values)

    @staticmethod
    def _bound(values: list) -> bytes | None:
        """A range bound as a byte string comparable with row keys (None: above every key)."""
        parts = []
        for v in values:
            if v is INF_MIN:
                return b"".join(parts)
            if v is INF_MAX:
                return successor(b"".join(parts))
            parts.append(key_part(v))
        return b"".join(parts)

    # ------------------------------------------------------------------------------------------ reads
    def _read_params(self, req, table: TableInfo, *, pagination: bool = True):
        columns = list(req.columns_to_get)
        if len(columns) > MAX_COLUMNS_TO_GET:
            raise invalid(f"The number of columns to get exceeds the limit {MAX_COLUMNS_TO_GET}.")
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
                    raise invalid("Invalid time range: start_time must be less than end_time.")
        if req.HasField("max_versions") and req.max_versions < 1:
            raise invalid("max_versions must be at least 1.")
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

    def _load(self, db_or_none, tid: int, key: bytes) -> StoredRow | None:
        sql, args = "SELECT data FROM ots_rows WHERE tid = ? AND pk = ?", (tid, key)
        rows = db_or_none.execute(sql, args).fetchall() if db_or_none is not None else self.store.query(sql, args)
        return StoredRow.load(rows[0][0]) if rows else None

    def GetRow(self, instance: str, body: bytes) -> bytes:
        req = pb.GetRowRequest.FromString(body)
        table = self._table(instance, req.table_name)
        pk, _, _ = decode_row(req.primary_key)
        values = self._check_pk(table, pk)
        params = self._read_params(req, table)
        row = self._load(None, table.id, self._key(values))
        resp = pb.GetRowResponse()
        projected = self._project(table, row, params, _now_ms()) if row is not None else None
        if projected is not None:
            data = encode_row(*projected)
            resp.row = data
            resp.consumed.capacity_unit.read = _cu(len(data))
        else:
            resp.row = b""
            resp.consumed.capacity_unit.read = 1
        resp.consumed.capacity_unit.write = 0
        return resp.SerializeToString()

    def GetRange(self, instance: str, body: bytes) -> bytes:
        req = pb.GetRangeRequest.FromString(body)
        table = self._table(instance, req.table_name)
        start_pk, _, _ = decode_row(req.inclusive_start_primary_key)
        end_pk, _, _ = decode_row(req.exclusive_end_primary_key)
        start = self._bound(self._check_pk(table, start_pk, bound=True))
        end = self._bound(self._check_pk(table, end_pk, bound=True))
        forward = req.direction == pb.FORWARD
        if not (_lt(start, end) if forward else _lt(end, start)):
            word = "less" if forward else "greater"
            raise invalid(f"Begin key must be {word} than end key in {'FORWARD' if forward else 'BACKWARD'}.")
        if req.HasField("limit") and req.limit <= 0:
            raise invalid("The limit must be greater than 0.")
        limit = min(req.limit, MAX_RANGE_ROWS) if req.HasField("limit") else MAX_RANGE_ROWS
        params = self._read_params(req, table)
        now = _now_ms()
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
        resp.consumed.capacity_unit.read = _cu(writer.size())
        resp.consumed.capacity_unit.write = 0
        if next_pk is not None:
            resp.next_start_primary_key = encode_row(list(zip([c[0] for c in table.pk], next_pk)))
        return resp.SerializeToString()

    def _scan(self, tid: int, start: bytes | None, end: bytes | None, forward: bool, chunk: int):
        """Rows in key order between the bounds (forward: start <= key < end; backward: end < key <= start).

        Bounds made from INF_MIN/INF_MAX never equal a stored key, so inclusive/exclusive only matters for
        exact keys. Pages of `chunk` rows (the caller stops early); each continues strictly after the last key seen.
        """
        if forward:
            near, far = ("pk >= ?", start), (("pk < ?", end) if end is not None else None)
            cont, order = "pk > ?", "ASC"
        else:
            near, far = (("pk <= ?", start) if start is not None else None), ("pk > ?", end)
            cont, order = "pk < ?", "DESC"
        while True:
            where, args = ["tid = ?"], [tid]
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

    def BatchGetRow(self, instance: str, body: bytes) -> bytes:
        req = pb.BatchGetRowRequest.FromString(body)
        total = sum(len(t.primary_key) for t in req.tables)
        if total > MAX_BATCH_GET:
            raise invalid(f"Rows count exceeds the upper limit: {MAX_BATCH_GET}.")
        resp = pb.BatchGetRowResponse()
        now = _now_ms()
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
                    row = self._load(None, table.id, self._key(self._check_pk(table, pk)))
                    projected = self._project(table, row, params, now) if row is not None else None
                    item.row = encode_row(*projected) if projected is not None else b""
                    item.consumed.capacity_unit.read = _cu(len(item.row))
                    item.consumed.capacity_unit.write = 0
                except PlainBufferError as exc:
                    self._row_error(item, invalid(f"Invalid PlainBuffer: {exc}"))
                except ServiceError as err:
                    self._row_error(item, err)
        return resp.SerializeToString()

    @staticmethod
    def _row_error(item, err: ServiceError) -> None:
        item.Clear()
        item.is_ok = False
        item.error.code = err.code
        item.error.message = err.message

    # ------------------------------------------------------------------------------------------ writes
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
            raise invalid(f"The total data size of {'PutRow' if kind == 'PUT' else 'UpdateRow'} request exceeds the "
                          f"limit, limit size: {MAX_ROW_WRITE_BYTES}, data size: {op['data_size']}.")
        with self.store.tx() as db:
            self._check_table_alive(db, table)
            returned, cu = self._apply(db, table, op)
        if returned is not None:
            resp.row = returned
        resp.consumed.capacity_unit.read = cu[0]
        resp.consumed.capacity_unit.write = cu[1]
        return resp.SerializeToString()

    def _check_table_alive(self, db, table: TableInfo) -> None:
        if db.execute("SELECT 1 FROM ots_tables WHERE id = ?", (table.id,)).fetchone() is None:
            self._forget(table.instance, table.name)
            raise not_found()

    def _prepare(self, table: TableInfo, kind: str, row_bytes: bytes, condition, return_content) -> dict:
        """Everything about a write that does not depend on the stored row, validated up front."""
        pk, cells, deleted = decode_row(row_bytes)
        values = self._check_pk(table, pk, auto=(kind == "PUT"))
        expect = condition.row_existence
        if kind == "DELETE" and expect == pb.EXPECT_NOT_EXIST:
            raise invalid("Invalid condition: EXPECT_NOT_EXIST while deleting row.")
        filt = Filter(condition.column_condition, allow_pagination=False) \
            if condition.HasField("column_condition") else None
        now = _now_ms()
        if kind == "DELETE":
            if cells:
                raise invalid("DeleteRow must not carry attribute columns.")
        elif kind == "PUT":
            if deleted:
                raise invalid("PutRow must not carry a delete marker.")
            if any(c[3] is not None for c in cells):
                raise invalid("PutRow columns cannot carry an update type.")
        elif not cells:
            raise invalid("UpdateRow must change at least one attribute column.")
        elif not table.meta["options"]["allow_update"]:
            raise invalid("UpdateRow is not allowed: the table was created with allow_update false.")
        if len(cells) > MAX_COLUMNS_PER_WRITE:
            raise invalid(f"The number of attribute columns exceeds the limit, limit count:"
                                  f"{MAX_COLUMNS_PER_WRITE}, column count: {len(cells)}.")
        seen = set()
        pk_names = {c[0] for c in table.pk}
        for name, value, ts, cell_type in cells:
            if not name or len(name.encode("utf-8")) > MAX_NAME:
                raise invalid(f"Invalid column name: '{name}'.")
            if name in seen:
                raise invalid(f"Duplicated attribute column name: '{name}'.")
            if name in pk_names:
                raise invalid(f"The attribute column '{name}' has the name of a primary key column.")
            seen.add(name)
            if cell_type in (None, INCREMENT) and value is None:
                raise invalid(f"The value of column '{name}' is missing.")
            if cell_type == INCREMENT and value_type(value) != "INTEGER":
                raise invalid(f"The increment of column '{name}' must be an INTEGER.")
            if cell_type == INCREMENT and ts is not None:
                raise invalid(f"The increment of column '{name}' cannot carry a timestamp.")
            if cell_type == DELETE_ONE and ts is None:
                raise invalid(f"Deleting one version of column '{name}' requires its timestamp.")
            if cell_type not in (None, INCREMENT, DELETE_ONE, DELETE_ALL):
                raise invalid(f"Unknown update type {cell_type} of column '{name}'.")
            if value is not None and _size(value) > MAX_ATTR_VALUE:
                raise invalid(f"The length of attribute column: '{name}' exceeded the MaxLength:"
                                      f"{MAX_ATTR_VALUE} with CurrentLength:{_size(value)}.")
            if ts is not None and cell_type in (None, INCREMENT):
                if ts < 0 or abs(ts - now) > table.deviation * 1000:
                    raise invalid(f"The timestamp {ts} of column '{name}' is out of the allowed range.")
        return_pk = return_content.return_type == pb.RT_PK if return_content is not None and \
            return_content.HasField("return_type") else False
        data = sum(len(n.encode("utf-8")) + _size(v) for n, v in pk) + \
            sum(len(name.encode("utf-8")) + (_size(value) if value is not None else 0) for name, value, *_ in cells)
        return {"kind": kind, "values": values, "cells": cells, "expect": expect, "filter": filt,
                "return_pk": return_pk, "data_size": data}

    def _apply(self, db, table: TableInfo, op: dict):
        """Check the condition against the stored row and write, inside the caller's transaction.

        Returns (row to return or None, (read CU, write CU)); raises OTSConditionCheckFail.
        """
        values = list(op["values"])
        now = _now_ms()
        auto_pos = next((i for i, v in enumerate(values) if v is PK_AUTO_INCR), None)
        if auto_pos is not None:
            last = db.execute("SELECT auto_incr FROM ots_tables WHERE id = ?", (table.id,)).fetchone()[0]
            values[auto_pos] = max(last + 1, now * 1000)
            db.execute("UPDATE ots_tables SET auto_incr = ? WHERE id = ?", (values[auto_pos], table.id))
        key = self._key(values)
        stored = self._load(db, table.id, key) if auto_pos is None else None
        exists, cols = stored.visible(table.ttl, now) if stored is not None else (False, {})
        expect = op["expect"]
        read_cu = 1 if (expect != pb.IGNORE or op["filter"] is not None) else 0
        if (expect == pb.EXPECT_EXIST and not exists) or (expect == pb.EXPECT_NOT_EXIST and exists):
            raise condition_failed()
        if op["filter"] is not None and not op["filter"].matches({n: c[0] for n, c in cols.items()}):
            raise condition_failed()
        kind, size = op["kind"], sum(_size(v) for v in values)
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
                size += len(name) + (_size(value) if value is not None else 0)
                if cell_type is None:
                    old = row.cols.get(name)
                    ts = now if ts is None else ts
                    if old is None or ts >= old[1] or kind == "PUT":
                        row.cols[name] = (value, ts)
                elif cell_type == INCREMENT:
                    old = row.cols.get(name)
                    if old is not None and value_type(old[0]) != "INTEGER":
                        raise invalid(f"Column '{name}' is not an INTEGER and cannot be incremented.")
                    total = (old[0] if old is not None else 0) + value
                    if not INT64[0] <= total <= INT64[1]:
                        raise invalid(f"The increment overflows column '{name}'.")
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
        return returned, (read_cu, _cu(size))

    def BatchWriteRow(self, instance: str, body: bytes) -> bytes:
        req = pb.BatchWriteRowRequest.FromString(body)
        total = sum(len(t.rows) for t in req.tables)
        if total > MAX_BATCH_WRITE:
            raise invalid(f"Rows count exceeds the upper limit: {MAX_BATCH_WRITE}.")
        if total == 0:
            raise invalid("No row is specified in BatchWriteRow.")
        names = [t.table_name for t in req.tables]
        if len(set(names)) != len(names):
            raise invalid(f"Duplicated table name: '{next(n for n in names if names.count(n) > 1)}'.")
        kinds = {pb.PUT: "PUT", pb.UPDATE: "UPDATE", pb.DELETE: "DELETE"}
        # Parameter errors (unknown table, a malformed or mismatched primary key, sizes, ...) fail the whole request:
        # "The request fails if any of the following conditions exist" (BatchWriteRow reference). Only what depends
        # on the stored rows (conditions, increments) is answered per row.
        plans = []  # per table: (table, [op])
        for t in req.tables:
            table = self._table(instance, t.table_name)
            ops, keys = [], set()
            for r in t.rows:
                try:
                    op = self._prepare(table, kinds[r.type], r.row_change, r.condition,
                                       r.return_content if r.HasField("return_content") else None)
                except PlainBufferError as exc:
                    raise invalid(f"Invalid PlainBuffer: {exc}") from None
                if PK_AUTO_INCR not in op["values"]:
                    key = self._key(op["values"])
                    if key in keys:
                        raise invalid("Duplicated primary key in the request of BatchWriteRow.")
                    keys.add(key)
                ops.append(op)
            plans.append((table, ops))
        data = sum(op["data_size"] for _, ops in plans for op in ops)
        if data > MAX_BATCH_WRITE_BYTES:
            raise invalid(f"The total data size of BatchWriteRow request exceeds the limit, limit size: "
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



def _lt(a: bytes | None, b: bytes | None) -> bool:
    """a < b for range bounds, None standing for "above every key"."""
    return a is not None and (b is None or a < b)
