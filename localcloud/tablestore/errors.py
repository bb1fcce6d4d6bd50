"""Every Tablestore error answer, built one way: `error(code, message, status)` and the named helpers below.

`models.Tablestore` turns a raised error into the protobuf `Error` body; a row of a batch carries it per row.
"""
from __future__ import annotations

from ..core.errors import ServiceError


def error(code: str, message: str, status: int) -> ServiceError:
    return ServiceError(code, message, status)


def invalid(message: str) -> ServiceError:
    return error("OTSParameterInvalid", message, 400)


def invalid_plainbuffer(exc: Exception) -> ServiceError:
    return invalid(f"Invalid PlainBuffer: {exc}")


def invalid_pk(message: str) -> ServiceError:
    return error("OTSInvalidPK", message, 400)


def condition_failed() -> ServiceError:
    return error("OTSConditionCheckFail", "Condition check failed.", 403)


def not_found() -> ServiceError:
    return error("OTSObjectNotExist", "Requested table does not exist.", 404)


def already_exists() -> ServiceError:
    return error("OTSObjectAlreadyExist", "Requested table already exists.", 409)


def body_too_large(size: int) -> ServiceError:
    return error("OTSRequestBodyTooLarge", f"The request body is too large: {size} bytes.", 413)


def unsupported(api: str) -> ServiceError:
    return error("OTSUnsupportOperation", f"Unsupported operation: '{api}'.", 400)


def auth_failed(message: str) -> ServiceError:
    return error("OTSAuthFailed", message, 403)
