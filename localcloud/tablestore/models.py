"""Tablestore: tables and rows over protobuf + PlainBuffer. (skeleton, being written)"""
from ..cloud import Product


class Tablestore(Product):
    name = "ots"

    def handle(self, api: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        raise NotImplementedError

    def error(self, api: str, err) -> tuple[int, dict, bytes]:
        raise NotImplementedError
