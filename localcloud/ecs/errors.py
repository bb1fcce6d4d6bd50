"""Every ECS error answer, built one way: `error(code, message, status)` and the helpers and constants below.

The codes and statuses come from each action's error table in the API reference (see docs/cloud-fidelity.md "ECS"
and the list in `models.py`); the UNCONFIRMED choices are named here.
"""
from __future__ import annotations

from ..core.errors import ServiceError
from ..core.errors import invalid as _invalid_parameter


def error(code: str, message: str, status: int) -> ServiceError:
    return ServiceError(code, message, status)


def missing(name: str) -> ServiceError:
    """400 MissingParameter for a required parameter the action checks itself."""
    return error("MissingParameter", f"The input parameter \"{name}\" is mandatory.", 400)


def invalid(name: str, detail: str = "") -> ServiceError:
    """400 InvalidParameter: a malformed value without a documented code of its own."""
    return _invalid_parameter(name, detail)


def not_found(kind: str, rid: str) -> ServiceError:
    code = {"disk": "InvalidDiskId.NotFound", "snapshot": "InvalidSnapshotId.NotFound",
            "instance": "InvalidInstanceId.NotFound", "group": "InvalidSnapshotGroupId.NotFound"}[kind]
    return ServiceError(code, f"The specified {kind} {rid!r} does not exist.", 404)


def dry_run_passed(code: str = "DryRunOperation") -> ServiceError:
    return error(code, "Request validation has been passed with DryRun flag set.", 400)


def unknown_region(region: str) -> ServiceError:
    return error("InvalidRegionId.NotFound", f"The specified region {region!r} does not exist here.", 404)


# Too many ids in DescribeDisks/DescribeSnapshots: codes from those actions' error tables.
TOO_MANY_DISK_IDS = ServiceError("InvalidDiskIds.Malformed", "The amount of specified disk Ids exceeds the limit.", 403)
TOO_MANY_SNAPSHOT_IDS = ServiceError("InvalidSnapshotIds.Malformed",
                                     "The amount of specified specified snapshot Ids exceeds the limit.", 403)
# UNCONFIRMED: DescribeInstances' error table names no code for more than 100 InstanceIds; other ECS actions
# (e.g. DescribeInstanceRamRole) answer a malformed InstanceIds with this one.
TOO_MANY_INSTANCE_IDS = ServiceError("InvalidInstanceIds.Malformed", "The specified InstanceIds is not valid.", 400)
# UNCONFIRMED: the reference gives no code for more than 10 SnapshotGroupId.N.
TOO_MANY_GROUP_IDS_CODE = "InvalidParameter"
TOO_MANY_TAGS = ServiceError("InvalidTagCount", "The specified tags are beyond the permitted range.", 400)
# UNCONFIRMED: the user guide forbids a rollback while a snapshot of the disk is being created; ResetDisk's error
# table has no code for it, so the one CreateSnapshot uses for the same state is given.
RESET_WHILE_SNAPSHOTTING = "IncorrectDiskStatus.CreatingSnapshot"
# UNCONFIRMED: no ECS reference page lists the code for a NextToken the service did not issue.
INVALID_NEXT_TOKEN_CODE = "InvalidParameter.NextToken"
