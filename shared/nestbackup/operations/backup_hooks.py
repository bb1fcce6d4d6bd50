"""Quiesce hooks around a backup's snapshots (settings: operations/backup_settings.py; data: model/hooks.py).

Freeze (a flow step, before the Start batches): the pre hook runs on every instance through Cloud Assistant and is
waited for. Thaw (the step right after the Start batches, so once every snapshot and group is created, not
completed): T is recorded (the last create's answer, every instance still frozen) and the post hook runs. Whoever
closes the record thaws first (`finalize` calls `thaw`: a failed pre hook, a failed start, a cancel, the sweeper's
close), and the sweeper thaws what no one did (`resume_thaws`): from the moment the pre hook may have been sent, a
document of FROZEN names the backup until its thaw is done, so no instance stays frozen.

Every RunCommand carries a ClientToken of the backup and the hook, so a step run again after a lost answer or a
crash finds the same invocation instead of running the hook twice."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .. import logs
from ..errors import CloudError
from ..model.hooks import CONTINUE, POST, PRE, HookRun, tail
from ..model.records import BackupRecord, ResourceType
from ..model.status import BACKUP_FINAL, ITEM_FINAL, ItemStatus
from ..ports.records import StaleWrite
from ..ports.steps.quiesce import FreezeOutput, FreezeState, ThawOutput
from .costs import Meter
from .loading import read_backup, save

if TYPE_CHECKING:
    from ..ports import Ports
    from ..ports.compute import CommandRun

FROZEN = "frozen"                 # backups whose pre hook may have run and whose thaw is not done
GRACE_SECONDS = 60                # past a hook's own timeout: how long its results are waited for
FREEZE_STEP_SECONDS = 600         # the backup steps function's timeout (s.yaml): a Freeze step older is over
POLL_FIRST, POLL_MAX = 0.05, 1.0  # between two DescribeInvocationResults: doubling from the first to the most
PRE_HOOK_FAILED = "PreHookFailed"
NOT_RUN, INSTANCE_STOPPED = "NotRun", "InstanceStopped"     # a hook not sent: RunCommand refused, or nothing to do


def freeze(w: Ports, backup_id: str, batches: list[dict[str, int]] | None = None) -> dict:
    """Run the pre hook on every instance and wait for it; the items fail naming the hook when it failed under
    OnFailure Fail."""
    meter = Meter(w)
    stored, record = read_backup(w, backup_id)
    q = record.quiesce
    state = FreezeState.FROZEN
    if q is not None and record.status not in BACKUP_FINAL and q.frozen_at is None:
        if q.pre_invoke is None:
            w.documents.put_doc(FROZEN, backup_id, {"ServiceInstanceId": record.service_instance_id,
                                                    "Since": time.time()})
            if read_backup(w, backup_id)[1].status in BACKUP_FINAL:     # closed meanwhile: freeze nothing
                w.documents.delete_doc(FROZEN, backup_id)
                meter.charge(backup_id, FreezeOutput.TRANSITIONS)
                return FreezeOutput(backup_id, list(batches or []), FreezeState.FAILED).to_event()
        # a stopped instance has nothing to quiesce (nothing writes to its disks): no hook runs there
        stopped = sorted(i for i, found in w.ecs.describe_instances(q.instances).items() if found.stopped)
        targets = [i for i in q.instances if i not in stopped]
        runs = _run(w, backup_id, PRE, targets, q.settings.pre, q.settings.timeout_seconds,
                    lambda invoke: _remember(w, backup_id, "pre_invoke", invoke), q.pre_invoke) if targets else []
        runs += [HookRun(i, PRE, NOT_RUN, error_code=INSTANCE_STOPPED) for i in stopped]
        stored, record = read_backup(w, backup_id)      # another writer (a cancel) may have closed it meanwhile
        q = record.quiesce
        assert q is not None
        q.runs = [r for r in q.runs if r.phase != PRE] + runs
        q.frozen_at = time.time()
        failed = [r for r in runs if not r.succeeded and r.error_code != INSTANCE_STOPPED]
        if failed:
            said = "; ".join(_said(r) for r in failed)
            if q.settings.on_failure == CONTINUE:
                q.crash_consistent = f"{said}: the backup went on crash-consistent (OnFailure Continue)"
            else:
                state = FreezeState.FAILED
                for item in record.items:
                    if item.status not in ITEM_FINAL:
                        item.close(ItemStatus.NOT_STARTED, f"not started: {PRE_HOOK_FAILED}: {said}")
                        item.error_code = PRE_HOOK_FAILED
                record.status_detail = f"{PRE_HOOK_FAILED}: {said} (OnFailure Fail)"
        save(w, stored, record)
        logs.event("instances frozen" if state is FreezeState.FROZEN else "pre hook failed", step="freeze",
                   record_id=backup_id, instances=len(q.instances), failed=len(failed))
        if record.status in BACKUP_FINAL:
            # closed while the pre hook ran (a cancel): a thaw that ran meanwhile may have come before this pre
            # hook, so thaw again after it, with a token of its own
            thaw(w, backup_id, token_suffix="-after-close")
            state = FreezeState.FAILED       # nothing to start: the flow goes to Finalize, which finds it closed
    elif q is not None and record.status in BACKUP_FINAL:
        thaw(w, backup_id)
        state = FreezeState.FAILED
    meter.charge(backup_id, FreezeOutput.TRANSITIONS)
    return FreezeOutput(backup_id, list(batches or []), state).to_event()


def thaw_step(w: Ports, backup_id: str) -> dict:
    """The flow's Thaw step, right after the Start batches created every snapshot."""
    meter = Meter(w)
    thaw(w, backup_id)
    meter.charge(backup_id, ThawOutput.TRANSITIONS)
    return ThawOutput(backup_id).to_event()


