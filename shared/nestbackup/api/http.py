"""The HTTP exchange as the API sees it: a request, its response, and an error the caller can fix; independent of
how requests arrive (FC HTTP trigger, local cloud mount, tests)."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..operations.tenants import Principal
    from ..ports import Ports


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)   # lower-case names
    body: bytes = b""
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    source_ip: str | None = None        # as the trigger says, for the audit trail


@dataclass
class Response:
    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})

    def encoded(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else json.dumps(self.body).encode()


class ApiError(Exception):
    """Answered as {"Code", "Message", "RequestId"} with this status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Call:
    """One authorized request matched to its route: what an endpoint handler gets."""
    request: Request
    wiring: Ports
    principal: Principal
    path_params: dict[str, str]


def error_response(req: Request, status: int, code: str, message: str) -> Response:
    return Response(status, {"Code": code, "Message": message, "RequestId": req.request_id})
