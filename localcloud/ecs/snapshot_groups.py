"""ECS snapshot groups: CreateSnapshotGroup (one snapshot per disk of an instance, made by the snapshot worker),
DescribeSnapshotGroups and DeleteSnapshotGroup."""
from __future__ import annotations

from ..core.rpc import RpcRequest
from . import errors, render, rules
from .copies import SnapshotCopies
from .snapshots import SNAPSHOT_STATUSES, SNAPSHOTS_MAX_RESULTS_LO
from .state import DISK, ESSD_FAMILY, GROUP, INSTANCE, SNAPSHOT

MAX_GROUP_DISKS = 16


class SnapshotGroups(SnapshotCopies):
    """The snapshot group actions of `models.Ecs`."""

    def _render_group(self, doc: dict) -> dict:
        members = [m for m in (self.store.get(SNAPSHOT, sid) for sid in doc["SnapshotIds"]) if m is not None]
        return render.group(doc, members, self._snapshot_progress)

    def DescribeSnapshotGroups(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        ids = req.get_list("SnapshotGroupId")
        if len(ids) > 10:
            raise errors.error(errors.TOO_MANY_GROUP_IDS_CODE,
                               f"At most 10 SnapshotGroupId.N are allowed, got {len(ids)}.", 400)
        statuses = rules.repeated(req, "Status", 3)
        if any(s not in SNAPSHOT_STATUSES for s in statuses):
            raise errors.error("InvalidStatus.ValueNotSupported", f"The specified Status.N {statuses} is not "
                                                                  "supported.", 403)
        instance_id, name = req.get("InstanceId"), req.get("Name")
        wanted = rules.tag_filter(req)
        docs = self.store.find(GROUP, lambda d: (not ids or d["SnapshotGroupId"] in ids)
                               and (instance_id is None or d.get("InstanceId") == instance_id)
                               and (name is None or d.get("Name") == name)
                               and rules.tags_match(d["Tags"], wanted))
        rendered = [self._render_group(d) for d in docs]
        rendered = [g for g in rendered if not statuses or g["Status"] in statuses]
        size = req.get_int("MaxResults", 10, lo=SNAPSHOTS_MAX_RESULTS_LO, hi=100, clamp=True)
        chunk, token = rules.token_page(req, rendered, size)
        return {"NextToken": token, "SnapshotGroups": {"SnapshotGroup": chunk}}

    def CreateSnapshotGroup(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        instance_id = req.get("InstanceId")
        disk_ids = rules.repeated(req, "DiskId", 128)
        excluded = set(rules.repeated(req, "ExcludeDiskId", 128))
        name, description = req.get("Name"), req.get("Description")
        rules.check_name(name, "InvalidSnapshotName.Malformed", "snapshot group name")
        rules.check_description(description)
        tags = rules.user_tags(req)
        token = rules.client_token(req)
        if instance_id is None and not disk_ids:
            raise errors.error("MissingParameter", "Either InstanceId or DiskId.N is required.", 400)
        with self.store.tx():
            rid, previous = self._idempotent("CreateSnapshotGroup", token, req)
            if previous is not None:
                return previous
            if instance_id is not None:
                self._get(INSTANCE, "instance", instance_id)
                self.cloud.faults.check_reject(instance_id)
            if disk_ids:
                disks = [self._get(DISK, "disk", d) for d in dict.fromkeys(disk_ids)]
                if instance_id is not None:
                    for d in disks:
                        if d.get("InstanceId") != instance_id:
                            raise errors.invalid("DiskId.N",
                                                 f"The disk {d['DiskId']} is not attached to {instance_id}.")
            else:
                disks = self.store.find(DISK, lambda d: d.get("InstanceId") == instance_id)
            disks = [d for d in disks if d["DiskId"] not in excluded]
            if not disks:
                raise errors.invalid("DiskId.N", "No disk is left to snapshot.")
            if len(disks) > MAX_GROUP_DISKS:
                raise errors.error("InvalidParameter.DiskCount",
                                   f"A snapshot group covers at most {MAX_GROUP_DISKS} disks, got {len(disks)}.", 400)
            for d in disks:
                if d["Category"] not in ESSD_FAMILY:
                    raise errors.error("InvalidDiskCategory.NotSupported",
                                       f"The disk {d['DiskId']} is {d['Category']}; snapshot groups take ESSD-family "
                                       "disks only.", 403)
                self.cloud.faults.check_reject(d["DiskId"])
                self._check_snapshottable(d)
            gid = self.cloud.new_id("ssg")
            snaps = [self._new_snapshot(d, None, None, {}, None, group_id=gid) for d in disks]
            owners = {d.get("InstanceId") for d in disks}
            self.store.put(GROUP, gid, {"SnapshotGroupId": gid, "Name": name or "", "Description": description or "",
                                        "InstanceId": owners.pop() if len(owners) == 1 else "",
                                        "CreationTime": self.cloud.iso(), "Tags": tags,
                                        "SnapshotIds": [s["SnapshotId"] for s in snaps]})
            result = {"SnapshotGroupId": gid}
            self._remember(rid, req, result)
        for s in snaps:
            self.cloud.submit(self._snapshot_job, s["SnapshotId"])
        return result

    def DeleteSnapshotGroup(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        gid = req.require("SnapshotGroupId")
        group = self._get(GROUP, "group", gid)
        self.cloud.faults.check_reject(gid)
        self._refuse_locked(group["SnapshotIds"])      # no member goes while one is locked
        items = []
        for sid in group["SnapshotIds"]:
            if self.store.get(SNAPSHOT, sid) is not None:
                self._drop_snapshot(sid)
            items.append({"OperationStatus": "Success", "ErrorCode": "", "ErrorMsg": "",
                          "RelatedItemSet": {"RelatedItem": [{"Name": "SnapshotId", "Value": sid}]}})
        self.store.delete(GROUP, gid)
        self._collect_later()
        return {"OperationProgressSet": {"OperationProgress": items}}