def thaw(w: Ports, backup_id: str, token_suffix: str = "") -> None:
    """Record T and which resources are at it, run the post hook on every instance the pre hook ran on, wait for it
    and drop the FROZEN entry. Idempotent; a backup without hooks, or already thawed, is left as it is."""
    stored, record = read_backup(w, backup_id)
    q = record.quiesce
    if q is None or (q.thaw_done and not token_suffix):
        w.documents.delete_doc(FROZEN, backup_id)
        return
    if q.pre_invoke is None:
        listed = w.documents.get_doc(FROZEN, backup_id)
        if listed is None:
            return                       # no pre hook was ever sent: nothing is frozen (yet)
        if time.time() - float(listed[0].get("Since") or 0) < FREEZE_STEP_SECONDS:
            # its Freeze step may be about to send the pre hook (a post hook now would come before it): that step
            # thaws after itself once it reads the record closed, else a sweep once the step has surely ended
            logs.event("thaw waits for the freeze step", step="thaw", record_id=backup_id)
            return
    if q.frozen_at is None and q.pre_invoke and not all(
            r.finished for r in w.ecs.invocation_results(q.pre_invoke).values()):
        # a post hook now could end before the pre hook does and leave the instance frozen: the Freeze step thaws
        # once its pre hook has ended (it reads the record closed), else the next sweep
        logs.event("thaw waits for the pre hook", step="thaw", record_id=backup_id)
        return
    if q.post_invoke is None or token_suffix:
        _moment(record)
    ran_pre = [r.instance_id for r in q.runs if r.phase == PRE and r.ran]
    targets = ran_pre if q.frozen_at is not None else q.instances     # unknown how far the pre got: all of them
    if targets:
        invoke = q.post_invoke if not token_suffix else None
        if invoke is None:
            invoke = w.ecs.run_command(targets, q.settings.post, name="nestbackup-post",
                                       timeout_seconds=q.settings.timeout_seconds,
                                       client_token=_token(backup_id, POST) + token_suffix)
        q.post_invoke, q.thawed_at = invoke, q.thawed_at or time.time()
        save(w, stored, record)
        runs = _run(w, backup_id, POST, targets, q.settings.post, q.settings.timeout_seconds, lambda _: None, invoke)
        stored, record = read_backup(w, backup_id)
        q = record.quiesce
        assert q is not None
        q.runs = [r for r in q.runs if r.phase != POST] + runs
    q.thaw_done = True
    save(w, stored, record)
    w.documents.delete_doc(FROZEN, backup_id)
    logs.event("instances thawed", step="thaw", record_id=backup_id, instances=len(targets),
               failed=sum(not r.succeeded for r in q.runs if r.phase == POST))


