"""`nestbackup local …`: start the local cloud, or seed one through its control plane."""
from __future__ import annotations

import json
import re
import signal
import threading
import urllib.error
import urllib.request
from pathlib import Path

import click

from ..settings import local_db_accounts
from .errors import CliError

API_FUNCTION = "nestbackup-api"
OTS_INSTANCE = "nestbackup"
# The KMS secrets the local cloud's functions read (s.yaml names the same by default).
DB_ACCOUNTS_SECRET = "nestbackup-db-accounts"
ADMIN_TOKEN_SECRET = "nestbackup-admin-token"
# This machine's database servers (scripts/start-databases); NESTBACKUP_DB_ACCOUNTS replaces them (local development
# only: it is seeded into the local KMS secret, never given to a function).
LOCAL_DB_ACCOUNTS = {"MySQL": {"User": "root", "Password": ""}, "PostgreSQL": {"User": "postgres", "Password": ""},
                     "SQLServer": {"User": "sa", "Password": ""}}
_REPO = Path(__file__).resolve().parents[3]


def product_function_env(**overrides: str) -> dict[str, str]:
    """What the local cloud changes in the environment s.yaml gives the functions: the local cloud's endpoints
    ("{endpoint}" is filled in), its Tablestore instance and the names of the KMS secrets. Not the Tablestore
    endpoint: the functions reach Tablestore on s.yaml's (VPC) endpoint, through the network the local cloud models."""
    env = {"NESTBACKUP_CLOUD_ENDPOINT": "{endpoint}", "NESTBACKUP_OTS_INSTANCE": OTS_INSTANCE,
           "NESTBACKUP_OTS_TABLE": "nestbackup", "NESTBACKUP_REGION": "cn-hangzhou",
           "NESTBACKUP_DB_ACCOUNTS_SECRET": DB_ACCOUNTS_SECRET, "NESTBACKUP_ADMIN_TOKEN_SECRET": ADMIN_TOKEN_SECRET}
    env.update(overrides)
    return env


def role_policies(values: dict[str, str], ram_dir: Path = _REPO / "deploy" / "ram") -> dict[str, dict]:
    """The functions' roles as s.yaml names them (nestbackup-<group>), each with its derived policy
    (deploy/ram/<group>-policy.json) filled in for the local cloud as scripts/render-policies fills it in for an
    account; {} when the repository's policies are not there (an installed package)."""
    out = {}
    for source in sorted(ram_dir.glob("*-policy.json")) if ram_dir.is_dir() else []:
        text = re.sub(r"\$\{(\w+)\}", lambda m: values[m[1]], source.read_text())
        out["nestbackup-" + source.name.removesuffix("-policy.json")] = json.loads(text)
    return out


def start_local_cloud(state_dir: str | None, admin_token: str | None = None, host: str = "127.0.0.1",
                      port: int = 0, credentials: dict[str, str] | None = None, flow_wait_scale: float = 1.0,
                      s_yaml: str | None = None, db_accounts: dict | None = None, enforce_ram: bool = True,
                      policies: dict[str, dict] | None = None, fire_timers: bool = False,
                      ecs_calls_per_minute: int | None = None, **env_overrides: str):
    """A local cloud serving the product: its flows, its functions in-process (each with its role's credentials,
    checked against the role's derived policy unless `enforce_ram` is off; `policies` replaces the derived ones),
    the API under /api, the VPC of the functions bound to the Tablestore instance (docs/deploy.md, step
    "Tablestore"), the Tablestore table created and the KMS secrets (database accounts, admin token) in place;
    with `fire_timers`, s.yaml's timer triggers fire on their cron, as FC fires them.
    Returns the started server (stop it with .stop())."""
    from localcloud.cloud import LocalCloud
    from localcloud.server import LocalCloudServer

    from ..wiring import Settings, Wiring

    env = product_function_env(**env_overrides)
    if policies is None and enforce_ram:
        policies = role_policies({"region": "cn-hangzhou", "accountId": "1234567890123456",
                                  "otsInstance": env["NESTBACKUP_OTS_INSTANCE"],
                                  "otsTable": env["NESTBACKUP_OTS_TABLE"],
                                  "dbAccountsSecret": env["NESTBACKUP_DB_ACCOUNTS_SECRET"],
                                  "adminTokenSecret": env["NESTBACKUP_ADMIN_TOKEN_SECRET"]})
    cloud = LocalCloud(state_dir, credentials=credentials, flow_wait_scale=flow_wait_scale,
                       s_yaml=s_yaml, function_env=env, http_triggers={"/api": API_FUNCTION},
                       role_policies=policies if enforce_ram else None, fire_timers=fire_timers,
                       ecs_calls_per_minute=ecs_calls_per_minute)
    if db_accounts is None:
        db_accounts = json.loads(local_db_accounts() or "null") or LOCAL_DB_ACCOUNTS
    cloud.kms.put_secret(env["NESTBACKUP_DB_ACCOUNTS_SECRET"], db_accounts)
    if admin_token:
        cloud.kms.put_secret(env["NESTBACKUP_ADMIN_TOKEN_SECRET"], admin_token)
    cloud.ots_instances.configure(OTS_INSTANCE, vpcs={spec.vpc_id: OTS_INSTANCE
                                                      for spec in cloud.fc.functions.values() if spec.vpc_id})
    try:
        server = LocalCloudServer(cloud, host=host, port=port)
    except OSError as err:
        cloud.close()
        raise CliError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    server.start_in_thread()
    Wiring(Settings.from_env()).records.ensure_table()
    return server


def serve(port: int, host: str, state_dir: str | None, admin_token: str | None,
          access_key_id: str | None, access_key_secret: str | None, ecs_calls_per_minute: int | None = None) -> None:
    from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

    credentials = {access_key_id or DEFAULT_ACCESS_KEY_ID: access_key_secret or DEFAULT_ACCESS_KEY_SECRET}
    server = start_local_cloud(state_dir, admin_token, host, port, credentials, fire_timers=True,
                               ecs_calls_per_minute=ecs_calls_per_minute)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    click.echo(f"local cloud on {server.endpoint} (state in {server.cloud.state_dir}); API on {server.endpoint}/api;"
               f" s.yaml's timer triggers fire on their cron", err=True)
    try:
        stopped.wait()
    finally:
        server.stop()


def seed(endpoint: str, spec: dict) -> dict:
    request = urllib.request.Request(endpoint.rstrip("/") + "/_local/seed", data=json.dumps(spec).encode(),
                                     method="POST", headers={"content-type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=600) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        try:
            message = json.loads(err.read()).get("Message", err.reason)
        except ValueError:
            message = err.reason
        raise CliError(f"seed refused: {message}") from None
    except urllib.error.URLError as err:
        raise CliError(f"no local cloud at {endpoint}: {err.reason}") from None
