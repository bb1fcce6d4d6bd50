"""Errors raised by the local cloud's models; the server turns them into the wire bodies of each product."""


class ServiceError(Exception):
    """An error the cloud answers with: its wire code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400, retry_after_ms: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.retry_after_ms = retry_after_ms


def missing(name: str) -> ServiceError:
    return ServiceError("MissingParameter", f"The input parameter \"{name}\" that is mandatory for processing this "
                                            f"request is not supplied.", 400)


def invalid(name: str, detail: str = "") -> ServiceError:
    text = f"The specified parameter \"{name}\" is not valid."
    return ServiceError("InvalidParameter", f"{text} {detail}".strip(), 400)
