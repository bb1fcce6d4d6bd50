"""`nestbackup doctor`: check the account (cli/preflight.py: regions, the Tablestore network, and with `--instance`
each service instance's RDS backup settings, snapshot groups, snapshot and RDS backup-set quota; `--before-deploy`
stops there), then compare a deployment with s.yaml through the cloud's own APIs (FC 3.0 GetFunction and
ListTriggers, CloudFlow DescribeFlow, Tablestore DescribeTable) and, with `--instance`, have the deployed db-rename
function check each RDS instance's database account (FC InvokeFunction). One line per check; exit 0 only when all
pass.

s.yaml is read as Serverless Devs renders it, for the subset the file uses: `${vars.a.b}` and
`${env('NAME', 'default')}`, inside strings or as whole values."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import click
import yaml

from ..errors import NestBackupError
from ..settings import environment
from .errors import CliError

_REF = re.compile(r"\$\{([^{}]+)\}")
_ENV = re.compile(r"""env\(\s*['"]([^'"]+)['"]\s*(?:,\s*['"]([^'"]*)['"]\s*)?\)""")
FIX_DEPLOY = "run `s deploy` from the directory of s.yaml"
OTS_INSTANCE_VERSION = "2016-06-20"
RENAME_FUNCTION_CODE = "functions/nestbackup-db-rename"   # the one function that connects to the databases


def render(value: Any, variables: Mapping[str, Any], env: Mapping[str, str], depth: int = 0) -> Any:
    """`value` with its `${vars..}` / `${env(..)}` references replaced (whole-value references keep their type)."""
    if depth > 20:
        raise CliError("s.yaml variables refer to each other in a cycle")
    if isinstance(value, dict):
        return {k: render(v, variables, env, depth) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, variables, env, depth) for v in value]
    if not isinstance(value, str) or "${" not in value:
        return value

    def expr(text: str) -> Any:
        text = text.strip()
        if text.startswith("vars."):
            out: Any = variables
            for part in text[5:].split("."):
                if not isinstance(out, Mapping) or part not in out:
                    raise CliError(f"s.yaml: ${{{text}}} is not defined")
                out = out[part]
            return render(out, variables, env, depth + 1)
        call = _ENV.fullmatch(text)
        if call:
            return env.get(call.group(1), call.group(2) or "")
        raise CliError(f"s.yaml: ${{{text}}} is not supported by doctor (vars.* and env() only)")

    whole = _REF.fullmatch(value.strip())
    if whole:
        return expr(whole.group(1))
    return _REF.sub(lambda m: str(expr(m.group(1))), value)


def read_s_yaml(path: Path, env: Mapping[str, str]) -> dict[str, dict]:
    """Resource name -> {component, props}, rendered."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise CliError(f"cannot read {path}: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("resources"), dict):
        raise CliError(f"{path} has no resources")
    return render(doc["resources"], doc.get("vars") or {}, env)


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    failed: int = 0

    def ok(self, what: str) -> None:
        self._line("ok", what)

    def missing(self, what: str, fix: str) -> None:
        self.failed += 1
        self._line("MISSING", f"{what} - fix: {fix}")

    def different(self, what: str, fix: str) -> None:
        self.failed += 1
        self._line("DIFFERENT", f"{what} - fix: {fix}")

    def fail(self, status: str, text: str) -> None:
        """A failed account check: `text` says what and, after " - fix: ", what to do."""
        self.failed += 1
        self._line(status, text)

    def _line(self, status: str, text: str) -> None:
        line = f"{status:<9} {text}"
        self.lines.append(line)
        click.echo(line)


def same_role(deployed: str, wanted: str) -> bool:
    """s.yaml may name a role bare: the fc3 component completes it with the deployer's account and lower-cases it."""
    if re.fullmatch(r"acs:ram::\d+:role/.+", wanted):
        return deployed.lower() == wanted.lower()
    return deployed.lower().endswith(f":role/{wanted.lower()}") if wanted else not deployed


