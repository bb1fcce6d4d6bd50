"""Every disk of one ECS instance in one crash-consistent snapshot group. Its disks restore as any disk does (each
reset to its own member snapshot), so the restore side is the disk's."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...decisions.backup import CloudProgress, client_token, failed_group_outcomes
from ...errors import CloudError
from ...model.ids import OWNER_TAG
from ...model.status import ItemStatus, snapshot_item_status
from ...ports.compute import GROUP_IDS_PER_CALL
from .action import still_listed
from .disk import DiskSnapshot, snapshot_encryption, wait_out

if TYPE_CHECKING:
    from ...model.records import BackupItem, BackupRecord
    from ...ports import Ports
    from ...ports.records import StoredRecord


class SnapshotGroup(DiskSnapshot):
    def start(self, w: Ports, stored: StoredRecord, record: BackupRecord, unit: list[BackupItem]) -> None:
        first = unit[0]
        try:
            group_id = w.ecs.create_snapshot_group(
                first.instance_id or "", [i.resource_id for i in unit], name=f"nestbackup-{record.backup_id}",
                description=f"nestbackup {record.backup_id} of {record.service_instance_id}",
                client_token=client_token(record.backup_id, first.instance_id or ""),
                tags={OWNER_TAG: record.backup_id})
        except CloudError as err:
            wait_out(w, stored, record, unit, err)
            return
        for item in unit:
            item.status, item.group_id, item.wait_reason = ItemStatus.RUNNING, group_id, None

    def describe_calls(self, running: list[BackupItem]) -> dict[str, int]:
        """The groups' listing; a failed group's or a finished one's snapshots, read once, are not counted."""
        groups = {i.group_id for i in running if i.group_id}
        return {"ecs:DescribeSnapshotGroups": -(-len(groups) // GROUP_IDS_PER_CALL)}

    def describe_batch(self, w: Ports, running: list[BackupItem]) -> dict[str, CloudProgress]:
        seen: dict[str, CloudProgress] = {}
        groups = w.ecs.describe_snapshot_groups(sorted({i.group_id for i in running if i.group_id}))
        failed = {gid: g for gid, g in groups.items() if g.failed}
        # a failed group does not say which disk failed; each member snapshot's own status does
        own = w.ecs.describe_snapshots([m.snapshot_id for g in failed.values() for m in g.snapshots]) \
            if failed else {}
        for gid, group in failed.items():
            seen.update(failed_group_outcomes(gid, {
                m.disk_id: (m.snapshot_id, own[m.snapshot_id].status if m.snapshot_id in own else "", m.progress)
                for m in group.snapshots if m.disk_id}))
        for item in running:
            found_group = groups.get(item.group_id or "")
            member = next((m for m in found_group.snapshots if m.disk_id == item.resource_id), None) \
                if found_group else None
            if found_group and member and item.group_id not in failed:
                seen[item.resource_id] = CloudProgress(snapshot_item_status(member.status or found_group.status),
                                                       member.progress, member.snapshot_id,
                                                       size_bytes=member.size_bytes,
                                                       encryption=snapshot_encryption(member))
        # a group's listing may leave out its snapshots' sizes: ask for those that just finished, in one batch
        unsized = {i.resource_id: seen[i.resource_id].artifact_id for i in running if i.resource_id in seen
                   and seen[i.resource_id].status is ItemStatus.SUCCEEDED and not seen[i.resource_id].size_bytes}
        if unsized:
            sized = w.ecs.describe_snapshots([sid for sid in unsized.values() if sid])
            for rid, sid in unsized.items():
                if sid in sized:
                    seen[rid] = seen[rid]._replace(size_bytes=sized[sid].size_bytes)
        return seen

    def delete(self, w: Ports, item: BackupItem, groups_done: set[str], backup_set: str | None = None) -> None:
        """The whole group, once for all its disks."""
        if item.group_id and item.group_id not in groups_done:
            w.ecs.delete_snapshot_group(item.group_id)
            groups_done.add(item.group_id)

    def check_gone(self, w: Ports, item: BackupItem) -> None:
        if item.group_id and item.group_id in w.ecs.describe_snapshot_groups([item.group_id]):
            raise still_listed("DeleteSnapshotGroup", item.group_id)
