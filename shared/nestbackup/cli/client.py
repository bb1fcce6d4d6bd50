"""A small client of the nestbackup HTTP API, for the CLI."""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

from ..model.status import BACKUP_FINAL, RESTORE_FINAL
from .errors import CliError

# The statuses a backup or restore record ends in: following it stops there.
FINAL = {str(s) for s in BACKUP_FINAL | RESTORE_FINAL}


def record_path(record: dict) -> str:
    """The API path of a backup or restore record."""
    return f"/restores/{record['RestoreId']}" if "RestoreId" in record else f"/backups/{record['BackupId']}"


class ApiClient:
    def __init__(self, endpoint: str, token: str | None, timeout: float = 60) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.token = token
        self.timeout = timeout
        host = urllib.parse.urlsplit(self.endpoint).hostname or ""
        # Never send loopback traffic through a proxy; elsewhere honour the environment's proxy settings.
        handlers = [urllib.request.ProxyHandler({})] if host in ("127.0.0.1", "localhost", "::1") else []
        self._opener = urllib.request.build_opener(*handlers)

    def call(self, method: str, path: str, body: dict | None = None, query: dict | None = None) -> dict:
        url = self.endpoint + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                         method=method, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            try:
                payload = json.loads(err.read())
                request_id = f" ({payload['RequestId']})" if payload.get("RequestId") else ""
                message = f"{payload.get('Code', err.code)}: {payload.get('Message', err.reason)}{request_id}"
            except (ValueError, AttributeError):
                message = f"HTTP {err.code}: {err.reason}"
            raise CliError(message) from None
        except urllib.error.URLError as err:
            raise CliError(f"cannot reach the API at {self.endpoint}: {err.reason}") from None
        except (TimeoutError, OSError) as err:
            raise CliError(f"cannot reach the API at {self.endpoint}: {err}") from None
