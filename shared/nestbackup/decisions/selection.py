"""Which resources and databases of a backup a selective restore brings back. Pure: checked against the record
alone, before anything is recorded or touched; a selection naming something not in the backup, or not restorable
from it, is refused with every such name."""
from __future__ import annotations

from typing import Any, NamedTuple

from ..model.records import BackupItem, BackupMethod, BackupRecord, ResourceType
from ..model.selection import Selection
from ..model.status import SELECTABLE, ItemStatus


class NotInBackup(ValueError):
    """The selection names a resource or database the backup does not hold (the caller's mistake: 400)."""


class NotSelectable(ValueError):
    """The selection names something the backup holds but cannot restore, or the backup cannot be restored by
    selection at all (409)."""


class Chosen(NamedTuple):
    """What a restore brings back: resource id -> the databases of it (None: all it held; disks: None), the disks
    added because their snapshot group's member was selected (disk -> group), and with SplitGroups the selected
    disks restored without the rest of their group (disk -> group: not crash-consistent with it)."""
    restored: dict[str, tuple[str, ...] | None]
    joined: dict[str, str]
    split: dict[str, str]


def recorded(selection: Selection | None, chosen: Chosen) -> dict[str, Any] | None:
    """What a restore record (and a preview) says of its selection: what was asked, and each disk restored with a
    selected one because they were snapshotted in one group (GroupsKeptTogether), and each selected disk restored
without the rest of its group (GroupsSplit); None for a whole restore."""
    if selection is None:
        return None
    return {**selection.as_body(), "GroupsKeptTogether": dict(chosen.joined), "GroupsSplit": dict(chosen.split)}


def whole(backup: BackupRecord) -> Chosen:
    """Every resource the backup holds a good artifact of."""
    return Chosen({i.resource_id: None for i in backup.items if _good(i)}, {}, {})


def _good(item: BackupItem) -> bool:
    return item.status is ItemStatus.SUCCEEDED and bool(item.artifact_id)


def _why_not(item: BackupItem) -> str:
    cause = f": {item.error_code}" if item.error_code else ""
    return f"{item.resource_id} was not backed up by this backup ({item.status}{cause})"


def choose(backup: BackupRecord, selection: Selection) -> Chosen:
    """The selection as the backup can serve it: unknown names raise NotInBackup, names it cannot restore raise
    NotSelectable (every name in one sentence each way)."""
    if backup.status not in SELECTABLE:
        raise NotSelectable(f"backup {backup.backup_id} is {backup.status}: only the good resources of a Created or "
                            f"PartiallyCreated backup can be restored by selection")
    items = {i.resource_id: i for i in backup.items}
    unknown = [r for r in selection.resource_ids if r not in items]
    unknown += [r for r in selection.databases if r not in items]
    if unknown:
        raise NotInBackup(f"not in backup {backup.backup_id}: {', '.join(unknown)}")
    not_rds = [r for r in selection.databases if items[r].resource_type is not ResourceType.RDS]
    if not_rds:
        raise NotInBackup(f"Databases names {', '.join(not_rds)}, which {'is' if len(not_rds) == 1 else 'are'} "
                          f"not an RDS instance")
    missing = [f"{r}:{name}" for r, names in selection.databases.items() for name in names
               if name not in items[r].databases]
    if missing:
        raise NotInBackup(f"not in backup {backup.backup_id} (its RDS items list the databases it holds): "
                          f"{', '.join(missing)}")
    bad = [_why_not(items[r]) for r in (*selection.resource_ids, *selection.databases) if not _good(items[r])]
    if bad:
        raise NotSelectable("cannot be restored: " + "; ".join(bad))
    chosen: dict[str, tuple[str, ...] | None] = dict.fromkeys(selection.resource_ids)
    for rid, names in selection.databases.items():
        if rid not in chosen:          # an RDS instance named whole takes all its databases
            chosen[rid] = tuple(n for n in items[rid].databases if n in names)
    joined: dict[str, str] = {}
    split: dict[str, str] = {}
    for rid in list(chosen):
        item = items[rid]
        if item.method is not BackupMethod.SNAPSHOT_GROUP or not item.group_id:
            continue
        for member in backup.items:
            if member.group_id != item.group_id or member.resource_id in chosen:
                continue
            if selection.split_groups:
                split[rid] = item.group_id
            elif not _good(member):
                raise NotSelectable(f"{rid} was snapshotted in group {item.group_id} with {member.resource_id}, "
                                    f"which cannot be restored; restore {rid} alone with SplitGroups")
            else:
                chosen[member.resource_id] = None
                joined[member.resource_id] = item.group_id
    # the backup's own order (disks by instance, then databases)
    return Chosen({i.resource_id: chosen[i.resource_id] for i in backup.items if i.resource_id in chosen}, joined,
                  split)
