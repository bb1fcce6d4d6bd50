"""The compute port (ECS) in memory. Asynchronous work moves on when the test says so (`finish`) or by itself after
`steps` describe calls; `refuse(action, code)` makes the next call of an action fail with a cloud error."""
from __future__ import annotations

import itertools
import re
import threading
import time
from collections import Counter
from typing import Iterable

from nestbackup.adapters.ecs import (  # the same refusal tables and lock codes as the real port
    LOCK_SHORTENED_CODE,
    SNAPSHOT_LOCKED_CODE,
    reset_must_wait,
    snapshot_must_wait,
)
from nestbackup.errors import CloudError
from nestbackup.ports.compute import CommandRun, Disk, Instance, Refused, Snapshot, SnapshotGroup

GIB = 2 ** 30
# ECS snapshot and group names: 2-128 characters starting with a letter, of letters, digits and ":_.-", not starting
# with "auto" or http(s):// (CreateSnapshot / CreateSnapshotGroup references; the local cloud checks the same).
NAME = re.compile(r"^(?!auto|https?://)[A-Za-z][A-Za-z0-9:_.-]{1,127}\Z")


def _check_name(action: str, name: str, description: str) -> None:
    if not NAME.match(name):
        raise CloudError("InvalidSnapshotName.Malformed", f"The specified snapshot name {name!r} is malformed",
                         action=action, http_status=400)
    if description and (not 2 <= len(description) <= 256 or description.startswith(("http://", "https://"))):
        raise CloudError("InvalidDescription.Malformed", "The specified description is malformed", action=action,
                         http_status=404)


def _plays(script: str) -> tuple[str, int | None, str]:
    """How a script ends when the test set nothing: its `echo word` lines are its output, a last `exit N` its code
    (the contract suite's scripts are of this form, so both sides answer alike)."""
    output = "".join(m.group(1) + "\n" for m in re.finditer(r"\becho ([^;\s]+)", script))
    last = re.search(r"\bexit (\d+)\s*$", script)
    code = int(last.group(1)) if last else 0
    return ("Success" if code == 0 else "Failed"), code, output


class Refusals:
    """One-shot (or repeated) cloud errors per action, shared by the in-memory ports."""

    def __init__(self) -> None:
        self._next: dict[str, list[CloudError]] = {}
        self.calls: Counter[str] = Counter()

    def refuse(self, action: str, code: str, times: int = 1, http_status: int = 400) -> None:
        self._next.setdefault(action, []).extend(
            CloudError(code, f"{action} refused (injected)", action=action, http_status=http_status)
            for _ in range(times))

    def call(self, action: str) -> None:
        self.calls[action] += 1
        pending = self._next.get(action)
        if pending:
            raise pending.pop(0)


