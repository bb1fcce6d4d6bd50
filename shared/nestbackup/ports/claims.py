"""The claims port: what makes creating an operation idempotent and exclusive. A client token binds to the first
record id that claims it, with the fingerprint of its request, until it expires; a service instance's lock is a lease
held by one operation at a time.
`adapters/tablestore.py` implements it with conditional writes."""
from __future__ import annotations

from typing import NamedTuple, Protocol

from ..errors import Conflict


class LockTaken(Conflict):
    """Another holder's lease on the service instance has not expired."""

    def __init__(self, si: str, holder: str | None) -> None:
        super().__init__(f"service instance {si} is busy: {holder or 'another operation'} holds its lock")
        self.holder = holder


class TokenClaim(NamedTuple):
    """Who holds a client token: the record id it is bound to and its request's fingerprint."""
    record_id: str
    fingerprint: str


class Claims(Protocol):
    def claim_token(self, si: str, kind: str, token: str, record_id: str, fingerprint: str, now_ms: int,
                    ttl_ms: int) -> TokenClaim | None:
        """None once `token` is `record_id`'s until `now_ms + ttl_ms` (it was free or expired); else the live claim
        that holds it (a token written without an expiry counts as expired)."""
        ...

    def forget_token(self, si: str, kind: str, token: str, record_id: str) -> bool:
        """Give a token back if `record_id` still holds it, so the same token may be used again; False when another
        record does (or nobody)."""
        ...

    def acquire_lock(self, si: str, holder: str, now_ms: int, lease_ms: int) -> None:
        """Take the lock, or renew one's own; an expired lease is taken over. LockTaken while another holder's
        lease runs."""
        ...

    def lock_holder(self, si: str, now_ms: int) -> str | None: ...

    def release_lock(self, si: str, holder: str) -> bool:
        """Let the lock go if `holder` has it; False when someone else does (or nobody)."""
        ...
