"""`nestbackup local …`: start the local cloud, or seed one through its control plane."""
from __future__ import annotations

import json
import signal
import threading
import urllib.error
import urllib.request

import click

from ..settings import db_accounts_override
from .errors import CliError

API_FUNCTION = "nestbackup-api"


def product_function_env(admin_token: str | None, **overrides: str) -> dict[str, str]:
    """What the local cloud changes in the environment s.yaml gives the functions: the local cloud's endpoints
    ("{endpoint}" is filled in), its Tablestore instance and database accounts."""
    env = {"NESTBACKUP_CLOUD_ENDPOINT": "{endpoint}", "NESTBACKUP_OTS_ENDPOINT": "{endpoint}",
           "NESTBACKUP_OTS_INSTANCE": "nestbackup",
           "NESTBACKUP_OTS_TABLE": "nestbackup", "NESTBACKUP_REGION": "cn-hangzhou",
           # The accounts db-rename and verification use on the local RDS instances (this machine's servers).
           "NESTBACKUP_DB_ACCOUNTS": db_accounts_override() or json.dumps(
               {"MySQL": {"User": "root", "Password": ""}, "PostgreSQL": {"User": "postgres", "Password": ""},
                "SQLServer": {"User": "sa", "Password": ""}})}
    if admin_token:
        env["NESTBACKUP_ADMIN_TOKEN"] = admin_token
    env.update(overrides)
    return env


def start_local_cloud(state_dir: str | None, admin_token: str | None = None, host: str = "127.0.0.1",
                      port: int = 0, credentials: dict[str, str] | None = None, flow_wait_scale: float = 1.0,
                      fire_timers: bool = False, s_yaml: str | None = None, **env_overrides: str):
    """A local cloud serving the product: its flows, its functions in-process, the API under /api, and the
    Tablestore table created; with `fire_timers`, s.yaml's timer triggers fire on their cron, as FC fires them;
    `s_yaml`: deploy from another file than the repository's s.yaml (its functions' code paths must resolve).
    Returns the started server (stop it with .stop())."""
    from localcloud.cloud import LocalCloud
    from localcloud.server import LocalCloudServer

    from ..wiring import Settings, Wiring

    cloud = LocalCloud(state_dir, credentials=credentials, admin_token=admin_token, flow_wait_scale=flow_wait_scale,
                       s_yaml=s_yaml,
                       function_env=product_function_env(admin_token, **env_overrides),
                       http_triggers={"/api": API_FUNCTION}, fire_timers=fire_timers)
    try:
        server = LocalCloudServer(cloud, host=host, port=port)
    except OSError as err:
        cloud.close()
        raise CliError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    server.start_in_thread()
    Wiring(Settings.from_env()).records.ensure_table()
    return server


def serve(port: int, host: str, state_dir: str | None, admin_token: str | None,
          access_key_id: str | None, access_key_secret: str | None) -> None:
    from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET

    credentials = {access_key_id or DEFAULT_ACCESS_KEY_ID: access_key_secret or DEFAULT_ACCESS_KEY_SECRET}
    server = start_local_cloud(state_dir, admin_token, host, port, credentials, fire_timers=True)
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
