"""ECS Cloud Assistant: RunCommand (create and run a shell script on instances at once) and
DescribeInvocationResults, run for real.

Each instance has its own sandbox directory (`<state>/ecs/assistant/<instance id>/`, its working directory), holding
`disks/<disk id>`: links to the image files of the disks attached to it, so a command can write what its
application would (a pre hook's marker before a snapshot, a post hook's after). A command is `/bin/sh -c <content>`
in its own process group with a scrubbed environment (PATH, HOME = the sandbox, LANG; nothing of the cloud's own),
killed with its group at its `Timeout`. Output is stdout and stderr together, its last OUTPUT_KEEP_BYTES kept.

Per instance, InvocationStatus goes Running -> Success (exit 0) | Failed (ErrorCode ExitCodeNonzero) | Timeout
(ErrorCode ExecutionTimeout); an instance that is not Running gets Invalid (ErrorCode InstanceNotRunning) and runs
nothing. Faults: `reject` on an instance refuses RunCommand; `fail` on an instance ends its run Failed without
running it (ErrorCode ClientNotResponse); `stuck` holds it Running until released or timed out. A killed server
ends what it left Running as Failed (ErrorCode ClientRestarted) on `resume`: the process died with it.
"""
from __future__ import annotations

import base64
import os
import signal
import subprocess
import threading
import time

from ..core.rpc import RpcRequest
from . import errors, rules
from .snapshots import Snapshots
from .state import DISK, INSTANCE

INVOCATION = "ecs.invocation"
MAX_INSTANCES = 100             # RunCommand InstanceId.N: up to 100 instances
TIMEOUT_DEFAULT, TIMEOUT_MAX = 60, 86400
OUTPUT_KEEP_BYTES = 24 * 1024   # UNCONFIRMED: how much output Cloud Assistant keeps (24 KB, its console says)
MAX_CONTENT_BYTES = 18 * 1024   # RunCommand: CommandContent at most 18 KB once Base64-encoded
FINAL = ("Success", "Failed", "Timeout", "Invalid", "Error")


