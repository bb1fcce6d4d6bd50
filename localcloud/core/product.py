"""The base of one emulated RPC product."""
from __future__ import annotations

from typing import Any

from .context import CloudContext
from .errors import ServiceError
from .rpc import RpcRequest


class Product:
    """One emulated product: RPC actions are methods named as on the wire, listed in ACTIONS."""

    name = ""
    version = ""
    ACTIONS: frozenset[str] = frozenset()

    def __init__(self, cloud: CloudContext) -> None:
        self.cloud = cloud

    def dispatch(self, req: RpcRequest) -> dict[str, Any]:
        if req.action not in self.ACTIONS:
            raise ServiceError("InvalidAction.NotFound",
                               f"Specified api is not found, please check your url and method: {req.action}.", 404)
        return getattr(self, req.action)(req)

    def resume(self) -> None:
        """Pick up asynchronous work that a killed server left in progress."""

    def close(self) -> None:
        """Release what the product holds open (listeners, files); the cloud is stopping."""
