"""What a database account needs for the restore's swap of names (adapters/databases: the statements it runs), and
the statement that grants what it lacks. The adapter reads what the account holds; this decides what is missing.

MySQL / MariaDB, on the live database and on the aside and restored ones (new names, so a grant on `*.*` or a
pattern matching them): the tables move by RENAME TABLE (ALTER and DROP where they leave, CREATE and INSERT where
they arrive), the aside database and its journal table are created, written and dropped (CREATE, INSERT, UPDATE,
SELECT, DROP), the database's character set is changed (ALTER), and triggers, views, routines and events are read,
dropped and made again (TRIGGER, SHOW VIEW, CREATE VIEW, CREATE ROUTINE, ALTER ROUTINE, EVENT). All of them are
needed even when the database holds no such object today: one added later would stop a restore half way.

PostgreSQL: ALTER DATABASE … RENAME needs the database's ownership (or membership in its owner role) and CREATEDB,
as do ALTER DATABASE … ALLOW_CONNECTIONS and the empty mark database; ending the other sessions
(pg_terminate_backend) needs pg_signal_backend. A superuser has all of it.

SQL Server: ALTER DATABASE … SET SINGLE_USER / MODIFY NAME need ALTER on each database, CREATE DATABASE for the mark
database: the dbcreator server role gives both."""
from __future__ import annotations

from typing import NamedTuple

from .dbnames import quote_mssql, quote_mysql, quote_pg

ACCOUNT = ""            # a gap's database when it is the account's own (every database, and those not made yet)

MYSQL_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "CREATE", "DROP", "ALTER", "CREATE VIEW", "SHOW VIEW", "TRIGGER",
                    "CREATE ROUTINE", "ALTER ROUTINE", "EVENT")
PG_CREATEDB, PG_SIGNAL_BACKEND, PG_OWNER = "CREATEDB", "pg_signal_backend", "ownership"
MSSQL_DBCREATOR = "dbcreator"


class PrivilegeGap(NamedTuple):
    """What the account lacks for the swap of one database (`ACCOUNT`: for all of them), and the statement(s), run
    by an account that may grant them, that give it."""
    database: str
    missing: tuple[str, ...]
    fix: str


def mysql_gaps(account: str, server_wide: set[str], on_database: dict[str, set[str]],
               on_new: set[str]) -> list[PrivilegeGap]:
    """`server_wide`: the account's global privileges; `on_database`: those it holds on each live database;
    `on_new`: those it holds on every aside and restored name the swap would use (through a pattern grant).
    `account`: CURRENT_USER()'s user@host."""
    gaps = []
    for name, have in [(ACCOUNT, on_new), *on_database.items()]:
        missing = tuple(p for p in MYSQL_PRIVILEGES if p not in server_wide | have)
        if missing:
            on = "*.*" if name == ACCOUNT else f"{quote_mysql(_grant_pattern(name))}.*"
            gaps.append(PrivilegeGap(name, missing, f"GRANT {', '.join(missing)} ON {on} TO {mysql_account(account)}"))
    return gaps


def _grant_pattern(name: str) -> str:
    """A database name as GRANT matches it: `_` and `%` are wildcards there, so escaped."""
    return name.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


def mysql_account(current_user: str) -> str:
    """CURRENT_USER()'s user@host as GRANT names it: 'user'@'host'."""
    user, _, host = current_user.rpartition("@")
    return f"'{user}'@'{host}'" if user else f"'{current_user}'"


def pg_gaps(user: str, superuser: bool, createdb: bool, signal_backend: bool,
            owners: dict[str, str | None]) -> list[PrivilegeGap]:
    """`owners`: each database's owner role, None when the account is (or is a member of) its owner."""
    if superuser:
        return []
    gaps = []
    role = quote_pg(user)
    missing = tuple(p for p, held in ((PG_CREATEDB, createdb), (PG_SIGNAL_BACKEND, signal_backend)) if not held)
    if missing:
        fixes = [f"ALTER ROLE {role} CREATEDB"] if not createdb else []
        fixes += [f"GRANT pg_signal_backend TO {role}"] if not signal_backend else []
        gaps.append(PrivilegeGap(ACCOUNT, missing, "; ".join(fixes)))
    for name, owner in owners.items():
        if owner is not None:
            gaps.append(PrivilegeGap(name, (PG_OWNER,), f"GRANT {quote_pg(owner)} TO {role}"))
    return gaps


def sqlserver_gaps(login: str, may_create: bool, may_alter: dict[str, bool]) -> list[PrivilegeGap]:
    """`may_create`: CREATE ANY DATABASE; `may_alter`: ALTER on each database."""
    lacking = [name for name, held in may_alter.items() if not held]
    if may_create and not lacking:
        return []
    fix = f"ALTER SERVER ROLE dbcreator ADD MEMBER {quote_mssql(login)}"
    gaps = [] if may_create else [PrivilegeGap(ACCOUNT, ("CREATE ANY DATABASE",), fix)]
    return gaps + [PrivilegeGap(name, ("ALTER",), fix) for name in lacking]


def describe(gap: PrivilegeGap) -> str:
    """What the account lacks where, in a few words, for the doctor."""
    where = ("on the server (for every database, and the aside and restored ones the swap makes)"
             if gap.database == ACCOUNT else f"on database {gap.database}")
    return f"lacks {', '.join(gap.missing)} {where}"
