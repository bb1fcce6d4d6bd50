"""ECS instances: seeding, DescribeInstances/DescribeInstanceStatus, Stop/Start(Instances) and the worker that
ends a Stopping/Starting transition."""
from __future__ import annotations

import time

from ..core.errors import ServiceError
from ..core.rpc import RpcRequest
from . import errors, render, rules
from .state import DISK, INSTANCE, EcsState


class Instances(EcsState):
    """The instance actions of `models.Ecs`."""

    def create_instance(self, tags: dict[str, str]) -> dict:
        iid = self.cloud.new_id("i")
        doc = {"InstanceId": iid, "InstanceName": f"localcloud-{iid[2:10]}", "Status": "Running",
               "StoppedMode": "Not-applicable", "RegionId": self.region, "ZoneId": self.zone,
               "InstanceType": "ecs.g7.large", "Cpu": 2, "Memory": 8192, "OSType": "linux",
               "ImageId": "aliyun_3_x64_20G_alibase_20240101.vhd", "InstanceChargeType": "PostPaid",
               "CreationTime": self.cloud.iso(minutes=True), "StartTime": self.cloud.iso(minutes=True),
               "Tags": dict(tags)}
        self.store.put(INSTANCE, iid, doc)
        return doc

    def DescribeInstances(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        ids = rules.id_list(req, "InstanceIds", 100, errors.TOO_MANY_INSTANCE_IDS)
        wanted = rules.tag_filter(req)
        status = req.get("Status")
        if status is not None and status not in ("Pending", "Running", "Starting", "Stopping", "Stopped"):
            raise errors.error("InvalidStatus.NotFound", "The specified Status is not found", 404)
        docs = self.store.find(INSTANCE, lambda d: (ids is None or d["InstanceId"] in ids)
                               and rules.tags_match(d["Tags"], wanted) and (status is None or d["Status"] == status))
        docs = rules.cap_tag_query(docs, wanted)
        chunk, paging = rules.page(req, docs, max_lo=10, max_hi=100, max_default=10, size_hi=100)
        return {**paging, "Instances": {"Instance": [render.instance(d) for d in chunk]}}

    def DescribeInstanceStatus(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        ids = rules.repeated(req, "InstanceId", 100)
        docs = self.store.find(INSTANCE, lambda d: not ids or d["InstanceId"] in ids)
        number = req.get_int("PageNumber", 1, lo=1, hi=1_000_000)
        size = req.get_int("PageSize", 10, lo=1, hi=50)
        chunk = docs[(number - 1) * size:number * size]
        return {"TotalCount": len(docs), "PageNumber": number, "PageSize": size,
                "InstanceStatuses": {"InstanceStatus": [{"InstanceId": d["InstanceId"], "Status": d["Status"]}
                                                        for d in chunk]}}

    def _transition(self, iid: str, want: str, to: str) -> dict:
        """Validate and apply the first half of a stop/start; returns the InstanceResponse row."""
        inst = self._get(INSTANCE, "instance", iid)
        self.cloud.faults.check_reject(iid)
        if inst["Status"] != want:
            raise errors.error("IncorrectInstanceStatus", f"The instance {iid} is {inst['Status']}; "
                                                          f"this needs it {want}.", 403)
        if to == "Starting":
            busy = self.store.find(DISK, lambda d: d.get("InstanceId") == iid and d["Status"] == "ReIniting")
            if busy:
                raise errors.error("IncorrectDiskStatus", f"The disk {busy[0]['DiskId']} of {iid} is being "
                                                          "re-initialised.", 403)
        return {"InstanceId": iid, "Code": "200", "Message": "success", "PreviousStatus": inst["Status"],
                "CurrentStatus": to}

    def _apply(self, iid: str, to: str, stopped_mode: str | None) -> None:
        def change(d: dict) -> None:
            d["Status"] = to
            if to == "Stopping":
                d["StoppedMode"] = stopped_mode
        self.store.update(INSTANCE, iid, change)
        self.cloud.submit(self._instance_job, iid, to, time.monotonic())

    def _instance_job(self, iid: str, transitional: str, started: float) -> None:
        self.cloud.pace(started)
        if self.cloud.wait_while_stuck(iid) or self.cloud.stopping:
            return
        faults = self.cloud.faults
        if transitional == "Stopping":
            final = "Running" if faults.refuses_stop(iid) or faults.fails(iid) else "Stopped"
        else:
            final = "Stopped" if faults.fails(iid) else "Running"

        def change(d: dict) -> None:
            if d["Status"] == transitional:
                d["Status"] = final
                if final == "Running":
                    d["StoppedMode"] = "Not-applicable"
                    if transitional == "Starting":
                        d["StartTime"] = self.cloud.iso(minutes=True)
        self.store.update(INSTANCE, iid, change)

    @staticmethod
    def _stopped_mode(req: RpcRequest) -> str:
        mode = req.get("StoppedMode", "KeepCharging")
        if mode not in ("KeepCharging", "StopCharging"):
            raise errors.invalid("StoppedMode", "Use KeepCharging or StopCharging.")
        return mode

    def StopInstance(self, req: RpcRequest) -> dict:
        iid = req.require("InstanceId")
        mode = self._stopped_mode(req)
        req.get_bool("ForceStop")
        with self.store.tx():
            self._transition(iid, "Running", "Stopping")
            rules.dry_run(req)
            self._apply(iid, "Stopping", mode)
        return {}

    def StartInstance(self, req: RpcRequest) -> dict:
        iid = req.require("InstanceId")
        with self.store.tx():
            self._transition(iid, "Stopped", "Starting")
            rules.dry_run(req)
            self._apply(iid, "Starting", None)
        return {}

    def _batch(self, req: RpcRequest, want: str, to: str, mode: str | None) -> dict:
        rules.require_region(req, self.region)
        ids = rules.repeated(req, "InstanceId", 100)
        if not ids:
            raise errors.missing("InstanceId.N")
        batch = req.get("BatchOptimization", "AllTogether")
        if batch not in ("AllTogether", "SuccessFirst"):
            raise errors.invalid("BatchOptimization", "Use AllTogether or SuccessFirst.")
        rows: list[dict] = []
        with self.store.tx():
            for iid in dict.fromkeys(ids):
                try:
                    rows.append(self._transition(iid, want, to))
                except ServiceError as err:
                    if batch == "AllTogether":
                        raise
                    inst = self.store.get(INSTANCE, iid)
                    status = inst["Status"] if inst else ""
                    rows.append({"InstanceId": iid, "Code": err.code, "Message": err.message,
                                 "PreviousStatus": status, "CurrentStatus": status})
            rules.dry_run(req, "DRYRUN.SUCCESS")
            for row in rows:
                if row["Code"] == "200":
                    self._apply(row["InstanceId"], to, mode)
        return {"InstanceResponses": {"InstanceResponse": rows}}

    def StopInstances(self, req: RpcRequest) -> dict:
        mode = self._stopped_mode(req)
        req.get_bool("ForceStop")
        return self._batch(req, "Running", "Stopping", mode)

    def StartInstances(self, req: RpcRequest) -> dict:
        return self._batch(req, "Stopped", "Starting", None)

    def _resume_instances(self) -> None:
        """Settle what a killed server left Stopping or Starting."""
        for inst in self.store.find(INSTANCE, lambda d: d["Status"] in ("Stopping", "Starting")):
            final = "Stopped" if inst["Status"] == "Stopping" else "Running"
            self.store.update(INSTANCE, inst["InstanceId"], lambda d, f=final: d.update(Status=f))
