"""The secrets port: values kept out of the functions' configuration (database accounts, the admin token), read at
run time with the function's own role. `adapters/kms.py` implements it over KMS secrets (GetSecretValue)."""
from __future__ import annotations

from typing import Protocol


class Secrets(Protocol):
    def read(self, name: str, *, fresh: bool = False) -> str:
        """The current value of secret `name`, cached for the settings' TTL; `fresh` reads it again now (a
        rotation made the cached value stale), unless it was already read on demand in the last
        `FRESH_READ_SECONDS`.
        NotFound when there is no such secret; CloudError when it cannot be read (e.g. the role may not)."""
        ...


# A value that failed (a refused login, an unknown bearer token) is read again at most this often, so that a
# stream of bad tokens costs no more than one KMS call a minute.
FRESH_READ_SECONDS = 60
