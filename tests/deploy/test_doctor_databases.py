"""`nestbackup doctor --instance` checks each RDS instance's database account where only the functions can: the
deployed db-rename function (invoked by the doctor through FC InvokeFunction, under its own RAM role) connects as
the account the KMS secret holds, to this machine's MariaDB and PostgreSQL, and says what the restore's swap lacks.
Throwaway accounts that may only read are each reported with the GRANT that fixes them, exit 1; once the fixes
are run, the check passes."""
from __future__ import annotations

import uuid

import psycopg2
import pymysql
import pytest

from nestbackup.cli.local import start_local_cloud
from nestbackup.decisions.dbnames import quote_mysql, quote_pg
from tests.deploy.test_doctor import ROOT, doctor
from tests.support import Control

pytestmark = pytest.mark.slow


def pg(sql: str) -> None:
    conn = psycopg2.connect(host="127.0.0.1", user="postgres", dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for statement in sql.split("; "):
                cur.execute(statement)
    finally:
        conn.close()


def my(*sqls: str) -> None:
    conn = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
    try:
        with conn.cursor() as cur:
            for sql in sqls:
                cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture
def limited_accounts():
    """A MariaDB and a PostgreSQL database, each readable only by a throwaway account (the PostgreSQL one owned by
    another role); all dropped afterwards."""
    tag = uuid.uuid4().hex[:10]
    db, my_user, pg_user, pg_owner = f"nbd_{tag}", f"nbu_{tag}", f"nbu_{tag}", f"nbo_{tag}"
    my(f"CREATE DATABASE {quote_mysql(db)}", f"CREATE USER '{my_user}'@'%' IDENTIFIED BY 'limited'",
       f"GRANT SELECT ON {quote_mysql(db)}.* TO '{my_user}'@'%'")
    pg(f"CREATE ROLE {quote_pg(pg_owner)} NOLOGIN; CREATE ROLE {quote_pg(pg_user)} LOGIN PASSWORD 'limited'")
    pg(f"CREATE DATABASE {quote_pg(db)} OWNER {quote_pg(pg_owner)}")
    yield db, {"MySQL": {"User": my_user, "Password": "limited"},
               "PostgreSQL": {"User": pg_user, "Password": "limited"}}
    my(f"DROP DATABASE IF EXISTS {quote_mysql(db)}", f"DROP USER IF EXISTS '{my_user}'@'%'")
    pg(f"DROP DATABASE IF EXISTS {quote_pg(db)} WITH (FORCE)")
    pg(f"DROP ROLE IF EXISTS {quote_pg(pg_user)}; DROP ROLE IF EXISTS {quote_pg(pg_owner)}")


def test_each_database_account_is_checked_from_the_functions_and_its_fixes_make_it_pass(tmp_path, limited_accounts):
    db, accounts = limited_accounts
    server = start_local_cloud(str(tmp_path / "state"), s_yaml=str(ROOT / "s.yaml"), db_accounts=accounts)
    try:
        seeded = Control(server.endpoint).seed(
            ServiceInstanceId="si-accounts", Disks=1, DiskSize="1MiB", Fill=False,
            MySQL=f"mysql://root@127.0.0.1:3306/?databases={db}",
            Postgres=f"postgresql://postgres@127.0.0.1:5432/postgres?databases={db}")
        rds = {d["Engine"]: d["DBInstanceId"] for d in seeded["DBInstances"]}
        done = doctor(server.endpoint, "--instance", "si-accounts")
        assert done.returncode == 1, done.stdout + done.stderr
        failed = [line for line in done.stdout.splitlines() if line.startswith("DATABASE")]
        my_user, pg_user = accounts["MySQL"]["User"], accounts["PostgreSQL"]["User"]
        every = ("SELECT, INSERT, UPDATE, CREATE, DROP, ALTER, CREATE VIEW, SHOW VIEW, TRIGGER, CREATE ROUTINE, "
                 "ALTER ROUTINE, EVENT")
        escaped = db.replace("_", "\\_")
        assert sorted(failed) == sorted([
            f"DATABASE  RDS {rds['MySQL']} (MySQL) of si-accounts: the account lacks {every} on the server (for "
            f"every database, and the aside and restored ones the swap makes) - fix: GRANT {every} ON *.* TO "
            f"'{my_user}'@'%'",
            f"DATABASE  RDS {rds['MySQL']} (MySQL) of si-accounts: the account lacks {every[8:]} on database {db} - "
            f"fix: GRANT {every[8:]} ON `{escaped}`.* TO '{my_user}'@'%'",
            f"DATABASE  RDS {rds['PostgreSQL']} (PostgreSQL) of si-accounts: the account lacks CREATEDB, "
            f"pg_signal_backend on the server (for every database, and the aside and restored ones the swap makes) "
            f"- fix: ALTER ROLE \"{pg_user}\" CREATEDB; GRANT pg_signal_backend TO \"{pg_user}\"",
            f"DATABASE  RDS {rds['PostgreSQL']} (PostgreSQL) of si-accounts: the account lacks ownership on database "
            f"{db} - fix: GRANT \"nbo_{db[4:]}\" TO \"{pg_user}\""])
        for line in failed:                                     # the fixes, run as the administrator
            fix = line.split(" - fix: ", 1)[1]
            pg(fix) if "(PostgreSQL)" in line else my(fix)
        done = doctor(server.endpoint, "--instance", "si-accounts")
        assert done.returncode == 0, done.stdout + done.stderr
        for engine in ("MySQL", "PostgreSQL"):
            assert f"ok        RDS {rds[engine]} ({engine}) of si-accounts: the account connects and may swap " \
                   f"databases {db}" in done.stdout
        done = doctor(server.endpoint, "--instance", "si-nobody")    # the function refuses it: one line, no trace
        assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
        assert [line.split(": ", 1)[0] for line in done.stdout.splitlines() if line.startswith("DATABASE")] == [
            "DATABASE  service instance si-nobody"]
        assert "the database check did not run" in done.stdout and "no service instance si-nobody" in done.stdout
    finally:
        server.stop()
