"""One error tree for the product. Adapters turn SDK exceptions into these at the boundary."""
from __future__ import annotations


class NestBackupError(Exception):
    """Base of every error the product raises on purpose."""


class ValidationError(NestBackupError):
    """The caller's input is malformed."""


class NotFound(NestBackupError):
    """The named record or resource does not exist (or is not the caller's)."""


class Conflict(NestBackupError):
    """The operation clashes with the current state, e.g. another operation holds the instance's lock."""


class IdempotentParameterMismatch(NestBackupError):
    """A ClientToken already used with other request parameters (the API answers 400 with this class's name as
    Code, as ECS does: docs/cloud-fidelity.md)."""


# Cloud codes that mean "not applied, try again later".
THROTTLING_CODES = frozenset({"Throttling", "Throttling.User", "Throttling.Api", "Throttling.Resource",
                              "ServiceUnavailable", "OTSServerBusy", "OTSOperationThrottled",
                              "Rejected.Throttling"})
# Refusals while the resource is busy (changing state, another backup job running): not applied, so safe to repeat
# once the resource is free. Sources per code in docs/cloud-fidelity.md (RDS sections).
BUSY_CODES = frozenset({"OperationDenied.DBInstanceStatus", "BackupJobExists",
                        # ECS CreateSnapshotGroup "IdempotentProcessing: the previous idempotent request is still
                        # processing" (a ClientToken call); ResetDisk "Operation.Conflict: the operation may
                        # conflict with others"
                        "IdempotentProcessing", "Operation.Conflict"})


class CloudError(NestBackupError):
    """A cloud API answered with an error, or could not be reached."""

    def __init__(self, code: str, message: str, *, action: str = "", request_id: str | None = None,
                 http_status: int | None = None) -> None:
        super().__init__(f"{action + ': ' if action else ''}{code}: {message}")
        self.code = code
        self.message = message
        self.action = action
        self.request_id = request_id
        self.http_status = http_status

    @property
    def throttled(self) -> bool:
        """The call was refused before it was applied: always safe to repeat."""
        return self.code in THROTTLING_CODES or self.code.startswith("Throttling")

    @property
    def busy(self) -> bool:
        """The resource was busy (see BUSY_CODES): nothing was applied; try again after a wait."""
        return self.code in BUSY_CODES

    @property
    def transient(self) -> bool:
        """Worth another try; for calls that are not idempotent, the caller must check state first."""
        return self.throttled or self.busy or self.code == "Unreachable" or (self.http_status or 0) >= 500
