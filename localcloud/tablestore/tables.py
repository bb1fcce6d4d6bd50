"""Tablestore tables: CreateTable, DescribeTable, ListTable, DeleteTable and UpdateTable (schema, options and
reserved throughput)."""
from __future__ import annotations

import json
import re
import time

from tablestore.protobuf import table_store_pb2 as pb

from . import errors
from .storage import MAX_NAME, TablestoreState

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_PK_TYPES = {pb.INTEGER: "INTEGER", pb.STRING: "STRING", pb.BINARY: "BINARY"}
_PK_ENUM = {v: k for k, v in _PK_TYPES.items()}


class Tables(TablestoreState):
    """The table operations of `models.Tablestore`."""

    def CreateTable(self, instance: str, body: bytes) -> bytes:
        req = pb.CreateTableRequest.FromString(body)
        meta_in = req.table_meta
        name = meta_in.table_name
        if not _TABLE_NAME.match(name):
            raise errors.invalid(f"Invalid table name: '{name}'.")
        if not 1 <= len(meta_in.primary_key) <= 4:
            raise errors.invalid("The number of primary key columns must be in range: [1, 4].")
        pk, seen = [], set()
        for i, col in enumerate(meta_in.primary_key):
            if not col.name or len(col.name.encode()) > MAX_NAME:
                raise errors.invalid(f"Invalid column name: '{col.name}'.")
            if col.name in seen:
                raise errors.invalid(f"Duplicated primary key name: '{col.name}'.")
            seen.add(col.name)
            if col.type not in _PK_TYPES:
                raise errors.invalid(f"Invalid type of primary key column '{col.name}'.")
            auto = col.HasField("option") and col.option == pb.AUTO_INCREMENT
            if auto and (i == 0 or col.type != pb.INTEGER):
                raise errors.invalid("The auto-increment primary key must be an INTEGER column other than the partition"
                                     " key.")
            pk.append([col.name, _PK_TYPES[col.type], auto])
        if sum(1 for c in pk if c[2]) > 1:
            raise errors.invalid("A table can have at most one auto-increment primary key column.")
        defined = []
        for col in meta_in.defined_column:
            if col.name in seen:
                raise errors.invalid(f"Duplicated column name: '{col.name}'.")
            seen.add(col.name)
            defined.append([col.name, int(col.type)])
        if len(defined) > 32:
            raise errors.invalid("The number of defined columns exceeds the limit 32.")
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
            raise errors.invalid("The reserved capacity units must not be negative.")
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
                raise errors.already_exists()
            db.execute("INSERT INTO ots_tables (instance, name, meta) VALUES (?, ?, ?)",
                       (instance, name, json.dumps(meta)))
        self._forget(instance, name)
        return pb.CreateTableResponse().SerializeToString()

    @staticmethod
    def _check_options(options: dict) -> None:
        ttl = options["time_to_live"]
        if ttl != -1 and ttl < 86400:
            raise errors.invalid("time_to_live must be -1 or at least 86400 seconds.")
        if options["max_versions"] < 1:
            raise errors.invalid("max_versions must be at least 1.")
        if options["deviation"] < 1:
            raise errors.invalid("deviation_cell_version_in_sec must be positive.")

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

    @staticmethod
    def _stored_table(db, instance: str, name: str) -> tuple[int, dict]:
        """The table's row id and its meta, within the caller's transaction; OTSObjectNotExist if there is none."""
        row = db.execute("SELECT id, meta FROM ots_tables WHERE instance = ? AND name = ?", (instance, name)).fetchone()
        if row is None:
            raise errors.not_found()
        return row[0], json.loads(row[1])

    def DeleteTable(self, instance: str, body: bytes) -> bytes:
        req = pb.DeleteTableRequest.FromString(body)
        with self.store.tx() as db:
            tid, _ = self._stored_table(db, instance, req.table_name)
            db.execute("DELETE FROM ots_rows WHERE tid = ?", (tid,))
            db.execute("DELETE FROM ots_tables WHERE id = ?", (tid,))
        self._forget(instance, req.table_name)
        return pb.DeleteTableResponse().SerializeToString()

    def UpdateTable(self, instance: str, body: bytes) -> bytes:
        req = pb.UpdateTableRequest.FromString(body)
        with self.store.tx() as db:
            tid, meta = self._stored_table(db, instance, req.table_name)
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
                            raise errors.invalid("The reserved capacity units must not be negative.")
                        if value > res[kind]:
                            res["last_increase"] = now
                        elif value < res[kind]:
                            res["last_decrease"] = now
                        res[kind] = value
            db.execute("UPDATE ots_tables SET meta = ? WHERE id = ?", (json.dumps(meta), tid))
        self._forget(instance, req.table_name)
        resp = pb.UpdateTableResponse()
        self._fill_details(meta, resp.reserved_throughput_details, resp.table_options)
        return resp.SerializeToString()
