"""A backup's copies in another region (docs/statuses.md, "Copies"): each disk item's snapshot copied into the
record's `CopyToRegion`, one copy per item, with an item status of its own; they roll up into the record's
`CopyStatus`. Plain data; no I/O."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable

from ..errors import ValidationError
from .status import ITEM_FINAL, ITEM_RULES, BackupStatus, ItemStatus, aggregate_backup

# A region id as Alibaba Cloud spells them (cn-hangzhou, ap-southeast-1, cn-shanghai-finance-1).
REGION_ID = re.compile(r"^[a-z]{2}(-[a-z0-9]+){1,3}$")
# Why an RDS item has no copy: cross-region backup of RDS is the instance's own policy, not a per-backup call.
RDS_NOT_COPIED = ("not copied per backup: RDS copies backups to another region by the instance's own cross-region "
                  "backup policy (ModifyInstanceCrossBackupPolicy), which nestbackup does not set; see "
                  "docs/operating.md, \"Copies in another region\"")


def check_copy_region(region: Any, own_region: str) -> str | None:
    """The CopyToRegion asked for (None: no copy), or ValidationError."""
    if region is None or region == "":
        return None
    if not isinstance(region, str) or not REGION_ID.match(region):
        raise ValidationError(f"CopyToRegion must be a region id such as cn-shanghai, not {region!r}")
    if region == own_region:
        raise ValidationError(f"CopyToRegion must be another region than the backup's own ({own_region})")
    return region


@dataclass
class SnapshotCopy:
    """One snapshot's copy in another region."""
    region: str
    status: ItemStatus = ItemStatus.PENDING
    source_id: str | None = None      # the snapshot copied (the item's, or its group member's)
    snapshot_id: str | None = None    # the copy's id in `region` (CopySnapshot's answer)
    error_code: str | None = None
    error_message: str | None = None

    def __post_init__(self) -> None:
        assert ITEM_RULES[self.status].copy, self.status

    @property
    def final(self) -> bool:
        return self.status in ITEM_FINAL

    def fail(self, code: str, message: str) -> None:
        self.status, self.error_code, self.error_message = ItemStatus.FAILED, code, message

    def close(self, status: ItemStatus, message: str) -> None:
        self.status, self.error_code, self.error_message = status, None, message

    def to_api(self) -> dict[str, Any]:
        return {"Region": self.region, "SnapshotId": self.snapshot_id, "SourceSnapshotId": self.source_id,
                "Status": str(self.status), "ErrorCode": self.error_code, "ErrorMessage": self.error_message}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"status": self.status.value}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SnapshotCopy:
        return cls(**(dict(raw) | {"status": ItemStatus(raw["status"])}))


def copy_status(copies: Iterable[SnapshotCopy]) -> BackupStatus | None:
    """The record's CopyStatus: the copies rolled up as a backup's items are; None when there is none."""
    statuses = [c.status for c in copies]
    if not statuses:
        return None
    if ItemStatus.DELETED in statuses and all(s in (ItemStatus.DELETED, ItemStatus.NOT_STARTED) for s in statuses):
        return BackupStatus.DELETED
    return aggregate_backup(statuses)
