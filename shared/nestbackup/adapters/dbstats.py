"""Per-table row counts of one database, the fingerprint a restore is verified against."""
from __future__ import annotations

from ..errors import CloudError


def row_counts(server, database: str) -> dict[str, int]:
    """Exact row counts of every base table (schema-qualified for PostgreSQL). Reads data: verification only."""
    from ..steps.dbnames import quote_mysql, quote_pg
    try:
        if server.engine == "MySQL":
            import pymysql
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
        import psycopg2
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
    except Exception as exc:  # driver errors of either engine
        if isinstance(exc, CloudError):
            raise
        raise CloudError("DatabaseUnreachable", f"{type(exc).__name__}: {str(exc).strip()[:300]}",
                         action="row_counts") from exc
