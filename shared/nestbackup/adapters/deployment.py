"""Reads an operator makes to check a deployment (`nestbackup doctor`): CloudFlow DescribeFlow and Tablestore
DescribeTable. Kept out of the functions' adapters (cloudflow.py, tablestore.py) because the functions never call
them, so the functions' RAM policy, derived from those files by scripts/ram.py, does not grant them."""
from __future__ import annotations

from typing import Any

from ..errors import CloudError
from .openapi import RpcClient


def describe_flow(rpc: RpcClient, name: str) -> dict[str, Any] | None:
    """DescribeFlow's body (Name, RoleArn, Type, ...); None when the flow does not exist."""
    try:
        return rpc.call("DescribeFlow", {"Name": name}, method="GET")
    except CloudError as err:
        if err.code in ("FlowNotExists", "FlowNotFound"):
            return None
        raise


def table_exists(store) -> bool:
    """DescribeTable of the Tablestore adapter's table: False when Tablestore says it does not exist."""
    try:
        store._call(store.client.describe_table, store.table)
    except CloudError as err:
        if err.code == "OTSObjectNotExist":
            return False
        raise
    return True