class Assistant(Snapshots):
    """The Cloud Assistant actions of `models.Ecs`."""

    def RunCommand(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        kind = req.require("Type")
        if kind != "RunShellScript":
            raise errors.invalid("Type", f"The local cloud runs RunShellScript commands only, not {kind}.")
        content = req.require("CommandContent")
        if (req.get("ContentEncoding") or "PlainText").lower() == "base64":
            try:
                content = base64.b64decode(content, validate=True).decode()
            except ValueError:
                raise errors.invalid("CommandContent", "CommandContent is not valid Base64.") from None
        if len(base64.b64encode(content.encode())) > MAX_CONTENT_BYTES:
            raise errors.invalid("CommandContent", f"CommandContent exceeds {MAX_CONTENT_BYTES} bytes in Base64.")
        instance_ids = list(dict.fromkeys(rules.repeated(req, "InstanceId", MAX_INSTANCES)))
        if not instance_ids:
            raise errors.error("MissingParameter", "InstanceId.N is required.", 400)
        timeout = req.get_int("Timeout", TIMEOUT_DEFAULT, lo=10, hi=TIMEOUT_MAX)
        token = rules.client_token(req)
        with self.store.tx():
            rid, previous = self._idempotent("RunCommand", token, req)
            if previous is not None:
                return previous
            instances = [self._get(INSTANCE, "instance", iid) for iid in instance_ids]
            for iid in instance_ids:
                self.cloud.faults.check_reject(iid)
            invoke_id = self.cloud.new_id("t")
            now = self.cloud.iso()
            results = {}
            for inst in instances:
                running = inst["Status"] == "Running"
                results[inst["InstanceId"]] = {
                    "InstanceId": inst["InstanceId"], "InvocationStatus": "Running" if running else "Invalid",
                    "ExitCode": None, "Output": "", "StartTime": now if running else None,
                    "FinishedTime": None if running else now, "ErrorCode": "" if running else "InstanceNotRunning",
                    "ErrorInfo": "" if running else f"the instance is {inst['Status']}"}
            self.store.put(INVOCATION, invoke_id, {"InvokeId": invoke_id, "CommandContent": content,
                                                   "Timeout": timeout, "CreationTime": now, "Results": results})
            result = {"InvokeId": invoke_id, "CommandId": self.cloud.new_id("c")}
            self._remember(rid, req, result)
        for iid, row in results.items():
            if row["InvocationStatus"] == "Running":
                threading.Thread(target=self._run_command, args=(invoke_id, iid, content, timeout),
                                 name=f"assistant-{invoke_id}-{iid}", daemon=True).start()
        return result

    def DescribeInvocationResults(self, req: RpcRequest) -> dict:
        rules.require_region(req, self.region)
        invoke_id, instance_id = req.get("InvokeId"), req.get("InstanceId")
        encoding = (req.get("ContentEncoding") or "Base64").lower()
        docs = [d for d in ([self.store.get(INVOCATION, invoke_id)] if invoke_id else self.store.find(
            INVOCATION, lambda d: True)) if d is not None]
        rows = [dict(r, InvokeId=d["InvokeId"]) for d in docs for r in d["Results"].values()
                if instance_id in (None, r["InstanceId"])]
        for row in rows:
            row["InvokeRecordStatus"] = "Running" if row["InvocationStatus"] == "Running" else "Finished"
            if encoding == "base64":
                row["Output"] = base64.b64encode(row["Output"].encode()).decode()
        size = req.get_int("MaxResults", 10, lo=1, hi=50, clamp=True)
        chunk, token = rules.token_page(req, rows, size)
        return {"Invocation": {"InvocationResults": {"InvocationResult": chunk}, "NextToken": token,
                               "TotalCount": len(rows)}}

    # -- the run itself
    def _sandbox(self, instance_id: str):
        box = self.assistant_dir / instance_id
        links = box / "disks"
        links.mkdir(parents=True, exist_ok=True)
        for old in links.iterdir():
            old.unlink()
        for disk in self.store.find(DISK, lambda d: d.get("InstanceId") == instance_id):
            (links / disk["DiskId"]).symlink_to(disk["Path"])
        return box

    def _run_command(self, invoke_id: str, instance_id: str, content: str, timeout: int) -> None:
        ids = (invoke_id, instance_id)
        if self.cloud.faults.fails(*ids):
            self._end_run(invoke_id, instance_id, "Failed", None, "", "ClientNotResponse",
                          "the Cloud Assistant agent did not respond (injected fault)")
            return
        deadline = time.monotonic() + timeout
        while self.cloud.faults.is_stuck(*ids) and time.monotonic() < deadline:
            time.sleep(0.05)
        box = self._sandbox(instance_id)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(box), "LANG": "C.UTF-8"}
        proc = subprocess.Popen(["/bin/sh", "-c", content], cwd=box, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            self._end_run(invoke_id, instance_id, "Timeout", None, _tail(out), "ExecutionTimeout",
                          f"the command ran past its Timeout of {timeout} s and was killed")
            return
        if proc.returncode == 0:
            self._end_run(invoke_id, instance_id, "Success", 0, _tail(out), "", "")
        else:
            self._end_run(invoke_id, instance_id, "Failed", proc.returncode, _tail(out), "ExitCodeNonzero",
                          f"the command exited with {proc.returncode}")

    def _end_run(self, invoke_id: str, instance_id: str, status: str, exit_code: int | None, output: str,
                 code: str, info: str) -> None:
        if self.cloud.stopping:
            return
        now = self.cloud.iso()

        def change(doc: dict) -> None:
            row = doc["Results"][instance_id]
            if row["InvocationStatus"] == "Running":
                row.update(InvocationStatus=status, ExitCode=exit_code, Output=output, FinishedTime=now,
                           ErrorCode=code, ErrorInfo=info)
        self.store.update(INVOCATION, invoke_id, change)

    def _resume_invocations(self) -> None:
        """A killed server's commands died with it."""
        for doc in self.store.find(INVOCATION, lambda d: any(r["InvocationStatus"] == "Running"
                                                             for r in d["Results"].values())):
            for iid, row in doc["Results"].items():
                if row["InvocationStatus"] == "Running":
                    self._end_run(doc["InvokeId"], iid, "Failed", None, row["Output"], "ClientRestarted",
                                  "the Cloud Assistant agent restarted while the command ran")


def _tail(out: bytes) -> str:
    return out[-OUTPUT_KEEP_BYTES:].decode("utf-8", "replace")
