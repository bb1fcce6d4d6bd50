"""The database gateway port (`ports.gateway.DatabaseGateway`) over the engine adapters: one RDS instance's
databases reached as one account, for the swap of restored databases into their names, for row counts, and for
what the account lacks for the swap.

The account comes from a secret that may be rotated: when the server refuses the login, the gateway asks
`reread` for the account once more (read afresh from the secret store) and, if it changed, runs the call again
with it. A second refusal is the caller's."""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Callable, TypeVar

from . import DbServer, rename_back, roll_back
from .counts import row_counts
from .privileges import missing_privileges

if TYPE_CHECKING:
    from ...decisions.privileges import PrivilegeGap

T = TypeVar("T")
# The servers' codes for a refused login: MySQL ER_ACCESS_DENIED_ERROR, PostgreSQL invalid_password /
# invalid_authorization_specification, SQL Server "Login failed for user".
_LOGIN_REFUSED_CODES = {1045, "28P01", "28000", 18456}
_LOGIN_REFUSED_TEXTS = ("password authentication failed", "access denied for user", "login failed for user")


def login_refused(exc: BaseException | None) -> bool:
    """Whether `exc` (or what it was raised from) is the database server refusing the account's login."""
    while exc is not None:
        code = getattr(exc, "code", None) or getattr(exc, "pgcode", None) or getattr(exc, "number", None)
        if code is None and getattr(exc, "args", None) and isinstance(exc.args[0], int):
            code = exc.args[0]
        if code in _LOGIN_REFUSED_CODES or any(t in str(exc).lower() for t in _LOGIN_REFUSED_TEXTS):
            return True
        exc = exc.__cause__
    return False


class SqlDatabases:
    def __init__(self, server: DbServer, reread: Callable[[], tuple[str, str]] | None = None) -> None:
        self.server = server
        self._reread = reread

    @classmethod
    def connect_to(cls, *, engine: str, host: str, port: int, user: str, password: str,
                   maintenance_db: str, reread: Callable[[], tuple[str, str]] | None = None) -> SqlDatabases:
        """`reread`: the (user, password) read afresh, called at most once after a refused login."""
        return cls(DbServer(engine=engine, host=host, port=port, user=user, password=password,
                            maintenance_db=maintenance_db), reread)

    def _run(self, call: Callable[[DbServer], T]) -> T:
        try:
            return call(self.server)
        except Exception as exc:  # any engine's driver error: only a refused login is retried
            if self._reread is None or not login_refused(exc):
                raise
            reread, self._reread = self._reread, None
            user, password = reread()
            if (user, password) == (self.server.user, self.server.password):
                raise
            self.server = replace(self.server, user=user, password=password)
        return call(self.server)

    def row_counts(self, database: str) -> dict[str, int]:
        return self._run(lambda server: row_counts(server, database))

    def rename_back(self, original: str, restored: str, aside: str) -> bool:
        return self._run(lambda server: bool(rename_back(server, original, restored, aside).aside_kept))

    def roll_back(self, original: str, restored: str, aside: str) -> None:
        self._run(lambda server: roll_back(server, original, restored, aside))

    def missing_privileges(self, databases: list[str]) -> list[PrivilegeGap]:
        return self._run(lambda server: missing_privileges(server, databases))
