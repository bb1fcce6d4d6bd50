"""What a restore request asks for, as one typed value: the backup, and optionally which of its resources and
databases (a selective restore). `RestoreRequest.from_body` is the one place a `POST /restores` (or its preview) body
becomes a request, so a new field is one attribute and one line here. Plain data; no I/O."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError

MAX_SELECTED = 200            # resources or databases one request may name
MAX_NAME_CHARS = 128


@dataclass(frozen=True)
class Selection:
    """Resources of a backup (disks, RDS instances: all their databases) and single databases of RDS instances; the
    union is restored. `split_groups`: a disk snapshotted in a group is restored alone (the other disks of its group
    are otherwise restored with it, keeping them crash-consistent)."""
    resource_ids: tuple[str, ...] = ()
    databases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    split_groups: bool = False

    @property
    def empty(self) -> bool:
        return not self.resource_ids and not self.databases

    def as_body(self) -> dict[str, Any]:
        return {"Resources": list(self.resource_ids), "Databases": {k: list(v) for k, v in self.databases.items()},
                "SplitGroups": self.split_groups}

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Selection | None:
        if not doc:
            return None
        return cls(tuple(doc.get("Resources") or ()),
                   {k: tuple(v) for k, v in (doc.get("Databases") or {}).items()}, bool(doc.get("SplitGroups")))


def _ids(value: object, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= MAX_NAME_CHARS for v in value):
        raise ValidationError(f"{name} must be a list of ids (strings of 1 to {MAX_NAME_CHARS} characters)")
    if len(value) > MAX_SELECTED:
        raise ValidationError(f"{name} names more than {MAX_SELECTED} entries")
    if len(set(value)) < len(value):
        raise ValidationError(f"{name} names {next(v for v in value if value.count(v) > 1)!r} twice")
    return tuple(value)


def selection_of(resources: object, databases: object, split_groups: object) -> Selection | None:
    """The selection a request's fields make (None: the whole backup); ValidationError naming what is malformed."""
    if split_groups is not None and not isinstance(split_groups, bool):
        raise ValidationError("SplitGroups must be true or false")
    picked = _ids(resources, "Resources") if resources is not None else ()
    dbs: dict[str, tuple[str, ...]] = {}
    if databases is not None:
        if not isinstance(databases, dict):
            raise ValidationError("Databases must be an object: {DBInstanceId: [database names]}")
        for db_instance_id, names in databases.items():
            if not db_instance_id or len(db_instance_id) > MAX_NAME_CHARS:
                raise ValidationError("Databases: a DBInstanceId must be 1 to 128 characters")
            dbs[db_instance_id] = _ids(names, f"Databases[{db_instance_id!r}]")
            if not dbs[db_instance_id]:
                raise ValidationError(f"Databases[{db_instance_id!r}] names no database")
        if sum(len(v) for v in dbs.values()) > MAX_SELECTED:
            raise ValidationError(f"Databases names more than {MAX_SELECTED} databases")
    if not picked and not dbs:
        if split_groups:
            raise ValidationError("SplitGroups applies to a selection: name Resources or Databases")
        if resources is not None or databases is not None:
            raise ValidationError("the selection is empty: name at least one resource or database, or leave "
                                  "Resources and Databases out to restore the whole backup")
        return None
    return Selection(picked, dbs, bool(split_groups))


@dataclass(frozen=True)
class RestoreRequest:
    """A `POST /restores` (or `/restores/preview`) body, typed."""
    backup_id: str
    client_token: str | None = None
    safety_backup: bool = True
    selection: Selection | None = None
    # a hooked backup's databases go to its moment T where their log backups reach it (decisions/restore.py)
    to_consistent_moment: bool = True

    # the body's fields this request reads (the API refuses any other)
    FIELDS = frozenset({"BackupId", "ClientToken", "SafetyBackup", "Resources", "Databases", "SplitGroups",
                        "ToConsistentMoment"})

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> RestoreRequest:
        safety = body.get("SafetyBackup")
        if safety is not None and not isinstance(safety, bool):
            raise ValidationError("SafetyBackup must be true or false")
        moment = body.get("ToConsistentMoment", True)
        if not isinstance(moment, bool):
            raise ValidationError("ToConsistentMoment must be true or false")
        return cls(backup_id=body["BackupId"], client_token=body.get("ClientToken"),
                   safety_backup=True if safety is None else safety, to_consistent_moment=moment,
                   selection=selection_of(body.get("Resources"), body.get("Databases"), body.get("SplitGroups")))
