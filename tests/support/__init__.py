"""What the tests import (fixtures stay in the conftest files, which import from here).

`from tests.support import ...` gives the general helpers below; the specialised ones have their own modules:
`memory` (the in-memory ports), `flowplay` (the real flow files run on them), `contracts` (one port, in memory or
real), `product` (the product on a local cloud and its API and CLI, for end-to-end tests), `executions` (a CloudFlow
execution once it ended), `crashes` (a step killed mid-way), `dbservers` (this machine's PostgreSQL and MariaDB)."""
from tests.support.clients import make_ecs, make_fnf, make_ots, make_rds, openapi_config
from tests.support.databases import MYSQL_DSN, PG_DSN, mssql_connect, mssql_run
from tests.support.files import sha256_of
from tests.support.localcloud import Control, free_port, spawn_local_cloud
from tests.support.waiting import wait_until

__all__ = ["MYSQL_DSN", "PG_DSN", "Control", "free_port", "make_ecs", "make_fnf", "make_ots",
           "make_rds", "mssql_connect", "mssql_run", "openapi_config", "sha256_of", "spawn_local_cloud", "wait_until"]
