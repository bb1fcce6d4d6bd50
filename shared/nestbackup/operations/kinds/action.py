"""The item-action interface: what the flow steps ask of one resource kind (a disk's snapshot, a snapshot group, an
RDS backup), and what the kinds share. The steps loop over items and call their kind's action; a kind answers for
its own cloud calls (Velero's per-kind item actions)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ...errors import CloudError

if TYPE_CHECKING:
    from ...decisions.backup import CloudProgress
    from ...model.records import BackupItem, BackupRecord
    from ...model.restores import RestoreItem, RestoreRecord
    from ...ports import Ports
    from ...ports.records import StoredRecord
    from ...settings import Settings
    from ..discovery import Discovered

# What DeleteSnapshot / DeleteSnapshotGroup / DeleteBackup answer for an artifact already gone.
NOT_FOUND_CODES = ("InvalidSnapshotId.NotFound", "InvalidSnapshotGroupId.NotFound", "InvalidBackupId.NotFound")


# Our own code for a delete the cloud accepted while the artifact still reads back as there.
STILL_LISTED = "DeleteNotApplied"


def still_listed(action: str, artifact: str) -> CloudError:
    return CloudError(STILL_LISTED, f"{artifact} is still listed after {action} was accepted", action=action,
                      http_status=409)


def refused_for_good(err: CloudError) -> bool:
    """A DeleteBackup refusal that asking again soon will not change (not throttling, busy or a server error)."""
    return not err.transient and (err.http_status or 400) < 500


@dataclass
class CancelCleanup:
    """What a backup's cancel has dealt with over its passes."""
    rds_deadline: float                                       # how long RDS jobs are waited for (monotonic)
    done: set[str] = field(default_factory=set)               # artifacts and jobs handled
    leftovers: list[str] = field(default_factory=list)        # what could not be deleted
    later: dict[str, str] = field(default_factory=dict)       # RDS resource id -> the set the timer deletes
    groups: set[str] = field(default_factory=set)             # snapshot groups deleted
    said: dict[str, str] = field(default_factory=dict)        # resource id -> what became of what was made of it
    unlisted: str | None = None                               # why the owner-tag listing failed, if it did


class ItemAction(Protocol):
    """One resource kind's actions. Backup side (`start`, `describe_batch`, `settle`, `delete`, `cancel`): the items of
    this backup method. Restore side (`check_restorable`, `restore`, `follow`): the items of this resource."""

    # True when the kind comes back under new names beside the live resource (the service keeps running meanwhile);
    # False when it is restored in place (the instances stopped).
    restores_beside_live: bool
    # True when the cloud may refuse for good to delete its artifact (it then stays until it expires).
    delete_may_be_refused: bool

    def deadline_seconds(self, settings: Settings) -> int:
        """How long a backup of this kind may take from the backup's start."""
        ...

    def start(self, w: Ports, stored: StoredRecord, record: BackupRecord, unit: list[BackupItem]) -> None:
        """Start the cloud work of one unit (the items one cloud call covers), idempotently; CloudError as the cloud
        answers. Sets the items' status and ids; the caller writes them."""
        ...

    def describe_batch(self, w: Ports, running: list[BackupItem]) -> dict[str, CloudProgress]:
        """What the cloud says of running items of this kind, in batches: resource id -> its progress."""
        ...

    def describe_calls(self, running: list[BackupItem]) -> dict[str, int]:
        """The cloud calls `describe_batch` makes for these items, by "product:Action" (what a poll round takes from
        the poll budget shared by every running backup, operations/poll_budget.py)."""
        ...

    def settle(self, w: Ports, item: BackupItem) -> None:
        """What a succeeded item records of its artifact once it is done."""
        ...

    def facts_pending(self, w: Ports, item: BackupItem) -> bool:
        """Read again what a succeeded item's artifact says when the cloud published it late; True while it is still
        not published (the backup waits for it until the kind's deadline)."""
        ...

    def delete(self, w: Ports, item: BackupItem, groups_done: set[str], backup_set: str | None = None) -> None:
        """Delete what the cloud keeps of one item (a group once: `groups_done`; `backup_set` when the item does not
        know it yet). CloudError as the cloud answers."""
        ...

    def cancel(self, w: Ports, stored: StoredRecord, record: BackupRecord, item: BackupItem,
               cleanup: CancelCleanup) -> None:
        """Stop and delete what a cancelled backup made of this item, and say in `cleanup.said` what became of it;
        CloudError as the cloud answers (`still_listed` when a delete was accepted but the artifact reads back)."""
        ...

    def discard(self, w: Ports, backup_id: str, item: BackupItem, groups_done: set[str]) -> str | None:
        """Delete what a start step made after its backup was closed; None once deleted (read back as gone), else
        what happens to it later (said on the item). CloudError as the cloud answers."""
        ...

    def check_restorable(self, w: Ports, items: list[BackupItem]) -> list[str]:
        """What the cloud no longer has (or cannot restore from) of these succeeded items, one sentence each."""
        ...

    def still_owned(self, item: RestoreItem, found: Discovered) -> bool:
        """Does the resource still belong to the service instance (as discovered now)?"""
        ...

    def restore(self, w: Ports, record: RestoreRecord, item: RestoreItem, now: float) -> None:
        """Ask the cloud to restore one item; CloudError as the cloud answers."""
        ...

    def restore_waits(self, w: Ports, err: CloudError) -> bool:
        """A refusal of `restore` that a later round asks again instead of failing the item."""
        ...

    def follow(self, w: Ports, record: RestoreRecord, running: list[RestoreItem], now: float) -> None:
        """Follow the running restores of this kind to their end."""
        ...
