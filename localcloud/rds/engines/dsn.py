"""The DSN an RDS instance is seeded with: where its real PostgreSQL or MariaDB/MySQL server is, who logs in, and
which of its databases the instance stands for (`?databases=`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Dsn:
    scheme: str                 # "postgresql" | "mysql"
    host: str
    port: int
    user: str
    password: str | None
    dbname: str | None          # pg: the maintenance database to connect to
    databases: list[str] | None = field(default=None)  # ?databases=a,b

    @property
    def redacted(self) -> str:
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}"


def parse_dsn(dsn: str) -> Dsn:
    """postgresql://user[:password]@host:port/db?databases=a,b  or  mysql://user[:password]@host:port/?databases=a,b"""
    parts = urlsplit(dsn)
    scheme = {"postgresql": "postgresql", "postgres": "postgresql", "mysql": "mysql",
              "mariadb": "mysql"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"unsupported DSN scheme {parts.scheme!r} (use postgresql:// or mysql://)")
    if not parts.hostname:
        raise ValueError("the DSN names no host")
    try:
        port = parts.port or (5432 if scheme == "postgresql" else 3306)
    except ValueError:
        raise ValueError("the DSN's port is not a number") from None
    user = unquote(parts.username) if parts.username else ("postgres" if scheme == "postgresql" else "root")
    password = unquote(parts.password) if parts.password is not None else None
    path = unquote(parts.path.lstrip("/"))
    query = parse_qs(parts.query, keep_blank_values=True)
    databases = None
    if "databases" in query:
        databases = [d for raw in query["databases"] for d in raw.split(",") if d]
    return Dsn(scheme, parts.hostname, port, user, password,
               (path or "postgres") if scheme == "postgresql" else (path or None), databases)


