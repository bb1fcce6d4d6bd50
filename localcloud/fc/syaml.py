"""Read a Serverless Devs 3 `s.yaml` the way `s deploy` would, for the subset the project uses, and check every
`fc3` resource against what Function Compute 3.0 accepts, so that the local cloud deploys exactly what a real
deployment would (and refuses what the real one would refuse).

Variables: `${vars.a.b}`, `${env('NAME')}`, `${env('NAME', 'default')}`, inside strings or as a whole value (a
whole-value reference keeps its type, e.g. `environmentVariables: ${vars.environment}`) [repo: Serverless-Devs/
Serverless-Devs:docs/zh/yaml.md]. Other magic variables (`${config(..)}`, `${resources..}`, `${file(..)}`) are
refused with a clear error: the project does not use them.

Limits [pkg: alibabacloud_fc20230330/models/_create_function_input.py; repo: devsapp/fc3:src/schema.json]:
function name 1-64 of letters, digits, `_`, `-`, not starting with a digit or `-`; runtime from the API's list;
memorySize 128-32768 MB, a multiple of 64 (fc3 default 512); timeout 1-86400 s (default 3); HTTP methods GET, POST,
PUT, DELETE, HEAD, PATCH, OPTIONS; authType anonymous | function | jwt; timer cron has six fields (seconds first,
UTC, optional `CRON_TZ=<zone> ` prefix) or `@every <n><s|m|h>` [doc: https://www.alibabacloud.com/help/doc-detail/
171746.htm]; environment: keys start with a letter (letters, digits, `_`), 4 KB in all [doc: https://www.
alibabacloud.com/help/en/functioncompute/fc/environment-variables].
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

RUNTIMES = frozenset({"nodejs12", "nodejs14", "nodejs16", "nodejs18", "nodejs20", "go1", "python3", "python3.9",
                      "python3.10", "python3.12", "java8", "java11", "php7.2", "dotnetcore3.1", "custom",
                      "custom.debian10", "custom.debian11", "custom.debian12", "custom-container"})
PYTHON_RUNTIMES = frozenset({"python3", "python3.9", "python3.10", "python3.12"})   # what runs in-process here
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS")
AUTH_TYPES = frozenset({"anonymous", "function", "jwt"})
FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
ENV_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
ENV_MAX_BYTES = 4096
DEFAULT_MEMORY_MB = 512          # the fc3 component's default [repo: devsapp/fc3:src/default/config.ts]
DEFAULT_TIMEOUT_S = 3            # the API's default
_CRON_EVERY = re.compile(r"@every\s+\d+[smh]")
# The trigger types the local cloud models; others (oss, log, mns_topic, cdn_events, tablestore) are not emulated.
TRIGGER_TYPES = frozenset({"http", "timer", "eventbridge"})


class DeploymentError(ValueError):
    """s.yaml asks for something Function Compute (or Serverless Devs) would refuse."""


@dataclass
class TriggerSpec:
    name: str
    type: str
    config: dict[str, Any]
    qualifier: str = "LATEST"
    description: str = ""

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.config.get("methods") or ())


@dataclass
class FunctionSpec:
    name: str
    runtime: str
    handler: str
    code_dir: Path
    memory_size: int = DEFAULT_MEMORY_MB
    timeout: int = DEFAULT_TIMEOUT_S
    description: str = ""
    role: str = ""
    layers: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    triggers: list[TriggerSpec] = field(default_factory=list)
    resource: str = ""                      # the s.yaml resource key
    # Networks and logs (fc3 IFunction: vpcConfig, internetAccess, logConfig). vpc_config is None outside a VPC.
    vpc_config: dict[str, Any] | None = None
    internet_access: bool = True            # the fc3 component's default [repo: devsapp/fc3:src/default/config.ts]
    log_config: dict[str, Any] | None = None

    @property
    def vpc_id(self) -> str:
        return str((self.vpc_config or {}).get("vpcId") or "")

    def trigger(self, trigger_type: str) -> TriggerSpec | None:
        return next((t for t in self.triggers if t.type == trigger_type), None)


# -- variables
_WHOLE = re.compile(r"\$\{([^{}]+)\}")
_ENV_CALL = re.compile(r"""env\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]*)['"]\s*)?\)""")


def _lookup_vars(path: str, variables: Mapping[str, Any], env: Mapping[str, str], depth: int) -> Any:
    value: Any = variables
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise DeploymentError(f"${{vars.{path}}} is not defined in s.yaml vars")
        value = value[part]
    return resolve(value, variables, env, depth + 1)


def _expression(expr: str, variables: Mapping[str, Any], env: Mapping[str, str], depth: int) -> Any:
    expr = expr.strip()
    if expr.startswith("vars."):
        return _lookup_vars(expr[5:], variables, env, depth)
    call = _ENV_CALL.fullmatch(expr)
    if call:
        name, default = call.groups()
        if name in env:
            return env[name]
        if default is None:
            raise DeploymentError(f"${{{expr}}}: environment variable {name} is not set and has no default")
        return default
    raise DeploymentError(f"${{{expr}}}: only vars.* and env('NAME', 'default') are supported here")


def resolve(value: Any, variables: Mapping[str, Any], env: Mapping[str, str], depth: int = 0) -> Any:
    """`value` with every `${...}` replaced, recursively (a reference cycle is refused)."""
    if depth > 20:
        raise DeploymentError("s.yaml variables refer to each other in a cycle")
    if isinstance(value, dict):
        return {k: resolve(v, variables, env, depth) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, variables, env, depth) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = _WHOLE.fullmatch(value.strip())
    if whole:
        return _expression(whole.group(1), variables, env, depth)

    def one(match: re.Match) -> str:
        out = _expression(match.group(1), variables, env, depth)
        if isinstance(out, (dict, list)):
            raise DeploymentError(f"{match.group(0)} is an object and cannot be part of a string")
        return str(out)
    return _WHOLE.sub(one, value)


# What bound local clouds put into this process's environment for their in-process functions (LocalCloud.bind): per
# variable, the value the process had before (None: unset) and the values bound. `${env(...)}` reads the deployer's
# environment: a second local cloud in the same process must not deploy with the first one's endpoints (its
# Tablestore, its keys), while a variable the deployer set since is read as set.
BOUND: dict[str, tuple[str | None, set[str]]] = {}


def note_bound(before: dict[str, str | None], bound: dict[str, str]) -> None:
    for key, value in bound.items():
        BOUND.setdefault(key, (before.get(key), set()))[1].add(value)


def deployer_environment() -> dict[str, str]:
    """This process's environment without what local clouds bound into it."""
    env = dict(os.environ)
    for key, (before, values) in BOUND.items():
        if env.get(key) in values:
            if before is None:
                env.pop(key, None)
            else:
                env[key] = before
    return env


def load(path: str | Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The s.yaml document with its variables resolved (what `s preview` prints)."""
    path = Path(path)
    env = deployer_environment() if env is None else env
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise DeploymentError(f"cannot read {path}: {err}") from None
    if not isinstance(doc, dict) or str(doc.get("edition")) != "3.0.0":
        raise DeploymentError(f"{path}: not a Serverless Devs 3 file (edition: 3.0.0)")
    variables = doc.get("vars") or {}
    return {**doc, "resources": resolve(doc.get("resources") or {}, variables, env)}


# -- checks FC makes
def _int(props: dict, key: str, default: int, low: int, high: int, where: str, multiple: int = 1) -> int:
    raw = props.get(key, default)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise DeploymentError(f"{where}: {key} must be an integer, got {raw!r}")
    if not low <= raw <= high or raw % multiple:
        rule = f" and a multiple of {multiple}" if multiple > 1 else ""
        raise DeploymentError(f"{where}: {key} {raw} is out of range ({low}-{high}{rule})")
    return raw


def check_cron(expression: str, where: str) -> None:
    text = expression.strip()
    if text.startswith("CRON_TZ="):
        text = text.split(None, 1)[1] if " " in text else ""
    if _CRON_EVERY.fullmatch(text):
        return
    fields = text.split()
    if len(fields) != 6:
        raise DeploymentError(f"{where}: cronExpression {expression!r} must have six fields "
                              f"(second minute hour day-of-month month day-of-week, UTC) or be '@every 10m'")
    from croniter import croniter
    if not croniter.is_valid(text, second_at_beginning=True):
        raise DeploymentError(f"{where}: cronExpression {expression!r} is not a valid cron expression")


def _trigger(raw: Any, where: str) -> TriggerSpec:
    if not isinstance(raw, dict):
        raise DeploymentError(f"{where}: a trigger must be a mapping")
    name, kind = raw.get("triggerName"), raw.get("triggerType")
    if not isinstance(name, str) or not name:       # FC's own rule for trigger names is not in the SDK docs
        raise DeploymentError(f"{where}: triggerName is required")
    where = f"{where} trigger {name}"
    if kind not in TRIGGER_TYPES:
        raise DeploymentError(f"{where}: triggerType {kind!r} is not modelled by the local cloud "
                              f"({', '.join(sorted(TRIGGER_TYPES))})")
    config = raw.get("triggerConfig")
    if not isinstance(config, dict):
        raise DeploymentError(f"{where}: triggerConfig is required")
    if kind == "http":
        methods = config.get("methods")
        if not isinstance(methods, list) or not methods:
            raise DeploymentError(f"{where}: methods must list at least one of {', '.join(HTTP_METHODS)}")
        wrong = [m for m in methods if m not in HTTP_METHODS]
        if wrong:
            raise DeploymentError(f"{where}: methods {wrong} are not HTTP trigger methods ({', '.join(HTTP_METHODS)})")
        if config.get("authType", "function") not in AUTH_TYPES:
            raise DeploymentError(f"{where}: authType {config.get('authType')!r} is not one of "
                                  f"{', '.join(sorted(AUTH_TYPES))}")
    elif kind == "timer":
        if not isinstance(config.get("cronExpression"), str) or not isinstance(config.get("enable"), bool):
            raise DeploymentError(f"{where}: cronExpression (string) and enable (boolean) are required")
        check_cron(config["cronExpression"], where)
        if "payload" in config and not isinstance(config["payload"], str):
            raise DeploymentError(f"{where}: payload must be a string")
    elif kind == "eventbridge":
        pattern = config.get("eventRuleFilterPattern")
        try:
            json.loads(pattern) if isinstance(pattern, str) else None
        except ValueError:
            raise DeploymentError(f"{where}: eventRuleFilterPattern is not JSON") from None
        if not isinstance(pattern, str):
            raise DeploymentError(f"{where}: eventRuleFilterPattern (a JSON string) is required")
    return TriggerSpec(name=name, type=kind, config=config, qualifier=str(raw.get("qualifier") or "LATEST"),
                       description=str(raw.get("description") or ""))


def function_spec(resource: str, props: dict, root: Path) -> FunctionSpec:
    where = f"s.yaml resource {resource}"
    name = props.get("functionName")
    if not isinstance(name, str) or not FUNCTION_NAME.fullmatch(name):
        raise DeploymentError(f"{where}: functionName {name!r} must be 1-64 letters, digits, '_' or '-', "
                              f"not starting with a digit or '-'")
    runtime = props.get("runtime")
    if runtime not in RUNTIMES:
        raise DeploymentError(f"{where}: runtime {runtime!r} is not a Function Compute runtime")
    if runtime not in PYTHON_RUNTIMES:
        raise DeploymentError(f"{where}: runtime {runtime} cannot run in the local cloud (Python runtimes only)")
    handler = props.get("handler")
    if not isinstance(handler, str) or not re.fullmatch(r"[\w./-]+\.\w+", handler):
        raise DeploymentError(f"{where}: handler {handler!r} must be <file>.<function>, e.g. index.handler")
    code = props.get("code")
    if not isinstance(code, str):
        raise DeploymentError(f"{where}: code must be a local directory")
    code_dir = (root / code).resolve()
    module_file = code_dir / (handler.rsplit(".", 1)[0] + ".py")
    if not module_file.is_file():
        raise DeploymentError(f"{where}: handler {handler} needs {module_file}, which does not exist")
    env = props.get("environmentVariables") or {}
    if not isinstance(env, dict):
        raise DeploymentError(f"{where}: environmentVariables must be a mapping")
    env = {str(k): "" if v is None else str(v) for k, v in env.items()}
    bad = [k for k in env if not ENV_KEY.fullmatch(k)]
    if bad:
        raise DeploymentError(f"{where}: environment variable names {bad} must start with a letter "
                              f"(letters, digits, '_')")
    if len(json.dumps(env).encode()) > ENV_MAX_BYTES:
        raise DeploymentError(f"{where}: environment variables exceed {ENV_MAX_BYTES} bytes")
    triggers = [_trigger(t, f"{where}") for t in props.get("triggers") or []]
    names = [t.name for t in triggers]
    if len(set(names)) != len(names):
        raise DeploymentError(f"{where}: trigger names repeat: {names}")
    internet = props.get("internetAccess", True)
    if not isinstance(internet, bool):
        raise DeploymentError(f"{where}: internetAccess must be true or false")
    return FunctionSpec(
        vpc_config=_vpc_config(props.get("vpcConfig"), where), internet_access=internet,
        log_config=_log_config(props.get("logConfig"), where, str(props.get("region") or "")),
        name=name, runtime=runtime, handler=handler, code_dir=code_dir,
        memory_size=_int(props, "memorySize", DEFAULT_MEMORY_MB, 128, 32768, where, multiple=64),
        timeout=_int(props, "timeout", DEFAULT_TIMEOUT_S, 1, 86400, where),
        description=str(props.get("description") or ""), role=str(props.get("role") or ""),
        layers=list(props.get("layers") or []), environment=env, triggers=triggers, resource=resource)


def _vpc_config(raw: Any, where: str) -> dict[str, Any] | None:
    """fc3 IVpcConfig: {vpcId, vSwitchIds (a list, or 'auto'), securityGroupId}; 'auto' makes one, which the local
    cloud cannot (the account's VPCs are not modelled) [repo: devsapp/fc3:src/interface/function.ts]."""
    if raw is None:
        return None
    if raw == "auto":
        raise DeploymentError(f"{where}: vpcConfig 'auto' creates a VPC the Tablestore instance is not bound to; "
                              f"name the VPC bound to it (vpcId, vSwitchIds, securityGroupId)")
    if not isinstance(raw, dict) or not isinstance(raw.get("vpcId"), str) or not raw["vpcId"] \
            or not isinstance(raw.get("securityGroupId"), str) or not raw["securityGroupId"] \
            or not ((isinstance(raw.get("vSwitchIds"), list) and raw["vSwitchIds"]) or raw.get("vSwitchIds") == "auto"):
        raise DeploymentError(f"{where}: vpcConfig needs vpcId, vSwitchIds (a list) and securityGroupId")
    return dict(raw)


def _log_config(raw: Any, where: str, region: str) -> dict[str, Any] | None:
    """fc3 logConfig: 'auto' (the component creates project $FC_GENERATE_PROJECT_NAME, else serverless-<region>-
    <uuid of the account id>, and logstore $FC_GENERATE_LOGSTORE_NAME, else default-logs: src/resources/sls/
    index.ts, src/default/resources.ts; the uuid here is not the component's) or {project, logstore, ...}."""
    if raw is None:
        return None
    if raw == "auto":
        project = os.environ.get("FC_GENERATE_PROJECT_NAME") or f"serverless-{region}-local"
        return {"project": project[:63], "logstore": os.environ.get("FC_GENERATE_LOGSTORE_NAME") or "default-logs",
                "enableRequestMetrics": True,
                "enableInstanceMetrics": True, "logBeginRule": "DefaultRegex"}
    if not isinstance(raw, dict) or not raw.get("project") or not raw.get("logstore"):
        raise DeploymentError(f"{where}: logConfig must be 'auto' or name a project and a logstore")
    return dict(raw)


def complete_role(role: str, account_id: str) -> str:
    """What the fc3 component sends as a function's role: a bare name completed with the deployer's account, then
    lower-cased (devsapp/fc3 src/resources/ram/index.ts Role.completionArn, src/base.ts _handleRole)."""
    if not role:
        return ""
    arn = role if re.fullmatch(r"acs:ram::\d+:role/.+", role) else f"acs:ram::{account_id}:role/{role}"
    return arn.lower()


def functions(path: str | Path, env: Mapping[str, str] | None = None,
              account_id: str = "000000000000") -> list[FunctionSpec]:
    """Every fc3 function of `path`, checked; code paths are relative to the file's directory; roles completed as
    the fc3 component completes them for the deployer's account."""
    path = Path(path)
    doc = load(path, env)
    specs = [function_spec(key, res.get("props") or {}, path.parent)
             for key, res in doc["resources"].items() if isinstance(res, dict) and res.get("component") == "fc3"]
    for spec in specs:
        spec.role = complete_role(spec.role, account_id)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise DeploymentError(f"{path}: function names repeat: {names}")
    return specs
