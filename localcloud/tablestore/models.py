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
            out = fn(instance, body)
            return 200, response_headers(api, out, request_id, ak, key), out
        except ServiceError as err:
            return self._error_response(api, err, request_id, ak, key)
        except PlainBufferError as exc:
            return self._error_response(api, errors.invalid(f"Invalid PlainBuffer: {exc}"), request_id, ak, key)
        except DecodeError as exc:
            return self._error_response(api, errors.invalid(f"Failed to parse the request body: {exc}"), request_id,
                                        ak, key)

    def error(self, api: str, err) -> tuple[int, dict, bytes]:
        return self._error_response(api, err, new_request_id(), None, None)

    @staticmethod
    def _error_response(api, err: ServiceError, request_id, ak, key):
        body = pb.Error(code=err.code, message=err.message).SerializeToString()
        # An OTSAuthFailed answer cannot be signed (the client does not check it); others are signed when we can.
        sign = err.code != "OTSAuthFailed"
        return err.status, response_headers(api, body, request_id, ak if sign else None, key if sign else None), body
