"""`nestbackup demo`: a fresh local cloud, a seeded service instance with real disks and databases, and a backup
of all of it through the product's API, flow and handlers, exactly as the CLI would against Alibaba Cloud."""
from __future__ import annotations

import json
import os
import secrets
import tempfile
import uuid

import click

DEMO_DB = "nbdemo_shop"


def _prepare_postgres(dsn: str) -> str | None:
    import psycopg2
    try:
        conn = psycopg2.connect(dsn.split("?")[0], connect_timeout=3)
    except psycopg2.Error as err:
        click.echo(f"  PostgreSQL not reachable, skipped ({str(err).strip().splitlines()[0]})", err=True)
        return None
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{DEMO_DB}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{DEMO_DB}"')
    conn.close()
    db = psycopg2.connect(dsn.split("?")[0].rsplit("/", 1)[0] + "/" + DEMO_DB)
    with db, db.cursor() as cur:
        cur.execute("CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL, qty int NOT NULL)")
        cur.executemany("INSERT INTO orders (item, qty) VALUES (%s, %s)", [(f"item-{i}", i) for i in range(100)])
    db.close()
    return f"{dsn.split('?')[0]}?databases={DEMO_DB}"


def _prepare_mysql(dsn: str) -> str | None:
    import pymysql
    from urllib.parse import urlsplit
    url = urlsplit(dsn)
    try:
        conn = pymysql.connect(host=url.hostname or "127.0.0.1", port=url.port or 3306, user=url.username or "root",
                               password=url.password or "", connect_timeout=3, autocommit=True)
    except pymysql.Error as err:
        click.echo(f"  MariaDB/MySQL not reachable, skipped ({err.args[-1]})", err=True)
        return None
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{DEMO_DB}`")
        cur.execute(f"CREATE DATABASE `{DEMO_DB}`")
        cur.execute(f"CREATE TABLE `{DEMO_DB}`.orders (id int AUTO_INCREMENT PRIMARY KEY, item varchar(64), qty int)")
        cur.executemany(f"INSERT INTO `{DEMO_DB}`.orders (item, qty) VALUES (%s, %s)",
                        [(f"item-{i}", i) for i in range(100)])
    conn.close()
    return f"{dsn.split('?')[0].rstrip('/')}/?databases={DEMO_DB}"


def run_demo(as_json: bool, disks: int, disk_size: str, postgres: str | None, mysql: str | None) -> bool:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(var, None)
    from localcloud.seed import seed

    from .backup import _print_record, _wait
    from .client import ApiClient
    from .local import start_local_cloud

    say = (lambda *a, **k: None) if as_json else (lambda text: click.echo(text, err=True))
    say("preparing demo databases")
    pg = _prepare_postgres(postgres) if postgres else None
    my = _prepare_mysql(mysql) if mysql else None
    state = tempfile.mkdtemp(prefix="nestbackup-demo-")
    token = secrets.token_urlsafe(16)
    server = start_local_cloud(state, admin_token=token)
    try:
        si = "si-demo-" + uuid.uuid4().hex[:8]
        seeded = seed(server.cloud, {"ServiceInstanceId": si, "Disks": disks, "DiskSize": disk_size,
                                     "Postgres": pg, "MySQL": my})
        say(f"local cloud on {server.endpoint} (state in {state}); API on {server.endpoint}/api")
        say(f"service instance {si}: {len(seeded['Disks'])} disks, {len(seeded['DBInstances'])} RDS instances")
        client = ApiClient(server.endpoint + "/api", token)
        record = client.call("POST", "/backups", {"ServiceInstanceId": si, "Description": "nestbackup demo"})
        say(f"backup {record['BackupId']} started")
        record = _wait(client, record, quiet=as_json, interval=0.3)
        ok = record["Status"] == "Created"
        if as_json:
            click.echo(json.dumps({"Backup": record, "Verified": ok}))
        else:
            _print_record(record)
        return ok
    finally:
        server.stop()
