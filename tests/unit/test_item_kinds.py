"""Every resource kind answers every item action (operations/kinds): a flow step may ask any kind for any of them."""
from __future__ import annotations

import inspect

from nestbackup.model.records import BackupMethod, ResourceType
from nestbackup.operations.kinds import KINDS, RESTORE_KINDS
from nestbackup.operations.kinds.action import ItemAction
from nestbackup.operations.kinds.disk import DiskSnapshot


def _actions() -> set[str]:
    """The interface's methods and attributes (what a kind must have)."""
    methods = {n for n, v in vars(ItemAction).items() if inspect.isfunction(v) and not n.startswith("_")}
    return methods | set(ItemAction.__annotations__)


def missing_actions(kind: object) -> list[str]:
    """The actions a kind does not implement: absent, or (a method) still the interface's own stub."""
    missing = []
    for name in sorted(_actions()):
        found = inspect.getattr_static(type(kind), name, None)
        if found is None or found is vars(ItemAction).get(name):
            missing.append(name)
        elif inspect.isfunction(vars(ItemAction).get(name)) and not inspect.isfunction(found):
            missing.append(name)
    return missing


def test_the_interface_names_every_action():
    assert _actions() >= {"start", "describe_batch", "settle", "delete", "cancel", "discard", "check_restorable",
                          "still_owned", "restore", "restore_waits", "follow", "deadline_seconds",
                          "restores_beside_live", "delete_may_be_refused"}


def test_every_backup_method_and_resource_type_has_a_kind():
    assert set(KINDS) == set(BackupMethod)
    assert set(RESTORE_KINDS) == set(ResourceType)


def test_every_registered_kind_implements_every_action():
    for key, kind in {**KINDS, **RESTORE_KINDS}.items():
        assert missing_actions(kind) == [], f"{key}: {type(kind).__name__} lacks {missing_actions(kind)}"


def _kind_without(left_out: str) -> object:
    """A new kind that implements every action (as a disk does) but one."""
    kind = type("NewKind", (), {name: inspect.getattr_static(DiskSnapshot, name) for name in _actions() - {left_out}})
    return kind()


def test_a_kind_missing_an_action_is_found():
    assert missing_actions(_kind_without("cancel")) == ["cancel"]
    assert missing_actions(_kind_without("describe_batch")) == ["describe_batch"]
    assert missing_actions(_kind_without("restores_beside_live")) == ["restores_beside_live"]
    assert missing_actions(_kind_without("nothing")) == []
