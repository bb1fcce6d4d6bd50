"""What each engine's account lacks for the swap of names, and the statement that fixes it (decisions/privileges.py).
The catalogs they are read from are in tests/contracts/test_database_gateway_contract.py (MariaDB, PostgreSQL) and
tests/adapters/test_dbrename_sqlserver.py."""
from nestbackup.decisions.privileges import (
    ACCOUNT,
    MYSQL_PRIVILEGES,
    PrivilegeGap,
    describe,
    mysql_gaps,
    pg_gaps,
    sqlserver_gaps,
)


def test_mysql_global_privileges_cover_every_database_and_a_grant_names_the_database_escaped():
    assert mysql_gaps("nb@%", set(MYSQL_PRIVILEGES), {"shop_db": set()}, set()) == []
    gaps = mysql_gaps("nb@10.0.%", set(), {"shop_db": set(MYSQL_PRIVILEGES) - {"TRIGGER"}}, set(MYSQL_PRIVILEGES))
    assert gaps == [PrivilegeGap("shop_db", ("TRIGGER",), "GRANT TRIGGER ON `shop\\_db`.* TO 'nb'@'10.0.%'")]
    assert describe(gaps[0]) == "lacks TRIGGER on database shop_db"


def test_postgres_a_superuser_lacks_nothing_an_owner_needs_createdb_and_signal_backend():
    assert pg_gaps("admin", True, False, False, {"app": "someone"}) == []
    gaps = pg_gaps("nb", False, False, True, {"app": None, "crm": "crm_owner"})
    assert gaps == [PrivilegeGap(ACCOUNT, ("CREATEDB",), 'ALTER ROLE "nb" CREATEDB'),
                    PrivilegeGap("crm", ("ownership",), 'GRANT "crm_owner" TO "nb"')]


def test_sqlserver_without_dbcreator_is_told_to_join_it():
    assert sqlserver_gaps("nb", True, {"app": True}) == []
    fix = "ALTER SERVER ROLE dbcreator ADD MEMBER [nb]"
    assert sqlserver_gaps("nb", False, {"app": False, "crm": True}) == [
        PrivilegeGap(ACCOUNT, ("CREATE ANY DATABASE",), fix), PrivilegeGap("app", ("ALTER",), fix)]
