"""Quiesce hooks: a service instance's hook settings (what runs on its ECS instances before and after the snapshots
are created) and the runs a backup records. Plain data with its API shape and its validation; no I/O."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ValidationError

PRE, POST = "Pre", "Post"
FAIL, CONTINUE = "Fail", "Continue"
# RunCommand takes at most 18 KB of CommandContent once Base64-encoded (4/3 of the raw size): 12,000 characters
# of ASCII stay under it.
SCRIPT_MAX_CHARS = 12_000
# A pre hook is waited for inside one invocation of the backup steps function (600 s, s.yaml), after which the
# snapshots are created: the longest a hook may run leaves that invocation room for the rest.
TIMEOUT_MIN, TIMEOUT_MAX, TIMEOUT_DEFAULT = 10, 300, 60
INSTANCES_MAX = 100              # RunCommand InstanceId.N
OUTPUT_TAIL_CHARS = 1024         # what a record keeps of a hook's output: its tail
_INSTANCE = re.compile(r"^i-[A-Za-z0-9]{1,64}\Z")
SETTINGS_FIELDS = ("Pre", "Post", "TimeoutSeconds", "OnFailure", "Instances")


@dataclass(frozen=True)
class HookSettings:
    """What runs around a backup's snapshots on the service instance's ECS instances. `instances` None: every ECS
    instance the backup snapshots."""
    pre: str
    post: str
    timeout_seconds: int = TIMEOUT_DEFAULT
    on_failure: str = FAIL
    instances: tuple[str, ...] | None = None

    @classmethod
    def from_api(cls, body: Any) -> HookSettings:
        if not isinstance(body, dict):
            raise ValidationError("Hooks must be an object with Pre, Post, TimeoutSeconds, OnFailure, Instances")
        unknown = sorted(set(body) - set(SETTINGS_FIELDS))
        if unknown:
            raise ValidationError(f"Hooks has unknown fields {', '.join(unknown)}; allowed: "
                                  f"{', '.join(SETTINGS_FIELDS)}")
        pre, post = _script(body, "Pre"), _script(body, "Post")
        timeout = body.get("TimeoutSeconds", TIMEOUT_DEFAULT)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not TIMEOUT_MIN <= timeout <= TIMEOUT_MAX:
            raise ValidationError(f"Hooks.TimeoutSeconds must be a whole number from {TIMEOUT_MIN} to {TIMEOUT_MAX}")
        on_failure = body.get("OnFailure", FAIL)
        if on_failure not in (FAIL, CONTINUE):
            raise ValidationError(f"Hooks.OnFailure must be {FAIL} or {CONTINUE}")
        instances = body.get("Instances")
        if instances is not None:
            if (not isinstance(instances, list) or not 0 < len(instances) <= INSTANCES_MAX
                    or not all(isinstance(i, str) and _INSTANCE.match(i) for i in instances)):
                raise ValidationError(f"Hooks.Instances must be a list of 1 to {INSTANCES_MAX} ECS instance ids "
                                      f"(i-...), or absent for every ECS instance of the service instance")
            instances = tuple(dict.fromkeys(instances))
        return cls(pre, post, timeout, on_failure, instances)

    def to_api(self) -> dict[str, Any]:
        return {"Pre": self.pre, "Post": self.post, "TimeoutSeconds": self.timeout_seconds,
                "OnFailure": self.on_failure, "Instances": list(self.instances) if self.instances else None}

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> HookSettings | None:
        return cls.from_api({k: v for k, v in doc.items() if v is not None}) if doc else None


def _script(body: dict[str, Any], name: str) -> str:
    script = body.get(name)
    if not isinstance(script, str) or not script.strip() or len(script) > SCRIPT_MAX_CHARS:
        raise ValidationError(f"Hooks.{name} must be a non-empty shell script of at most {SCRIPT_MAX_CHARS} "
                              f"characters")
    return script


def tail(output: str, limit: int = OUTPUT_TAIL_CHARS) -> str:
    """The end of a hook's output, which says how it ended."""
    return output if len(output) <= limit else "…" + output[-(limit - 1):]


