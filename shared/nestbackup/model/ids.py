"""The identifiers the product accepts and makes, checked in one place: service instances, client tokens, record ids,
and the tag that marks every cloud artifact a backup makes."""
from __future__ import annotations

import re

from ..errors import ValidationError

SERVICE_INSTANCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}\Z")      # \Z, not $: no final newline
CLIENT_TOKEN = re.compile(r"^[\x21-\x7e]{1,64}\Z")
BACKUP_ID = re.compile(r"^backup-[0-9a-f]{12,40}\Z")
RESTORE_ID = re.compile(r"^restore-[0-9a-f]{12,40}\Z")
DRILL_ID = re.compile(r"^drill-[0-9a-f]{12,40}\Z")
DRILL_TAG = "nestbackup:drillId"   # on every scratch disk a drill makes: finds what a crashed drill left
OWNER_TAG = "nestbackup:backupId"  # on every snapshot and group we make: finds leftovers no record owns


def is_service_instance_id(value: object) -> bool:
    return isinstance(value, str) and SERVICE_INSTANCE_ID.match(value) is not None


def check_service_instance_id(value: object, name: str = "ServiceInstanceId") -> str:
    if not is_service_instance_id(value):
        raise ValidationError(f"{name} must be 1-128 letters, digits or _.:- (e.g. si-0123abcd)")
    return str(value)


def check_client_token(token: object) -> None:
    if token is not None and (not isinstance(token, str) or not CLIENT_TOKEN.match(token)):
        raise ValidationError("ClientToken must be 1-64 printable ASCII characters")


def is_backup_id(value: object) -> bool:
    return isinstance(value, str) and BACKUP_ID.match(value) is not None


def is_restore_id(value: object) -> bool:
    return isinstance(value, str) and RESTORE_ID.match(value) is not None


def is_drill_id(value: object) -> bool:
    return isinstance(value, str) and DRILL_ID.match(value) is not None
