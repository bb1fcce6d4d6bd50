"""The real database servers behind RDS instances, one module per engine: PostgreSQL (postgres.py), MariaDB/MySQL
(mysql.py) and the local SQL Server stand-in (sqlserver.py), over the interface of base.py; the seeding DSN in
dsn.py, the client tools in tools.py. Here: the engine that serves a DSN-backed instance."""
from __future__ import annotations

from .base import Engine
from .dsn import Dsn
from .mysql import MySqlEngine
from .postgres import PgEngine


def engine_for(engine: str, dsn: Dsn) -> Engine:
    if engine == "PostgreSQL":
        if dsn.scheme != "postgresql":
            raise ValueError("a PostgreSQL instance needs a postgresql:// DSN")
        return PgEngine(dsn)
    if engine in ("MySQL", "MariaDB"):
        if dsn.scheme != "mysql":
            raise ValueError("a MySQL instance needs a mysql:// DSN")
        return MySqlEngine(dsn)
    raise ValueError(f"no real engine for {engine}")