@dataclass
class HookRun:
    """One hook's run on one instance, as a backup records it."""
    instance_id: str
    phase: str                           # Pre | Post
    status: str                          # Success | Failed | Timeout | NotRun ... (the cloud's InvocationStatus)
    exit_code: int | None = None
    output: str = ""                     # its tail (OUTPUT_TAIL_CHARS)
    start_time: str | None = None
    end_time: str | None = None
    error_code: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == "Success"

    @property
    def ran(self) -> bool:
        """The command may have run on the instance (so its post hook must): not refused, never sent or dropped
        before it started (InvocationStatus Invalid, Aborted, Cancelled)."""
        return self.status not in ("NotRun", "Invalid", "Aborted", "Cancelled")

    def summary(self) -> str:
        """One phrase naming the instance and the hook: what a cause or a note says of a failed run."""
        how = ("timed out" if self.status == "Timeout" else f"exited {self.exit_code}" if self.exit_code is not None
               else f"ended {self.status}" + (f" ({self.error_code})" if self.error_code else ""))
        return f"the {self.phase.lower()} hook on {self.instance_id} {how}"

    def to_api(self) -> dict[str, Any]:
        return {"InstanceId": self.instance_id, "Hook": self.phase, "Status": self.status,
                "ExitCode": self.exit_code, "Output": self.output, "StartTime": self.start_time,
                "EndTime": self.end_time, "ErrorCode": self.error_code or None}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> HookRun:
        return cls(**raw)


@dataclass
class Quiesce:
    """A backup's hooks: the settings it took at its start, what ran, and the moment its disks share.

    `frozen_at` / `thawed_at` (epoch) bound the window the instances were quiesced; `consistent_at` is T, when the
    last snapshot (group) was created with every instance still frozen; `at_moment` the resources taken at T."""
    settings: HookSettings
    instances: list[str]
    runs: list[HookRun] = field(default_factory=list)
    pre_invoke: str | None = None
    post_invoke: str | None = None
    frozen_at: float | None = None       # every pre hook had ended (the snapshots could be created)
    thawed_at: float | None = None       # the post hooks were sent
    thaw_done: bool = False              # every post hook ended (whatever its outcome)
    consistent_at: float | None = None
    at_moment: list[str] = field(default_factory=list)
    crash_consistent: str | None = None  # why the backup went on without a quiesced moment (OnFailure Continue)

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["settings"] = self.settings.to_api()
        raw["runs"] = [r.to_dict() for r in self.runs]
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Quiesce | None:
        if not raw:
            return None
        raw = dict(raw)
        raw["settings"] = HookSettings.from_doc(raw["settings"])
        raw["runs"] = [HookRun.from_dict(r) for r in raw.get("runs") or []]
        return cls(**raw)

    @property
    def consistency(self) -> str | None:
        """ApplicationConsistent once T is recorded with every disk at it; CrashConsistent when a pre hook failed
        (Continue) or a disk missed the freeze; None until the thaw says."""
        if self.crash_consistent:
            return "CrashConsistent"
        if self.consistent_at:
            return "ApplicationConsistent"
        return "CrashConsistent" if self.thaw_done else None

    def to_api(self, iso_ms: Any) -> dict[str, Any]:
        """What the record shows: each run, T and which resources are at it, or why there is none."""
        return {"Hooks": [r.to_api() for r in self.runs],
                "ConsistentAt": iso_ms(self.consistent_at) if self.consistent_at else None,
                "AtConsistentMoment": list(self.at_moment),
                "Consistency": self.consistency,
                "ConsistencyDetail": self.crash_consistent,
                "FrozenSeconds": round(self.thawed_at - self.frozen_at, 3)
                if self.thawed_at and self.frozen_at else None}
