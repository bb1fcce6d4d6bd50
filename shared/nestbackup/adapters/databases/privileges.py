"""What the account holds, read from each engine's catalog without changing anything, for the doctor's check of the
privileges the swap needs (decisions/privileges.py decides what is missing).

MySQL / MariaDB: the account's global privileges (information_schema.USER_PRIVILEGES) and its database-level ones
(SCHEMA_PRIVILEGES, whose names may be GRANT patterns, matched with LIKE as the server matches them), for
CURRENT_USER(). Privileges given through a role are not seen (they are reported missing): RDS grants accounts
directly. PostgreSQL: pg_roles and pg_database, membership through pg_has_role(…, 'USAGE'), as the server's own
ownership and pg_signal_backend checks count it. SQL Server: HAS_PERMS_BY_NAME."""
from __future__ import annotations

from ...decisions.dbnames import aside_name, restored_name
from ...decisions.privileges import PrivilegeGap, mysql_gaps, pg_gaps, sqlserver_gaps
from ...errors import CloudError
from ...model.engines import MYSQL, SQLSERVER, engine_of
from .values import DbServer

# The aside and restored names checked for a pattern grant: those of a restore with this id.
SAMPLE_RESTORE_ID = "preflight"


def missing_privileges(server: DbServer, databases: list[str]) -> list[PrivilegeGap]:
    engine = engine_of(server.engine)
    reader = _mysql if engine is MYSQL else _sqlserver if engine is SQLSERVER else _postgres
    try:
        return reader(server, databases)
    except Exception as exc:  # driver errors of any engine; the gateway retries a refused login once
        if isinstance(exc, CloudError):
            raise
        raise CloudError("DatabaseUnreachable", f"{type(exc).__name__}: {str(exc).strip()[:300]}",
                         action="missing_privileges") from exc


def _mysql(server: DbServer, databases: list[str]) -> list[PrivilegeGap]:
    import pymysql
    conn = pymysql.connect(host=server.host, port=int(server.port), user=server.user, password=server.password,
                           connect_timeout=server.connect_timeout, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT CURRENT_USER()")
            account = str(cur.fetchone()[0])
            user, _, host = account.rpartition("@")
            grantee = f"'{user}'@'{host}'"

            def held(sql: str, *args: str) -> set[str]:
                cur.execute(sql, (grantee, *args))
                return {str(row[0]).upper() for row in cur.fetchall()}

            server_wide = held("SELECT privilege_type FROM information_schema.USER_PRIVILEGES WHERE grantee = %s")

            def on(name: str) -> set[str]:
                return held("SELECT privilege_type FROM information_schema.SCHEMA_PRIVILEGES "
                            "WHERE grantee = %s AND %s LIKE table_schema", name)

            on_database = {name: on(name) for name in databases}
            new_names = [make(name, SAMPLE_RESTORE_ID, MYSQL.name) for name in databases
                         for make in (aside_name, restored_name)] or [f"nestbackup{SAMPLE_RESTORE_ID}"]
            on_new = set.intersection(*(on(name) for name in new_names))
            return mysql_gaps(account, server_wide, on_database, on_new)
    finally:
        conn.close()


def _postgres(server: DbServer, databases: list[str]) -> list[PrivilegeGap]:
    import psycopg2
    conn = psycopg2.connect(host=server.host, port=int(server.port), user=server.user, password=server.password,
                            dbname=server.maintenance_db, connect_timeout=server.connect_timeout)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT current_user, rolsuper, rolcreatedb, "
                        "pg_has_role(current_user, 'pg_signal_backend', 'USAGE') "
                        "FROM pg_roles WHERE rolname = current_user")
            user, superuser, createdb, signal_backend = cur.fetchone()
            cur.execute("SELECT datname, pg_get_userbyid(datdba), pg_has_role(current_user, datdba, 'USAGE') "
                        "FROM pg_database WHERE datname = ANY(%s)", (list(databases),))
            owners = {name: None if owned else str(owner) for name, owner, owned in cur.fetchall()}
        return pg_gaps(str(user), bool(superuser), bool(createdb), bool(signal_backend), owners)
    finally:
        conn.close()


def _sqlserver(server: DbServer, databases: list[str]) -> list[PrivilegeGap]:
    import pytds

    from ...decisions.dbnames import literal_mssql
    conn = pytds.connect(dsn=server.host, port=int(server.port), user=server.user, password=server.password,
                         database=server.maintenance_db, autocommit=True, login_timeout=server.connect_timeout)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT SUSER_SNAME(), HAS_PERMS_BY_NAME(NULL, NULL, N'CREATE ANY DATABASE')")
            login, may_create = cur.fetchone()
            may_alter = {}
            for name in databases:
                cur.execute(f"SELECT HAS_PERMS_BY_NAME({literal_mssql(name)}, N'DATABASE', N'ALTER')")
                may_alter[name] = cur.fetchone()[0] == 1
        return sqlserver_gaps(str(login), may_create == 1, may_alter)
    finally:
        conn.close()
