"""This machine's PostgreSQL and MariaDB servers (NESTBACKUP_TEST_PG, NESTBACKUP_TEST_MYSQL) as the product's
`DbServer` values, and SQL run on them directly, for the tests of the rename and of the database gateway."""
from __future__ import annotations

from urllib.parse import unquote, urlparse

import psycopg2
import pymysql

from nestbackup.adapters.databases import DbServer
from nestbackup.decisions.dbnames import quote_mysql, quote_pg
from tests.support.databases import MYSQL_DSN, PG_DSN


def db_server(dsn: str, engine: str, default_port: int) -> DbServer:
    u = urlparse(dsn)
    return DbServer(engine, u.hostname or "127.0.0.1", u.port or default_port, unquote(u.username or ""),
                    unquote(u.password or ""), maintenance_db=(u.path.lstrip("/") or "postgres"))


MY = db_server(MYSQL_DSN, "MySQL", 3306)
PG = db_server(PG_DSN, "PostgreSQL", 5432)


def my_conn(db: str | None = None):
    return pymysql.connect(host=MY.host, port=MY.port, user=MY.user, password=MY.password, charset="utf8mb4",
                           autocommit=True, database=db, ssl_disabled=True)   # no TLS set-up: 45 ms each


def my_exec(*sqls: str, db: str | None = None) -> list:
    conn = my_conn(db)
    try:
        out = []
        with conn.cursor() as cur:
            for sql in sqls:
                cur.execute(sql)
                out.append(cur.fetchall())
        return out[-1] if out else []
    finally:
        conn.close()


def my_exists(name: str) -> bool:
    rows = my_exec("SELECT schema_name FROM information_schema.schemata")
    return any(r[0] == name for r in rows)


def my_drop(*names_: str) -> None:
    for name in names_:
        my_exec(f"DROP DATABASE IF EXISTS {quote_mysql(name)}")


def pg_conn(db: str | None = None):
    conn = psycopg2.connect(host=PG.host, port=PG.port, user=PG.user, password=PG.password,
                            dbname=db or PG.maintenance_db)
    conn.autocommit = True
    return conn


def pg_exec(sql: str, args=None, db: str | None = None) -> list:
    conn = pg_conn(db)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def pg_exists(name: str) -> bool:
    return bool(pg_exec("SELECT 1 FROM pg_database WHERE datname = %s", (name,)))


def pg_drop(*names_: str) -> None:
    for name in names_:
        pg_exec(f"DROP DATABASE IF EXISTS {quote_pg(name)} WITH (FORCE)")
