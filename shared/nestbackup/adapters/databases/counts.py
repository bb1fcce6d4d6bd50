"""Per-table row counts of one database, the fingerprint a restore is verified against."""
from __future__ import annotations

from ...errors import CloudError
from ...model.engines import MYSQL, POSTGRESQL, SQLSERVER


def row_counts(server, database: str) -> dict[str, int]:
    """Exact row counts of every base table (schema-qualified for PostgreSQL and SQL Server). Reads data:
    verification only."""
    try:
        counter = {MYSQL.name: _mysql, POSTGRESQL.name: _postgres, SQLSERVER.name: _sqlserver}.get(server.engine,
                                                                                                 _postgres)
        return counter(server, database)
    except Exception as exc:  # driver errors of any engine
        if isinstance(exc, CloudError):
            raise
        raise CloudError("DatabaseUnreachable", f"{type(exc).__name__}: {str(exc).strip()[:300]}",
                         action="row_counts") from exc


def _mysql(server, database: str) -> dict[str, int]:
    import pymysql

    from ...decisions.dbnames import quote_mysql
    conn = pymysql.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                           database=database, connect_timeout=10, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = %s AND table_type = 'BASE TABLE'", (database,))
            counts = {}
            for (table,) in cur.fetchall():
                cur.execute(f"SELECT COUNT(*) FROM {quote_mysql(table)}")
                counts[table] = cur.fetchone()[0]
            return counts
    finally:
        conn.close()


def _postgres(server, database: str) -> dict[str, int]:
    import psycopg2

    from ...decisions.dbnames import quote_pg
    conn = psycopg2.connect(host=server.host, port=server.port, user=server.user, password=server.password,
                            dbname=database, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = "
                        "'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')")
            counts = {}
            for schema, table in cur.fetchall():
                cur.execute(f"SELECT COUNT(*) FROM {quote_pg(schema)}.{quote_pg(table)}")
                counts[f"{schema}.{table}"] = cur.fetchone()[0]
            return counts
    finally:
        conn.close()


def _sqlserver(server, database: str) -> dict[str, int]:
    import pytds

    from ...decisions.dbnames import quote_mssql
    q = quote_mssql(database)
    conn = pytds.connect(dsn=server.host, port=int(server.port), user=server.user, password=server.password,
                         database=server.maintenance_db, autocommit=True, login_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT s.name, t.name FROM {q}.sys.tables AS t "
                        f"JOIN {q}.sys.schemas AS s ON s.schema_id = t.schema_id")
            counts = {}
            for schema, table in list(cur.fetchall()):
                cur.execute(f"SELECT COUNT_BIG(*) FROM {q}.{quote_mssql(schema)}.{quote_mssql(table)}")
                counts[f"{schema}.{table}"] = int(cur.fetchone()[0])
            return counts
    finally:
        conn.close()
