"""`nestbackup local …`: start the local cloud, or seed one through its control plane."""
from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request

import click

from .errors import CliError


def serve(port: int, host: str, state_dir: str | None, admin_token: str | None,
          access_key_id: str | None, access_key_secret: str | None) -> None:
    from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
    from localcloud.cloud import LocalCloud
    from localcloud.server import LocalCloudServer

    credentials = {access_key_id or DEFAULT_ACCESS_KEY_ID: access_key_secret or DEFAULT_ACCESS_KEY_SECRET}
    cloud = LocalCloud(state_dir, credentials=credentials, admin_token=admin_token)
    try:
        server = LocalCloudServer(cloud, host=host, port=port)
    except OSError as err:
        cloud.close()
        raise CliError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    click.echo(f"local cloud on {server.endpoint} (state in {cloud.state_dir})", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
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
