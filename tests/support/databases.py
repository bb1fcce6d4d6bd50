"""The real database servers the slow tests use: PostgreSQL and MariaDB, and the local SQL Server stand-in."""
from __future__ import annotations

import os

PG_DSN = os.environ.get("NESTBACKUP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_DSN = os.environ.get("NESTBACKUP_TEST_MYSQL", "mysql://root@127.0.0.1:3306/")


def mssql_connect(port: int, database: str = "master", user: str = "sa", password: str = ""):
    """pytds to the local SQL Server stand-in on 127.0.0.1:`port` (the local cloud's login: sa, no password)."""
    import pytds
    return pytds.connect(dsn="127.0.0.1", port=port, user=user, password=password, database=database,
                         autocommit=True, login_timeout=5)


def mssql_run(port: int, *statements: str, **login) -> list[tuple]:
    """Run statements on one connection; the rows of the last one (empty when it returns none)."""
    with mssql_connect(port, **login) as conn, conn.cursor() as cur:
        rows: list[tuple] = []
        for statement in statements:
            cur.execute(statement)
            rows = [tuple(r) for r in cur.fetchall()] if cur.description else []
        return rows
