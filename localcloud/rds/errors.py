"""Every RDS error answer, built one way: `error(code, message, status)`, through one function per error below or
`refuse(REFUSAL, detail)` for the refusals whose code or status is UNCONFIRMED (each named and sourced here).

The codes are listed per action in `models.py`; docs/cloud-fidelity.md "RDS" ties them to their sources.
"""
from __future__ import annotations

from typing import NamedTuple

from ..core.errors import ServiceError
from ..core.errors import invalid as _invalid_parameter
from ..core.errors import missing as _missing_parameter
from .engines.base import EngineError


class Refusal(NamedTuple):
    """A refusal whose wire form is a choice of ours: its code, message and HTTP status."""
    code: str
    message: str
    status: int


# CreateBackup while another backup task of the instance runs: the code the Terraform provider retries on
# (resource_alicloud_rds_backup.go). UNCONFIRMED: its HTTP status (400 on the MongoDB error page of the same code).
BACKUP_JOB_EXISTS = Refusal("BackupJobExists", "A backup job already exists in the specified DB instance.", 400)
# RestoreTable from a set whose MetaStatus is not OK (taken without database/table restore enabled). UNCONFIRMED
# code: no source names it; the API reference only states the precondition.
NO_TABLE_META = Refusal("IncorrectBackupSetState", "The backup set was taken without database and table restoration "
                                                   "enabled (MetaStatus is not OK).", 403)
# DeleteBackup of a set whose StoreStatus is Disabled (Basic edition, or younger than the deletable age): only
# Enabled sets can be deleted (SDK DeleteBackupRequest.backup_id). UNCONFIRMED code and status.
DELETE_REFUSED = Refusal("IncorrectBackupSetState", "The backup set cannot be deleted now (StoreStatus is Disabled).",
                         403)
# A second RestoreTable while one runs: the console says "The RDS instance is not in a ready state". UNCONFIRMED code:
# the documented instance-state refusal.
RESTORE_IN_PROGRESS = Refusal("IncorrectDBInstanceState",
                              "Current DB instance state does not support this operation: a restore task is in "
                              "progress.", 403)
# CopyDatabaseBetweenInstances naming the source instance as its target: its API reference says the target "must
# differ from the ID of the source instance" (help/id/rds/api-copy-database). UNCONFIRMED: the code and status.
COPY_INTO_ITSELF = Refusal("InvalidParameter", "The specified parameter \"TargetDBInstanceId\" is not valid: it "
                                               "must differ from DBInstanceId.", 400)
# CreateBackup on a read-only (or other non-primary) instance. RDS documents OperationDenied.DBInstanceType (403,
# "The operation is not permitted due to type of the instance.") for operations an instance type does not
# support; that CreateBackup answers a read-only instance with it is UNCONFIRMED (its page lists no such code).
READ_ONLY_BACKUP_REFUSAL = Refusal("OperationDenied.DBInstanceType",
                                   "The operation is not permitted due to type of the instance.", 403)


def error(code: str, message: str, status: int) -> ServiceError:
    return ServiceError(code, message, status)


def refuse(refusal: Refusal, detail: str | None = None) -> ServiceError:
    """One of the refusals above; `detail` (the set or task concerned) is added to its message in parentheses."""
    message = refusal.message if detail is None else f"{refusal.message} ({detail})"
    return error(refusal.code, message, refusal.status)


# -- parameters
def missing(name: str) -> ServiceError:
    """400 MissingParameter, as `RpcRequest.require` answers it."""
    return _missing_parameter(name)


def invalid(name: str, detail: str = "") -> ServiceError:
    """400 InvalidParameter: a malformed value without a documented code of its own."""
    return _invalid_parameter(name, detail)


def malformed_time(name: str) -> ServiceError:
    return error(f"Invalid{name}.Malformed",
                 f"The specified parameter \"{name}\" is not valid: use yyyy-MM-ddTHH:mmZ (UTC).", 400)


def end_before_start() -> ServiceError:
    return error("InvalidEndTime.Malformed", "The EndTime must not be before the StartTime.", 400)


def idempotent_mismatch() -> ServiceError:
    return error("IdempotentParameterMismatch", "The ClientToken was used before with different parameters.", 400)


# -- instances and their servers
def instance_not_found(instance_id: str) -> ServiceError:
    return error("InvalidDBInstanceId.NotFound", f"The specified instance {instance_id} is not found.", 404)


def incorrect_instance_state(status: str) -> ServiceError:
    """403 IncorrectDBInstanceState: the call needs the instance Running."""
    return error("IncorrectDBInstanceState",
                 f"Current DB instance state does not support this operation ({status}).", 403)


def server_unreachable(err: EngineError) -> ServiceError:
    """500 InternalError: the real database server could not be reached while answering a call."""
    return error("InternalError", f"The database server could not be reached: {err}", 500)


def table_restore_unsupported(engine: str) -> ServiceError:
    return error("UnsupportedEngine",
                 f"RestoreTable does not support the {engine} engine (MySQL and PostgreSQL only).", 400)


def recovery_unsupported(engine: str, instance_id: str, action: str = "RecoveryDBInstance") -> ServiceError:
    return error("UnsupportedEngine", f"{action} supports SQL Server only, not {engine} ({instance_id}).", 400)


# -- backups
def backup_method_not_supported(why: str | None = None) -> ServiceError:
    """400 InvalidBackupMethod.ValueNotSupport: an unknown BackupMethod, or `why` the engine does not take it."""
    return error("InvalidBackupMethod.ValueNotSupport", why or "The specified parameter \"BackupMethod\" is not valid.",
                 400)


def backup_type_not_supported() -> ServiceError:
    return error("BackupType.NotSupport", "the specified backup type not support", 400)


def backup_not_found(backup_id: str) -> ServiceError:
    """404 InvalidBackupId.NotFound: unknown, or a set of another instance."""
    return error("InvalidBackupId.NotFound", f"The backup set {backup_id} is not found.", 404)


def backup_unavailable(backup_id: str) -> ServiceError:
    """403 IncorrectBackupSetState: restoring from a set that is not Success."""
    return error("IncorrectBackupSetState", f"The backup set {backup_id} is not available.", 403)


def backup_in_use(backup_id: str) -> ServiceError:
    """403 IncorrectBackupSetState: deleting a set a running restore reads."""
    return error("IncorrectBackupSetState", f"The backup set {backup_id} is being restored from.", 403)


# -- databases and tables
def database_not_on_instance(name: str, instance_id: str) -> ServiceError:
    return error("InvalidDBName.NotFound", f"Database {name!r} is not on {instance_id}.", 404)


def database_not_in_backup(name: str, backup_id: str) -> ServiceError:
    return error("InvalidDBName.NotFound", f"The database {name!r} is not in backup set {backup_id}.", 404)


def table_not_in_backup(table: str, database: str, backup_id: str) -> ServiceError:
    return error("InvalidTableName.NotFound",
                 f"The table {table!r} of {database!r} is not in backup set {backup_id}.", 404)


def database_exists(name: str, where: str = "") -> ServiceError:
    """400 InvalidDBName.Duplicate; `where` (" on the instance", " on rm-…") ends the sentence when given."""
    return error("InvalidDBName.Duplicate", f"The database {name!r} already exists{where}.", 400)


def table_exists(table: str, database: str) -> ServiceError:
    return error("InvalidTableName.Duplicate", f"The table {table!r} already exists in {database!r}.", 400)
