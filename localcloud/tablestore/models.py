"""Tablestore: tables and rows over protobuf + PlainBuffer, durable in the local cloud's SQLite store.

Every API is `POST /<Api>` with a protobuf body (`tablestore.protobuf.table_store_pb2`); rows travel as PlainBuffer
(`codec.py`), conditions and filters as `table_store_filter_pb2.Filter` (`conditions.py`), requests and responses
are signed (`auth.py`). Tables live in the namespace of the `x-ots-instancename` header.

This module is the wire: it checks, dispatches and answers a request. The operations are one mixin per concern, as
moto assembles its backends: `tables.py`, `rows.py`, `ranges.py` and `batch.py` over the stored forms and shared
state in `storage.py`; primary keys are in `keys.py`, every error is built by `errors.py`.

Storage: `ots_tables` (one row per table, its meta as JSON) and `ots_rows` (table id, order-preserving encoded
primary key, row as JSON) WITHOUT ROWID, so GetRange is an index range scan in primary-key order. A write reads the
row, checks its condition and writes it in one store transaction, committed before the response is sent.

Rows keep one version per column (the latest); its timestamp is returned. TTL hides expired cells on reads.
"""
from __future__ import annotations

import base64
import hashlib

from google.protobuf.message import DecodeError
from tablestore.protobuf import table_store_pb2 as pb

from ..core.errors import ServiceError
from . import errors
from .auth import new_request_id, response_headers, verify_request
from .batch import Batches
from .codec import PlainBufferError
from .ranges import Ranges
from .tables import Tables

MAX_BODY = 5 * 1024 * 1024


class Tablestore(Tables, Ranges, Batches):
    name = "ots"

    def __init__(self, cloud) -> None:
        super().__init__(cloud)
        self._apis = {
            "CreateTable": self.CreateTable, "DescribeTable": self.DescribeTable, "ListTable": self.ListTable,
            "DeleteTable": self.DeleteTable, "UpdateTable": self.UpdateTable, "PutRow": self.PutRow,
            "GetRow": self.GetRow, "UpdateRow": self.UpdateRow, "DeleteRow": self.DeleteRow,
            "GetRange": self.GetRange, "BatchWriteRow": self.BatchWriteRow, "BatchGetRow": self.BatchGetRow,
        }

    def handle(self, api: str, headers: dict, body: bytes, network: str | None = None) -> tuple[int, dict, bytes]:
        """`network`: where the request arrived (tablestore/network.py `arrival`); None for the local address."""
        request_id = new_request_id()
        ak = key = None
        try:
            if len(body) > MAX_BODY:
                raise errors.body_too_large(len(body))
            ak, key = verify_request(api, headers, self.cloud.credentials)
            md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
            if headers.get("x-ots-contentmd5", md5) != md5:
                raise errors.invalid("Content MD5 mismatch.")
            instance = headers.get("x-ots-instancename", "")
            if not instance:
                raise errors.invalid("The x-ots-instancename header is missing.")
            self.cloud.ots_instances.check(instance, network)
            fn = self._apis.get(api)
            if fn is None:
                raise errors.unsupported(api)
            self._authorize(ak, headers, api, instance, body)
            out = fn(instance, body)
            return 200, response_headers(api, out, request_id, ak, key), out
        except ServiceError as err:
            return self._error_response(api, err, request_id, ak, key)
        except PlainBufferError as exc:
            return self._error_response(api, errors.invalid(f"Invalid PlainBuffer: {exc}"), request_id, ak, key)
        except DecodeError as exc:
            return self._error_response(api, errors.invalid(f"Failed to parse the request body: {exc}"), request_id,
                                        ak, key)

    def _authorize(self, ak: str, headers: dict, api: str, instance: str, body: bytes) -> None:
        """A role's key may call `api` only on the tables its policy names (localcloud/core/ram.py), each
        `acs:ots:<region>:<account>:instance/<instance>/table/<table>`; ListTable acts on the instance."""
        ram = self.cloud.ram
        ram.check_token(ak, headers.get("x-ots-ststoken"), "ots")
        base = f"acs:ots:{self.cloud.region}:{self.cloud.account_id}:instance/{instance}"
        for table in _tables(api, body):
            ram.authorize(ak, "ots", api, f"{base}/table/{table}" if table else base)

    def error(self, api: str, err) -> tuple[int, dict, bytes]:
        return self._error_response(api, err, new_request_id(), None, None)

    @staticmethod
    def _error_response(api, err: ServiceError, request_id, ak, key):
        body = pb.Error(code=err.code, message=err.message).SerializeToString()
        # An OTSAuthFailed answer cannot be signed (the client does not check it); others are signed when we can.
        sign = err.code != "OTSAuthFailed"
        return err.status, response_headers(api, body, request_id, ak if sign else None, key if sign else None), body


def _tables(api: str, body: bytes) -> list[str]:
    """The tables a request names ("" for one that acts on the instance)."""
    if api == "ListTable":
        return [""]
    if api in ("BatchWriteRow", "BatchGetRow"):
        req = getattr(pb, f"{api}Request").FromString(body)
        return sorted({t.table_name for t in req.tables}) or [""]
    if api == "CreateTable":
        return [pb.CreateTableRequest.FromString(body).table_meta.table_name]
    return [getattr(pb, f"{api}Request").FromString(body).table_name]