class MemoryCompute:
    def __init__(self, steps: int = 1) -> None:
        self.steps = steps                       # describes of a piece of work before it is done (0: never by itself)
        self.refusals = Refusals()
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.instances: dict[str, dict] = {}
        self.disks: dict[str, dict] = {}
        self.snapshots: dict[str, dict] = {}
        self.groups: dict[str, dict] = {}
        self.locks: dict[str, float] = {}       # snapshot id -> when its compliance lock expires (epoch)
        self.tokens: dict[str, tuple[tuple, str]] = {}     # ClientToken -> (the call's parameters, its result)
        self.failing: set[str] = set()          # disks whose snapshots end failed (a region: copies into it)
        self.refuse_stop: set[str] = set()      # instances that accept a stop and never reach Stopped
        self.reset_undone: set[str] = set()     # disks whose reset is accepted and ends with the data untouched
        # Cloud Assistant: how a script ends on an instance (status, exit code, output; default Success, 0, ""), the
        # instances whose runs hang until their timeout, every run in order (instance, script) and every call's
        # order with the snapshot creates (what the hook tests check)
        self.command_outcomes: dict[str, tuple[str, int | None, str]] = {}
        self.command_hangs: set[str | tuple[str, str]] = set()     # an instance, or (instance, script)
        self.ran: list[tuple[str, str]] = []
        self.events: list[tuple[str, str]] = []
        self.invocations: dict[str, dict] = {}

    # -- seeding (the test's side)
    def add_instance(self, tags: dict[str, str]) -> str:
        iid = f"i-{next(self._ids):06d}"
        self.instances[iid] = {"status": "Running", "tags": dict(tags), "seen": 0}
        return iid

    def add_disk(self, instance_id: str | None, tags: dict[str, str], size_gib: int = 20,
                 category: str = "cloud_essd", kms_key_id: str | None = None) -> str:
        did = f"d-{next(self._ids):06d}"
        self.disks[did] = {"instance_id": instance_id, "status": "In_use" if instance_id else "Available",
                           "category": category, "size_gib": size_gib, "tags": dict(tags), "seen": 0,
                           "reset_to": None, "kms_key_id": kms_key_id}
        return did

    def finish(self, *ids: str) -> None:
        """End the work on these snapshots (or every one when none are named) as the cloud would."""
        with self._lock:
            for sid, snap in self.snapshots.items():
                if (not ids or sid in ids) and snap["status"] == "progressing":
                    failing = snap["disk"] in self.failing or snap.get("region") in self.failing
                    snap["status"] = "failed" if failing else "accomplished"
                    snap["progress"] = snap["progress"] if snap["status"] == "failed" else 100

    # -- the port
    snapshot_must_wait = staticmethod(snapshot_must_wait)
    reset_must_wait = staticmethod(reset_must_wait)

    def disks_tagged(self, key: str, value: str) -> list[Disk]:
        return [self._disk(d) for d, doc in self.disks.items() if doc["tags"].get(key) == value]

    def describe_disks(self, disk_ids: list[str]) -> dict[str, Disk]:
        self.refusals.call("DescribeDisks")
        with self._lock:
            for did in disk_ids:
                doc = self.disks.get(did)
                if doc and doc["status"] in ("ReIniting", "Creating"):
                    doc["seen"] += 1
                    if doc["seen"] >= max(1, self.steps):
                        doc["status"], doc["seen"] = "In_use" if doc["instance_id"] else "Available", 0
            return {d: self._disk(d) for d in disk_ids if d in self.disks}

    def disks_of_instance(self, instance_id: str) -> list[Disk]:
        return [self._disk(d) for d, doc in self.disks.items() if doc["instance_id"] == instance_id]

    def instances_tagged(self, key: str, value: str) -> list[Instance]:
        return [Instance(i, doc["status"]) for i, doc in self.instances.items() if doc["tags"].get(key) == value]

    def describe_instances(self, instance_ids: list[str]) -> dict[str, Instance]:
        self.refusals.call("DescribeInstances")
        with self._lock:
            for iid in instance_ids:
                doc = self.instances.get(iid)
                if doc and doc["status"] in ("Stopping", "Starting") and iid not in self.refuse_stop:
                    doc["seen"] += 1
                    if doc["seen"] >= max(1, self.steps):
                        doc["status"], doc["seen"] = ("Stopped" if doc["status"] == "Stopping" else "Running"), 0
            return {i: Instance(i, self.instances[i]["status"]) for i in instance_ids if i in self.instances}

    def create_snapshot(self, disk_id: str, *, name: str, description: str, client_token: str,
                        tags: dict[str, str] | None = None) -> str:
        self.refusals.call("CreateSnapshot")
        _check_name("CreateSnapshot", name, description)
        with self._lock:
            params = ("CreateSnapshot", disk_id, name, description, tuple(sorted((tags or {}).items())))
            if client_token in self.tokens:
                return self._same_call(client_token, params, "CreateSnapshot")
            if disk_id not in self.disks:
                raise CloudError("InvalidDiskId.NotFound", f"disk {disk_id} does not exist", action="CreateSnapshot",
                                 http_status=404)
            sid = self._new_snapshot(disk_id, tags, None)
            self.events.append(("CreateSnapshot", disk_id))
            self.tokens[client_token] = (params, sid)
            return sid

    def create_snapshot_group(self, instance_id: str, disk_ids: list[str], *, name: str, description: str,
                              client_token: str, tags: dict[str, str] | None = None) -> str:
        self.refusals.call("CreateSnapshotGroup")
        _check_name("CreateSnapshotGroup", name, description)
        with self._lock:
            params = ("CreateSnapshotGroup", instance_id, tuple(disk_ids), name, description,
                      tuple(sorted((tags or {}).items())))
            if client_token in self.tokens:
                return self._same_call(client_token, params, "CreateSnapshotGroup")
            gid = f"ssg-{next(self._ids):06d}"
            self.events.append(("CreateSnapshotGroup", instance_id))
            members = [self._new_snapshot(d, tags, gid) for d in disk_ids]
            self.groups[gid] = {"members": members, "tags": dict(tags or {}), "created": time.time()}
            self.tokens[client_token] = (params, gid)
            return gid

    def describe_snapshots(self, snapshot_ids: Iterable[str]) -> dict[str, Snapshot]:
        self.refusals.call("DescribeSnapshots")
        ids = list(snapshot_ids)
        with self._lock:
            ids = [s for s in ids if s in self.snapshots and not self.snapshots[s].get("region")]
            self._advance(ids)
            return {s: self._snapshot(s) for s in ids}

    def describe_snapshot_groups(self, group_ids: Iterable[str]) -> dict[str, SnapshotGroup]:
        self.refusals.call("DescribeSnapshotGroups")
        out = {}
        with self._lock:
            for gid in group_ids:
                group = self.groups.get(gid)
                if group is None:
                    continue
                self._advance(group["members"])
                members = tuple(self._snapshot(s) for s in group["members"] if s in self.snapshots)
                statuses = {m.status for m in members}
                status = "failed" if "failed" in statuses else "progressing" if "progressing" in statuses \
                    else "accomplished"
                out[gid] = SnapshotGroup(gid, status, members, group["created"])
        return out

    def snapshots_tagged(self, key: str, value: str | None = None) -> list[tuple[str, str]]:
        self.refusals.call("ListTagResources")
        return [(s, doc["tags"][key]) for s, doc in list(self.snapshots.items())
                if key in doc["tags"] and value in (None, doc["tags"][key]) and not doc.get("region")]

    def groups_tagged(self, key: str, value: str | None = None) -> list[tuple[str, str]]:
        self.refusals.call("DescribeSnapshotGroups")
        return [(g, doc["tags"][key]) for g, doc in list(self.groups.items())
                if key in doc["tags"] and value in (None, doc["tags"][key])]

    def delete_snapshot(self, snapshot_id: str) -> None:
        self.refusals.call("DeleteSnapshot")
        with self._lock:                        # the reference: a snapshot that does not exist is ignored
            if self.snapshots.get(snapshot_id, {}).get("region"):
                return                          # another region's: not this region's to delete
            self._refuse_locked("DeleteSnapshot", [snapshot_id])
            self.snapshots.pop(snapshot_id, None)

    def copy_snapshot(self, snapshot_id: str, region: str, *, name: str, description: str, client_token: str,
                      tags: dict[str, str] | None = None, kms_key_id: str | None = None) -> str:
        self.refusals.call("CopySnapshot")
        _check_name("CopySnapshot", name, description)
        with self._lock:
            params = ("CopySnapshot", snapshot_id, region, name, description, tuple(sorted((tags or {}).items())),
                      kms_key_id)
            if client_token in self.tokens:
                return self._same_call(client_token, params, "CopySnapshot")
            source = self.snapshots.get(snapshot_id)
            if source is None or source.get("region"):
                raise CloudError("InvalidSnapshotId.NotFound", f"snapshot {snapshot_id} does not exist",
                                 action="CopySnapshot", http_status=404)
            if source["status"] != "accomplished":
                raise CloudError("IncorrectSnapshotStatus", f"snapshot {snapshot_id} is not accomplished",
                                 action="CopySnapshot", http_status=403)
            if source.get("kms_key_id") and not kms_key_id:
                raise CloudError("MissingParameter", "an encrypted snapshot's copy needs KMSKeyId",
                                 action="CopySnapshot", http_status=400)
            sid = self._new_snapshot(source["disk"], tags, None)
            self.snapshots[sid].update(region=region, kms_key_id=kms_key_id if source.get("kms_key_id") else None)
            self.tokens[client_token] = (params, sid)
            return sid

    def describe_snapshots_in(self, region: str, snapshot_ids: Iterable[str]) -> dict[str, Snapshot]:
        self.refusals.call("DescribeSnapshots")
        ids = [s for s in snapshot_ids if s in self.snapshots and self.snapshots[s].get("region") == region]
        with self._lock:
            self._advance(ids)
            return {s: self._snapshot(s) for s in ids}

    def delete_snapshot_in(self, region: str, snapshot_id: str) -> None:
        self.refusals.call("DeleteSnapshot")
        with self._lock:
            if self.snapshots.get(snapshot_id, {}).get("region") == region:
                self._refuse_locked("DeleteSnapshot", [snapshot_id])
                self.snapshots.pop(snapshot_id, None)

    def snapshots_tagged_in(self, region: str, key: str) -> list[tuple[str, str]]:
        self.refusals.call("ListTagResources")
        return [(s, doc["tags"][key]) for s, doc in list(self.snapshots.items())
                if key in doc["tags"] and doc.get("region") == region]

    def lock_snapshot_in(self, region: str, snapshot_id: str, days: int) -> None:
        self._lock_snapshot(region, snapshot_id, days)

    def lock_snapshot(self, snapshot_id: str, days: int) -> None:
        self._lock_snapshot(None, snapshot_id, days)

    def _lock_snapshot(self, region: str | None, snapshot_id: str, days: int) -> None:
        self.refusals.call("LockSnapshot")
        with self._lock:
            if snapshot_id not in self.snapshots or self.snapshots[snapshot_id].get("region") != region:
                raise CloudError("InvalidSnapshotId.NotFound", f"snapshot {snapshot_id} does not exist",
                                 action="LockSnapshot", http_status=404)
            if not 1 <= days <= 36500:
                raise CloudError("InvalidParameter", "LockDuration must be 1 to 36500", action="LockSnapshot",
                                 http_status=400)
            until = time.time() + days * 86400
            if until < self.locks.get(snapshot_id, 0):
                raise CloudError(LOCK_SHORTENED_CODE, "a compliance lock can only be extended", action="LockSnapshot",
                                 http_status=400)
            self.locks[snapshot_id] = until

    def _refuse_locked(self, action: str, snapshot_ids: Iterable[str]) -> None:
        locked = [sid for sid in snapshot_ids if self.locks.get(sid, 0) > time.time()]
        if locked:
            raise CloudError(SNAPSHOT_LOCKED_CODE, f"snapshot {locked[0]} is locked in compliance mode",
                             action=action, http_status=403)

    def delete_snapshot_group(self, group_id: str) -> None:
        self.refusals.call("DeleteSnapshotGroup")
        with self._lock:
            if group_id in self.groups:
                self._refuse_locked("DeleteSnapshotGroup", self.groups[group_id]["members"])
            group = self.groups.pop(group_id, None)
            if group is None:
                raise CloudError("InvalidSnapshotGroupId.NotFound", f"group {group_id} does not exist",
                                 action="DeleteSnapshotGroup", http_status=404)
            for sid in group["members"]:
                self.snapshots.pop(sid, None)

    def stop_instances(self, instance_ids: list[str]) -> list[Refused]:
        self.refusals.call("StopInstances")
        return self._batch(instance_ids, "Running", "Stopping")

    def start_instances(self, instance_ids: list[str]) -> list[Refused]:
        self.refusals.call("StartInstances")
        return self._batch(instance_ids, "Stopped", "Starting")

    def _batch(self, instance_ids: list[str], want: str, to: str) -> list[Refused]:
        """BatchOptimization=SuccessFirst: each instance in the wrong state is reported, the others move on."""
        refused = []
        with self._lock:
            for iid in instance_ids:
                doc = self.instances.get(iid)
                if doc is None:
                    refused.append(Refused(iid, "InvalidInstanceId.NotFound", f"instance {iid} does not exist"))
                elif doc["status"] != want:
                    refused.append(Refused(iid, "IncorrectInstanceStatus", f"instance {iid} is {doc['status']}"))
                else:
                    doc["status"] = to
        return refused

    def reset_disk(self, disk_id: str, snapshot_id: str) -> None:
        self.refusals.call("ResetDisk")
        with self._lock:
            disk = self.disks.get(disk_id)
            if disk is None:
                raise CloudError("InvalidDiskId.NotFound", f"disk {disk_id} does not exist", action="ResetDisk",
                                 http_status=404)
            instance = self.instances.get(disk["instance_id"] or "")
            if instance and instance["status"] != "Stopped":
                raise CloudError("IncorrectInstanceStatus", "the instance must be stopped", action="ResetDisk",
                                 http_status=403)
            if snapshot_id not in self.snapshots:
                raise CloudError("InvalidSnapshotId.NotFound", f"snapshot {snapshot_id} does not exist",
                                 action="ResetDisk", http_status=404)
            disk.update(status="ReIniting", reset_to=None if disk_id in self.reset_undone else snapshot_id, seen=0)

    def create_disk_from_snapshot(self, snapshot_id: str, zone_id: str, category: str, *, name: str,
                                  client_token: str, tags: dict[str, str] | None = None) -> str:
        self.refusals.call("CreateDisk")
        with self._lock:
            params = ("CreateDisk", snapshot_id, zone_id, category, name, tuple(sorted((tags or {}).items())))
            if client_token in self.tokens:
                return self._same_call(client_token, params, "CreateDisk")
            snap = self.snapshots.get(snapshot_id)
            if snap is None:
                raise CloudError("InvalidSnapshotId.NotFound", f"snapshot {snapshot_id} does not exist",
                                 action="CreateDisk", http_status=404)
            if snap["status"] != "accomplished":
                raise CloudError("InvalidSnapshot.NotReady", f"snapshot {snapshot_id} is not accomplished",
                                 action="CreateDisk", http_status=403)
            size = self.disks[snap["disk"]]["size_gib"] if snap["disk"] in self.disks else 20
            did = f"d-{next(self._ids):06d}"
            self.disks[did] = {"instance_id": None, "status": "Creating", "category": category, "size_gib": size,
                               "tags": dict(tags or {}), "seen": 0, "reset_to": None, "from": snapshot_id}
            self.tokens[client_token] = (params, did)
            return did

    def delete_disk(self, disk_id: str) -> None:
        self.refusals.call("DeleteDisk")
        with self._lock:
            disk = self.disks.get(disk_id)
            if disk is None:
                return                  # documented: an id that does not exist is ignored
            if disk["instance_id"] or disk["status"] != "Available":
                raise CloudError("IncorrectDiskStatus", f"disk {disk_id} is {disk['status']}", action="DeleteDisk",
                                 http_status=403)
            del self.disks[disk_id]

    def run_command(self, instance_ids: list[str], script: str, *, name: str, timeout_seconds: int,
                    client_token: str) -> str:
        self.refusals.call("RunCommand")
        with self._lock:
            params = ("RunCommand", tuple(instance_ids), script, name, timeout_seconds)
            if client_token in self.tokens:
                return self._same_call(client_token, params, "RunCommand")
            for iid in instance_ids:
                if iid not in self.instances:
                    raise CloudError("InvalidInstanceId.NotFound", f"instance {iid} does not exist",
                                     action="RunCommand", http_status=404)
            invoke_id = f"t-{next(self._ids):06d}"
            now = time.time()
            runs = {}
            for iid in instance_ids:
                self.events.append(("RunCommand", f"{iid}:{script}"))
                if self.instances[iid]["status"] != "Running":
                    runs[iid] = ("Invalid", None, "", "InstanceNotRunning")
                    continue
                if iid in self.command_hangs or (iid, script) in self.command_hangs:
                    runs[iid] = ("Running", None, "", "")
                    continue
                self.ran.append((iid, script))
                status, code, output = self.command_outcomes.get(iid) or _plays(script)
                runs[iid] = (status, code, output, "" if status == "Success" else "ExitCodeNonzero")
            self.invocations[invoke_id] = {"runs": runs, "started": now, "timeout": timeout_seconds,
                                           "script": script}
            self.tokens[client_token] = (params, invoke_id)
            return invoke_id

    def invocation_results(self, invoke_id: str) -> dict[str, CommandRun]:
        self.refusals.call("DescribeInvocationResults")
        with self._lock:
            inv = self.invocations.get(invoke_id)
            if inv is None:
                return {}
            out = {}
            for iid, (status, code, output, error) in inv["runs"].items():
                if status == "Running" and time.time() >= inv["started"] + inv["timeout"]:
                    status, error = "Timeout", "ExecutionTimeout"       # the agent kills it at its Timeout
                    inv["runs"][iid] = (status, code, output, error)
                    self.ran.append((iid, inv["script"]))
                out[iid] = CommandRun(iid, status, code, output, "2026-01-01T00:00:00Z",
                                      None if status == "Running" else "2026-01-01T00:00:01Z", error)
            return out

    # -- plumbing
    def _same_call(self, token: str, params: tuple, action: str) -> str:
        """A ClientToken used again: the first call's result, if the parameters are the same."""
        first, result = self.tokens[token]
        if first != params:
            raise CloudError("IdempotentParameterMismatch", "The ClientToken was used before with different "
                             "parameters.", action=action, http_status=400)
        return result

    def _new_snapshot(self, disk_id: str, tags: dict[str, str] | None, group: str | None) -> str:
        sid = f"s-{next(self._ids):06d}"
        self.snapshots[sid] = {"disk": disk_id, "status": "progressing", "progress": 0, "tags": dict(tags or {}),
                               "seen": 0, "group": group, "created": time.time(), "region": None,
                               "kms_key_id": self.disks[disk_id].get("kms_key_id") if disk_id in self.disks else None}
        return sid

    def _advance(self, ids: Iterable[str]) -> None:
        for sid in ids:
            snap = self.snapshots.get(sid)
            if snap is None or snap["status"] != "progressing" or self.steps <= 0:
                continue
            snap["seen"] += 1
            snap["progress"] = min(99, int(100 * snap["seen"] / (self.steps + 1)))
            if snap["seen"] >= self.steps:
                self.finish(sid)

    def _snapshot(self, sid: str) -> Snapshot:
        doc = self.snapshots[sid]
        size = self.disks[doc["disk"]]["size_gib"] * GIB if doc["disk"] in self.disks else None
        return Snapshot(sid, doc["disk"], doc["status"], doc["progress"], doc["status"] == "accomplished",
                        size_bytes=size if doc["status"] == "accomplished" else None, created_epoch=doc["created"],
                        encrypted=bool(doc.get("kms_key_id")), kms_key_id=doc.get("kms_key_id"))

    def _disk(self, did: str) -> Disk:
        doc = self.disks[did]
        return Disk(did, doc["instance_id"], doc["status"], doc["category"], doc["size_gib"], "data",
                    zone_id="memory-a", encrypted=bool(doc.get("kms_key_id")), kms_key_id=doc.get("kms_key_id"))