def resume_thaws(w: Ports, now: float | None = None) -> list[str]:
    """The sweeper's part: thaw every backup whose thaw no step finished, once its flow had the time to."""
    now = time.time() if now is None else now
    thawed = []
    for backup_id, doc, _ in w.documents.docs(FROZEN):
        stored = w.records.read(backup_id)
        if stored is None:
            w.documents.delete_doc(FROZEN, backup_id)
            continue
        record = BackupRecord.from_docs(stored.header, stored.items)
        q = record.quiesce
        wait = (q.settings.timeout_seconds if q else 0) * 2 + GRACE_SECONDS * 2
        if record.status not in BACKUP_FINAL and now - float(doc.get("Since") or now) < wait:
            continue                      # its flow is still on its way to the thaw
        try:
            thaw(w, backup_id, token_suffix=f"-sweep-{int(now)}" if q and q.post_invoke and not q.thaw_done else "")
            thawed.append(backup_id)
        except (CloudError, StaleWrite) as err:       # the next sweep tries again
            logs.event("thaw deferred", step="sweep", record_id=backup_id, reason=str(err))
    return thawed


def _moment(record: BackupRecord) -> None:
    """T: the last create's answer among the frozen instances' disks, when every one of them was created under the
    freeze (after the pre hooks ended, before the thaw); those disks are at T, every other resource at its own
    artifact's time."""
    q = record.quiesce
    assert q is not None
    disks = [i for i in record.items if i.resource_type is ResourceType.DISK and i.instance_id in q.instances
             and i.status is not ItemStatus.SKIPPED]
    created = [i for i in disks if i.created_epoch and q.frozen_at and i.created_epoch >= q.frozen_at - 1]
    if q.crash_consistent or not created:
        return
    q.at_moment = [i.resource_id for i in created]
    q.consistent_at = max(i.created_epoch or 0.0 for i in created)
    if len(created) < len(disks):
        late = sorted(i.resource_id for i in disks if i not in created)
        q.crash_consistent = (f"{', '.join(late)} not created while the instances were frozen (their start was "
                              f"deferred): crash-consistent only")


def _run(w: Ports, backup_id: str, phase: str, instances: list[str], script: str, timeout: int, sent,
         invoke: str | None) -> list[HookRun]:
    """Send the hook (unless `invoke` says it was) and wait for every instance's run, until its timeout and a
    grace; what each run did. A refused RunCommand is a failed run on every instance, naming the refusal."""
    if invoke is None:
        try:
            invoke = w.ecs.run_command(instances, script, name=f"nestbackup-{phase.lower()}",
                                       timeout_seconds=timeout, client_token=_token(backup_id, phase))
        except CloudError as err:
            if err.transient:
                raise                    # the flow's retry sends it again, with the same token
            return [HookRun(i, phase, NOT_RUN, error_code=err.code, output=tail(err.message)) for i in instances]
        sent(invoke)
    deadline = time.monotonic() + timeout + GRACE_SECONDS
    seen: dict[str, CommandRun] = {}
    pause = POLL_FIRST                   # a hook like fsfreeze ends in milliseconds: each wait here is frozen time
    while True:
        try:
            seen = w.ecs.invocation_results(invoke)
        except CloudError as err:
            if not err.transient or time.monotonic() > deadline:
                raise
        if (all(i in seen and seen[i].finished for i in instances)) or time.monotonic() > deadline:
            break
        time.sleep(pause)
        pause = min(POLL_MAX, pause * 2)
    return [_hook_run(i, phase, seen.get(i)) for i in instances]


def _hook_run(instance_id: str, phase: str, run: CommandRun | None) -> HookRun:
    if run is None:
        return HookRun(instance_id, phase, "Unknown", error_code="NoResult")
    status = run.status if run.finished else "Timeout"        # not over at the timeout and grace: as good as one
    return HookRun(instance_id, phase, status, run.exit_code, tail(run.output), run.start_time, run.finished_time,
                   run.error_code)


def _said(run: HookRun) -> str:
    last = run.output.strip().splitlines()[-1:] if run.output.strip() else []
    return run.summary() + (f" ({last[0][:200]})" if last else "")


def _remember(w: Ports, backup_id: str, field_name: str, invoke: str) -> None:
    """Keep the invocation on the record at once (a later step or sweep reads it)."""
    for _ in range(5):
        stored, record = read_backup(w, backup_id)
        assert record.quiesce is not None
        setattr(record.quiesce, field_name, invoke)
        try:
            save(w, stored, record)
            return
        except StaleWrite:
            continue


def _token(backup_id: str, phase: str) -> str:
    """RunCommand's ClientToken: at most 64 ASCII characters."""
    return f"{backup_id}-{phase.lower()}"[-64:]
