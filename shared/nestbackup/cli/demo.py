"""`nestbackup demo`: the whole story on a fresh local cloud, through the product's API, flows and handlers.

Seed a service instance (disks, a PostgreSQL and a MariaDB database when those servers answer, and a database on the
local SQL Server stand-in), back it up, change the data, restore it, and check that everything is as it was at
backup time and that the changed data was kept aside. Exit 0 only if all of that holds.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import tempfile
import uuid
from urllib.parse import urlsplit

import click

from ..settings import no_proxy_to

DEMO_DB = "nbdemo_shop"


def _pg_connect(dsn: str, db: str):
    import psycopg2
    url = urlsplit(dsn)
    return psycopg2.connect(host=url.hostname or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                            password=url.password or "", dbname=db, connect_timeout=3)


def _my_connect(dsn: str, db: str | None = None):
    import pymysql
    url = urlsplit(dsn)
    return pymysql.connect(host=url.hostname or "127.0.0.1", port=url.port or 3306, user=url.username or "root",
                           password=url.password or "", database=db, connect_timeout=3, autocommit=True)


class Postgres:
    engine = "PostgreSQL"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def prepare(self) -> str:
        admin = _pg_connect(self.dsn, "postgres")
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (DEMO_DB + "%",))
            for (name,) in cur.fetchall():
                cur.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{DEMO_DB}"')
        admin.close()
        self.run(DEMO_DB, "CREATE TABLE orders (id int PRIMARY KEY, item text NOT NULL, qty int NOT NULL)",
                 "INSERT INTO orders SELECT i, 'item-' || i, i FROM generate_series(1, 100) i")
        return f"{self.dsn.split('?')[0]}?databases={DEMO_DB}"

    def run(self, db: str, *statements: str) -> None:
        conn = _pg_connect(self.dsn, db)
        with conn, conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
        conn.close()

    def rows(self, db: str) -> list:
        conn = _pg_connect(self.dsn, db)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT * FROM orders ORDER BY id")
            rows = cur.fetchall()
        conn.close()
        return rows


class MariaDB:
    engine = "MySQL"

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def prepare(self) -> str:
        conn = _my_connect(self.dsn)
        with conn.cursor() as cur:
            cur.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                        (DEMO_DB + "%",))
            for (name,) in cur.fetchall():
                cur.execute(f"DROP DATABASE `{name}`")
            cur.execute(f"CREATE DATABASE `{DEMO_DB}`")
        conn.close()
        self.run(DEMO_DB, "CREATE TABLE orders (id int PRIMARY KEY, item varchar(64), qty int)",
                 "CREATE TABLE audit (id int AUTO_INCREMENT PRIMARY KEY, order_id int)",
                 "CREATE VIEW big_orders AS SELECT id, item FROM orders WHERE qty >= 50",
                 "CREATE TRIGGER orders_audit AFTER INSERT ON orders FOR EACH ROW "
                 "INSERT INTO audit (order_id) VALUES (NEW.id)",
                 "INSERT INTO orders SELECT seq, CONCAT('item-', seq), seq FROM seq_1_to_100")
        return f"{self.dsn.split('?')[0].rstrip('/')}/?databases={DEMO_DB}"

    def run(self, db: str, *statements: str) -> None:
        conn = _my_connect(self.dsn, db)
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
        conn.close()

    def rows(self, db: str) -> list:
        conn = _my_connect(self.dsn, db)
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM orders ORDER BY id")
            rows = list(cur.fetchall())
            cur.execute("SELECT COUNT(*) FROM big_orders")      # the view came back too
            rows.append(("view rows", cur.fetchone()[0]))
        conn.close()
        return rows


class SqlServer:
    """A database on the local cloud's SQL Server stand-in (TDS wire protocol, no SQL Server engine behind it)."""
    engine = "SQLServer"

    def __init__(self, entry: dict) -> None:
        self.entry = entry

    def connect(self, db: str = "master"):
        import pytds
        return pytds.connect(dsn=self.entry["Host"], port=self.entry["Port"], user="sa", password="",
                             database=db, autocommit=True, login_timeout=5)

    def prepare(self) -> None:
        values = ", ".join(f"({i}, N'item-{i}', {i})" for i in range(1, 101))
        self.run("master", f"CREATE DATABASE [{DEMO_DB}]",
                 f"CREATE TABLE [{DEMO_DB}].[dbo].[orders] ([id] INT NOT NULL, [item] NVARCHAR(64), [qty] INT)",
                 f"INSERT INTO [{DEMO_DB}].[dbo].[orders] VALUES {values}")

    def run(self, db: str, *statements: str) -> None:
        with self.connect(db) as conn, conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)

    def rows(self, db: str) -> list:
        with self.connect() as conn, conn.cursor() as cur:
            cur.execute(f"SELECT * FROM [{db.replace(']', ']]')}].[dbo].[orders]")
            return sorted(tuple(r) for r in cur.fetchall())


def _sha(path: str) -> str:
    with open(path, "rb") as f:
        digest = hashlib.sha256()      # hashlib.file_digest is 3.11+; the functions run on python3.10
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
        return digest.hexdigest()


