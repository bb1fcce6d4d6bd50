"""The admin token is the deployment's secret, not a setting: the API reads it through the secrets port, and a
bearer token that matches nothing reads the secret again (it may have been rotated) before it is refused."""
from __future__ import annotations

from nestbackup.api.app import handle
from nestbackup.api.http import Request
from tests.support.memory.wiring import MemoryWiring


def _status(w: MemoryWiring, token: str) -> int:
    req = Request("GET", "/api/backups", headers={"authorization": f"Bearer {token}"})     # every instance's: admin
    return handle(req, lambda: w).status


def test_the_admin_token_comes_from_its_secret_and_a_rotation_is_picked_up_at_once():
    w = MemoryWiring(admin_token_secret="nestbackup-admin-token")
    w.secrets.values["nestbackup-admin-token"] = "first-token"
    assert _status(w, "first-token") == 200
    assert _status(w, "not-the-token") == 401
    w.secrets.values["nestbackup-admin-token"] = "rotated-token"         # PutSecretValue
    assert _status(w, "rotated-token") == 200                              # read again, not after the TTL
    assert _status(w, "first-token") == 401


def test_without_an_admin_token_secret_no_token_is_the_admins():
    w = MemoryWiring()
    assert _status(w, "anything") == 401
    assert w.secrets.reads == {}