def check_function(report: Report, props: dict, deployed: dict | None, triggers: list[dict] | None) -> None:
    name = props["functionName"]
    if deployed is None:
        report.missing(f"function {name}", FIX_DEPLOY)
        return
    wrong = []
    for key, default in (("handler", None), ("runtime", None), ("timeout", 3), ("memorySize", 512)):
        want = props.get(key, default)
        if want is not None and deployed.get(key) != want:
            wrong.append(f"{key} is {deployed.get(key)!r}, s.yaml says {want!r}")
    if not same_role(deployed.get("role") or "", props.get("role") or ""):
        wrong.append(f"role is {deployed.get('role')!r}, s.yaml says {props.get('role')!r}")
    want_vpc, have_vpc = (props.get("vpcConfig") or {}).get("vpcId"), (deployed.get("vpcConfig") or {}).get("vpcId")
    if (want_vpc or have_vpc) and want_vpc != have_vpc:
        wrong.append(f"VPC is {have_vpc!r}, s.yaml says {want_vpc!r}")
    logs = deployed.get("logConfig") or {}
    if not logs.get("project"):
        wrong.append("no logConfig, so its logs are kept nowhere (s.yaml: logConfig: auto)")
    absent = sorted(set(props.get("environmentVariables") or {}) - set(deployed.get("environmentVariables") or {}))
    if absent:
        wrong.append(f"environment lacks {', '.join(absent)}")
    if wrong:
        report.different(f"function {name}: {'; '.join(wrong)}", FIX_DEPLOY)
    else:
        report.ok(f"function {name} (handler, runtime, timeout, memory, role, VPC, environment keys); logs in SLS "
                  f"project {logs.get('project')}, logstore {logs.get('logstore')}")
    online = {t.get("triggerName"): t for t in triggers or []}
    for trigger in props.get("triggers") or []:
        what = f"trigger {name}/{trigger['triggerName']} ({trigger['triggerType']})"
        found = online.get(trigger["triggerName"])
        if found is None:
            report.missing(what, f"{FIX_DEPLOY} (or `s deploy --trigger {trigger['triggerName']}`)")
            continue
        want, have = trigger.get("triggerConfig") or {}, found.get("triggerConfig") or {}
        wrong = []
        if found.get("triggerType") != trigger["triggerType"]:
            wrong.append(f"type is {found.get('triggerType')!r}")
        if trigger["triggerType"] == "http":
            if sorted(have.get("methods") or []) != sorted(want.get("methods") or []):
                wrong.append(f"methods are {sorted(have.get('methods') or [])}, s.yaml says "
                             f"{sorted(want.get('methods') or [])}")
            if have.get("authType", "function") != want.get("authType", "function"):
                wrong.append(f"authType is {have.get('authType')!r}, s.yaml says {want.get('authType')!r}")
        elif trigger["triggerType"] == "timer":
            for key in ("cronExpression", "enable", "payload"):
                if have.get(key) != want.get(key):
                    wrong.append(f"{key} is {have.get(key)!r}, s.yaml says {want.get(key)!r}")
        if wrong:
            report.different(f"{what}: {'; '.join(wrong)}", FIX_DEPLOY)
        else:
            report.ok(what)


def check_account(report: Report, functions: list[dict], flows: list[dict], env: Mapping[str, str],
                  endpoint: str | None, region: str, credentials: Any, instances: list[str]) -> None:
    """The checks of cli/preflight.py, with the clients they read the account through."""
    from ..adapters.ecs import VERSION as ECS_VERSION
    from ..adapters.openapi import RpcClient
    from ..settings import Settings
    from ..wiring import Wiring
    from .preflight import check_instances, check_network, check_regions

    check_regions(report, functions, flows, env)
    # The Tablestore instance API (Ots 2016-06-20, RPC) at ots.<region>.aliyuncs.com (UNCONFIRMED endpoint form).
    instance_api = RpcClient(endpoint or f"ots.{region}.aliyuncs.com", OTS_INSTANCE_VERSION, credentials, region)

    def bound_vpcs(instance: str) -> list[str]:
        body = instance_api.call("ListVpcInfoByInstance", {"InstanceName": instance, "PageSize": 50})
        return [str(v.get("VpcId")) for v in (body.get("VpcInfos") or {}).get("VpcInfo") or []]

    check_network(report, functions, bound_vpcs)
    if instances:       # read as a backup reads them, with the product's own wiring
        settings = Settings.from_env({**env, "NESTBACKUP_REGION": region,
                                      **({"NESTBACKUP_CLOUD_ENDPOINT": endpoint} if endpoint else {})})
        ecs = RpcClient(settings.ecs_endpoint, ECS_VERSION, credentials, region)

        def manual_snapshots(disk_id: str) -> int:
            body = ecs.call("DescribeSnapshots", {"RegionId": region, "DiskId": disk_id, "SnapshotType": "user",
                                                  "MaxResults": 10})
            return int(body.get("TotalCount") or 0)

        check_instances(report, Wiring(settings), instances, manual_snapshots)


