"""`nestbackup demo`: a fresh local cloud, a seeded service instance with real disks and databases, backed up.

Until the backup flow lands this drives the product's cloud adapters directly: one snapshot per disk, one RDS
backup per database instance, polled in batches until every item is final.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
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
    from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET, DEFAULT_REGION
    from localcloud.cloud import LocalCloud
    from localcloud.seed import seed
    from localcloud.server import LocalCloudServer

    from ..adapters.ecs import Ecs
    from ..adapters.openapi import Credentials, RpcClient
    from ..adapters.rds import Rds

    say = (lambda *a, **k: None) if as_json else click.echo
    say("preparing demo databases")
    pg = _prepare_postgres(postgres) if postgres else None
    my = _prepare_mysql(mysql) if mysql else None
    state = tempfile.mkdtemp(prefix="nestbackup-demo-")
    server = LocalCloudServer(LocalCloud(state), port=0)
    server.start_in_thread()
    try:
        si = "si-demo-" + uuid.uuid4().hex[:8]
        seeded = seed(server.cloud, {"ServiceInstanceId": si, "Disks": disks, "DiskSize": disk_size,
                                     "Postgres": pg, "MySQL": my})
        say(f"local cloud on {server.endpoint}, state in {state}")
        say(f"service instance {si}: {len(seeded['Disks'])} disks, "
            f"{len(seeded['DBInstances'])} RDS instances")
        creds = Credentials(DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET)
        ecs = Ecs(RpcClient(server.endpoint, "2014-05-26", creds, DEFAULT_REGION))
        rds = Rds(RpcClient(server.endpoint, "2014-08-15", creds, DEFAULT_REGION))
        tag = "acs:computenest:serviceInstanceId"
        found_disks = ecs.disks_tagged(tag, si)
        found_dbs = rds.instances_tagged(tag, si)
        items: dict[str, dict] = {}
        for disk in found_disks:
            sid = ecs.create_snapshot(disk.disk_id, name=f"nestbackup-{si}", description="nestbackup demo",
                                      client_token=f"{si}-{disk.disk_id}"[:64])
            items[disk.disk_id] = {"ResourceId": disk.disk_id, "ResourceType": "disk", "ArtifactId": sid,
                                   "Status": "Running", "Progress": 0}
        for db in found_dbs:
            job = rds.create_backup(db.db_instance_id)
            items[db.db_instance_id] = {"ResourceId": db.db_instance_id, "ResourceType": "rds",
                                        "Engine": db.engine, "JobId": job, "Status": "Running", "Progress": 0}
        while any(i["Status"] == "Running" for i in items.values()):
            time.sleep(0.2)
            snaps = ecs.describe_snapshots([i["ArtifactId"] for i in items.values() if i["ResourceType"] == "disk"])
            for item in items.values():
                if item["ResourceType"] == "disk":
                    snap = snaps.get(item["ArtifactId"])
                    item["Progress"] = snap.progress if snap else 0
                    if snap and snap.status in ("accomplished", "failed"):
                        item["Status"] = "Succeeded" if snap.status == "accomplished" else "Failed"
                elif item["Status"] == "Running":
                    job = rds.backup_job(item["ResourceId"], item["JobId"])
                    if job:
                        item["Progress"] = job.progress
                        if job.status in ("Finished", "Failed"):
                            item["Status"] = "Succeeded" if job.status == "Finished" else "Failed"
                            item["ArtifactId"] = job.backup_id
        ok = bool(items) and all(i["Status"] == "Succeeded" for i in items.values())
        result = {"ServiceInstanceId": si, "Status": "Created" if ok else "CreateFailed",
                  "Resources": [{k: v for k, v in i.items() if k != "JobId"} for i in items.values()]}
        if as_json:
            click.echo(json.dumps(result))
        else:
            for item in result["Resources"]:
                say(f"  {item['ResourceType']:<5} {item['ResourceId']:<26} {item['Status']:<10} "
                    f"{item.get('ArtifactId') or ''}")
            say(f"backup {result['Status']}")
        return ok
    finally:
        server.stop()
