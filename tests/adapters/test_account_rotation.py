"""A database account rotated in its secret: the gateway, refused at login with the account it was given, reads the
account again once and goes on with the new one; a second refusal is the caller's. Real MariaDB (which checks
passwords; the local PostgreSQL trusts every local login)."""
from __future__ import annotations

import uuid

import pymysql
import pytest

from nestbackup.adapters.databases.gateway import SqlDatabases, login_refused
from nestbackup.errors import CloudError

pytestmark = pytest.mark.slow


@pytest.fixture
def account():
    root = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
    user, db = "nb_rot_" + uuid.uuid4().hex[:6], "nb_rot_" + uuid.uuid4().hex[:6]
    with root.cursor() as cur:
        cur.execute(f"CREATE DATABASE {db}")
        cur.execute(f"CREATE TABLE {db}.t (id INT)")
        cur.execute(f"INSERT INTO {db}.t VALUES (1), (2)")
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'new-password'")
        cur.execute(f"GRANT ALL ON {db}.* TO '{user}'@'%'")
    yield user, db
    with root.cursor() as cur:
        cur.execute(f"DROP USER '{user}'@'%'")
        cur.execute(f"DROP DATABASE {db}")
    root.close()


def gateway(user: str, password: str, reread=None) -> SqlDatabases:
    return SqlDatabases.connect_to(engine="MySQL", host="127.0.0.1", port=3306, user=user, password=password,
                                   maintenance_db="mysql", reread=reread)


def test_a_refused_login_reads_the_account_again_once(account):
    user, db = account
    reads = []

    def reread():
        reads.append(1)
        return user, "new-password"

    assert gateway(user, "old-password", reread).row_counts(db) == {"t": 2}
    assert len(reads) == 1


def test_without_a_new_account_the_refusal_is_the_callers(account):
    user, db = account
    with pytest.raises(CloudError) as refused:
        gateway(user, "old-password", lambda: (user, "old-password")).row_counts(db)
    assert login_refused(refused.value)
    with pytest.raises(CloudError):
        gateway(user, "old-password").row_counts(db)