def run_doctor(s_yaml: Path, endpoint: str | None, region: str | None, env: Mapping[str, str],
               before_deploy: bool = False, instances: tuple[str, ...] = ()) -> Report:
    from ..adapters.cloudflow import VERSION as FNF_VERSION
    from ..adapters.deployment import describe_flow, table_exists
    from ..adapters.fc import FunctionCompute
    from ..adapters.openapi import Credentials, RpcClient
    from ..adapters.tablestore import Tablestore
    from ..settings import default_endpoint

    resources = read_s_yaml(s_yaml, env)
    functions = [r["props"] for r in resources.values() if isinstance(r, dict) and r.get("component") == "fc3"]
    flows = [r["props"] for r in resources.values() if isinstance(r, dict) and r.get("component") in ("flow", "fnf")]
    region = region or next((p.get("region") for p in functions if p.get("region")), "cn-hangzhou")
    key_id, secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID"), env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    if not key_id or not secret:
        raise CliError("set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    credentials = Credentials(key_id, secret, env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None)
    report = Report()
    check_account(report, functions, flows, env, endpoint, region, credentials, list(instances))
    if before_deploy:
        return report

    fc = FunctionCompute(endpoint, credentials, region)
    for props in functions:
        deployed = fc.function(props["functionName"])
        triggers = fc.triggers(props["functionName"]) if deployed is not None else None
        check_function(report, props, deployed, triggers)

    fnf = RpcClient(endpoint or default_endpoint("fnf", region), FNF_VERSION, credentials, region,
                    legacy_signature=True)
    for props in flows:
        online = describe_flow(fnf, props["name"])
        if online is None:
            report.missing(f"flow {props['name']}", f"render the flows (scripts/render-flows), then {FIX_DEPLOY}")
        elif props.get("roleArn") and online.get("RoleArn") and online["RoleArn"] != props["roleArn"]:
            report.different(f"flow {props['name']}: RoleArn is {online['RoleArn']!r}, s.yaml says "
                             f"{props['roleArn']!r}", FIX_DEPLOY)
        else:
            report.ok(f"flow {props['name']}")

    if instances:           # the databases answer only inside the functions' VPC: the db-rename function checks
        from .preflight import check_database_accounts
        rename = next((p["functionName"] for p in functions if str(p.get("code", "")).rstrip("/").endswith(
            RENAME_FUNCTION_CODE)), "nestbackup-db-rename")
        check_database_accounts(report, list(instances), lambda si: fc.invoke(rename, {"Preflight": si}))

    function_env = next((p.get("environmentVariables") or {} for p in functions), {})
    ots_endpoint = endpoint or function_env.get("NESTBACKUP_OTS_ENDPOINT", "")
    instance = function_env.get("NESTBACKUP_OTS_INSTANCE", "nestbackup")
    table = function_env.get("NESTBACKUP_OTS_TABLE", "nestbackup")
    store = Tablestore.connect(ots_endpoint, key_id, secret, instance, credentials.security_token, table)
    if table_exists(store):
        report.ok(f"table {table} in Tablestore instance {instance}")
    else:
        report.missing(f"table {table} in Tablestore instance {instance}",
                       "run `nestbackup bootstrap` with the deployment's NESTBACKUP_OTS_* settings")

    roles = sorted({p.get("role") for p in functions if p.get("role")})
    report.ok(f"roles {', '.join(roles)}: each function has the one s.yaml names (checked above); their policies "
              f"are derived from the code by `scripts/ram.py` (deploy/ram/), the RAM API is not read")
    return report


@click.command(short_help="Check a deployment against s.yaml.")
@click.option("--s-yaml", "s_yaml", type=click.Path(dir_okay=False, path_type=Path), default="s.yaml",
              show_default=True, help="The Serverless Devs file the deployment was made from.")
@click.option("--endpoint", default=None,
              help="One endpoint for FC, CloudFlow and Tablestore (a local cloud, e.g. http://127.0.0.1:8900). "
                   "Default: the region's public endpoints and s.yaml's NESTBACKUP_OTS_ENDPOINT.")
@click.option("--region", default=None, help="Default: the region s.yaml gives the functions.")
@click.option("--before-deploy", is_flag=True,
              help="Only the checks of the account and the settings (regions, network), before `s deploy`.")
@click.option("--instance", "instances", multiple=True, metavar="SI",
              help="A service instance to check before its first backup (RDS database/table restore, snapshot "
                   "groups, snapshot and backup-set quota; once deployed, the database accounts' privileges); "
                   "repeatable.")
def doctor(s_yaml: Path, endpoint: str | None, region: str | None, before_deploy: bool,
           instances: tuple[str, ...]) -> None:
    """Check an account and a deployment against s.yaml: regions, network, functions, triggers, flows, table, role
    (credentials from ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET)."""
    try:
        report = run_doctor(s_yaml, endpoint, region, environment(), before_deploy, instances)
    except NestBackupError as err:
        raise CliError(str(err)) from None
    total = len(report.lines)
    click.echo(f"{total - report.failed} of {total} checks passed" if report.failed else f"all {total} checks passed")
    raise SystemExit(1 if report.failed else 0)