def _available(engines, say) -> list:
    ready = []
    for engine in engines:
        try:
            engine.seed_dsn = engine.prepare()
            ready.append(engine)
        except Exception as err:  # noqa: BLE001 - a server that is not there: the demo goes on without it
            say(f"  {engine.engine} not reachable, skipped ({str(err).strip().splitlines()[0]})")
    return ready


def run_demo(as_json: bool, disks: int, disk_size: str, postgres: str | None, mysql: str | None) -> bool:
    no_proxy_to("127.0.0.1")        # the demo's local cloud
    from localcloud.seed import seed

    from .client import ApiClient
    from .local import start_local_cloud
    from .records import print_record
    from .waiting import wait_for

    say = (lambda text: None) if as_json else (lambda text: click.echo(text, err=True))
    say("preparing demo databases")
    engines = _available([e for e in (Postgres(postgres) if postgres else None,
                                      MariaDB(mysql) if mysql else None) if e], say)
    state = tempfile.mkdtemp(prefix="nestbackup-demo-")
    token = secrets.token_urlsafe(16)
    server = start_local_cloud(state, admin_token=token)
    try:
        si = "si-demo-" + uuid.uuid4().hex[:8]
        spec = {"ServiceInstanceId": si, "Disks": disks, "DiskSize": disk_size}
        spec.update({("Postgres" if e.engine == "PostgreSQL" else "MySQL"): e.seed_dsn for e in engines})
        seeded = seed(server.cloud, {**spec, "SQLServer": True})
        mssql = SqlServer(next(d for d in seeded["DBInstances"] if d["Engine"] == "SQLServer"))
        mssql.prepare()
        engines.append(mssql)
        say(f"local cloud on {server.endpoint} (state in {state}); API on {server.endpoint}/api")
        say(f"service instance {si}: {len(seeded['Disks'])} disks, {len(seeded['DBInstances'])} RDS instances")
        client = ApiClient(server.endpoint + "/api", token)

        # The ECS API cannot read a disk, so the product cannot fingerprint one; the demo, which sees the local
        # cloud's image files, takes their SHA-256 at backup time and compares after the restore.
        at_backup = {d["DiskId"]: _sha(d["Path"]) for d in seeded["Disks"]}
        paths = {d["DiskId"]: d["Path"] for d in seeded["Disks"]}
        rows_at_backup = {e.engine: e.rows(DEMO_DB) for e in engines}
        say("\n== backup")
        backup = client.call("POST", "/backups", {"ServiceInstanceId": si, "Description": "nestbackup demo"})
        backup = wait_for(client, backup, quiet=as_json, interval=0.3)

        say(f"\n== the data changes after the backup: 25 KB written over each disk; in each database "
            f"({', '.join(e.engine for e in engines)}) 10 orders deleted and 1 added")
        for disk in seeded["Disks"]:
            with open(disk["Path"], "r+b") as f:
                f.write(b"written after the backup " * 1000)
        for e in engines:
            e.run(DEMO_DB, "DELETE FROM orders WHERE id <= 10", "INSERT INTO orders VALUES (1000, 'late order', 7)")
        changed_rows = {e.engine: e.rows(DEMO_DB) for e in engines}

        say("\n== restore")
        restore = client.call("POST", "/restores", {"BackupId": backup["BackupId"]}) \
            if backup["Status"] == "Created" else None
        if restore:
            restore = wait_for(client, restore, quiet=as_json, interval=0.3)

        after_restore: dict[str, str] = {}
        checks = {"backup created": backup["Status"] == "Created",
                  "restore restored": restore is not None and restore["Status"] == "Restored"}
        if restore:
            after_restore = {disk: _sha(path) for disk, path in paths.items()}
            checks["disks as at backup time"] = after_restore == at_backup
            checks["databases as at backup time"] = all(e.rows(DEMO_DB) == rows_at_backup[e.engine]
                                                        for e in engines)
            asides = {r.get("Engine"): d["AsideName"] for r in restore["Resources"] for d in r.get("Databases", [])}
            checks["changed data kept aside"] = all(e.rows(asides[e.engine]) == changed_rows[e.engine]
                                                    for e in engines if e.engine in asides)
        verified = all(checks.values())
        if as_json:
            disk_report = [{"DiskId": disk, "Sha256AtBackup": digest, "Sha256AfterRestore": after_restore.get(disk)}
                     for disk, digest in at_backup.items()] if restore else []
            click.echo(json.dumps({"Backup": backup, "Restore": restore, "Verified": verified, "Checks": checks,
                                   "Disks": disk_report}))
        else:
            click.echo("")
            print_record(backup)
            if restore:
                print_record(restore)
            for disk, digest in at_backup.items():
                click.echo(f"{disk}: sha256 {digest[:16]}… at backup, {after_restore.get(disk, '-')[:16]}… after "
                           f"the restore")
            for name, ok in checks.items():
                click.echo(f"{'ok  ' if ok else 'FAIL'} {name}")
        return verified
    finally:
        server.stop()
