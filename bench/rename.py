"""Putting a restored database into place: `rename_back` against the dump-and-reload it replaces, on the machine's
MariaDB and PostgreSQL, measured in this run.

For each engine: build a database of about --size-mib MiB (several tables of ~1 KiB rows, generated server-side),
its "restored" copy (MariaDB: generated again; PostgreSQL: CREATE DATABASE … TEMPLATE), then time
- rename_back(original, restored, aside) (the live database set aside, the restored one in place), and
- as the baseline, a dump-and-reload of the same database into a new one (`mariadb-dump | mariadb`,
  `pg_dump | psql`), i.e. what putting the restored data in place would cost by copying it,
and print the ratio (goal <= 0.05). Every database it makes is dropped at the end.

Usage: .venv/bin/python bench/rename.py [--size-mib 1024] [--engines mariadb,postgresql]
Connection: NESTBACKUP_TEST_MYSQL (mysql://root@127.0.0.1:3306/), NESTBACKUP_TEST_PG
(postgresql://postgres@127.0.0.1:5432/postgres), as the tests.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "shared"))

from nestbackup.adapters.databases import DbServer, rename_back  # noqa: E402
from nestbackup.decisions.dbnames import aside_name, quote_mysql, quote_pg, restored_name  # noqa: E402

MYSQL_DSN = os.environ.get("NESTBACKUP_TEST_MYSQL", "mysql://root@127.0.0.1:3306/")
PG_DSN = os.environ.get("NESTBACKUP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = 8
ROW_PAYLOAD = 960          # bytes of text per row (30 md5s): rows stay inline and uncompressed in both engines
CHUNK = 100_000            # rows per INSERT … SELECT


def server(dsn: str, engine: str, port: int) -> DbServer:
    u = urlparse(dsn)
    return DbServer(engine, u.hostname or "127.0.0.1", u.port or port, unquote(u.username or ""),
                    unquote(u.password or ""), maintenance_db=u.path.lstrip("/") or "postgres")


def rows_for(size_mib: int) -> int:
    return max(1000, size_mib * 1024 * 1024 // (ROW_PAYLOAD + 64) // TABLES)


def log(msg: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- MariaDB --------------------------------------------------------------------------------------------------------

def my_connect(s: DbServer):
    import pymysql
    return pymysql.connect(host=s.host, port=s.port, user=s.user, password=s.password, charset="utf8mb4",
                           autocommit=True, ssl_disabled=True)


def my_build(s: DbServer, db: str, rows: int, flavour: str) -> None:
    conn = my_connect(s)
    q = quote_mysql(db)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {q} CHARACTER SET utf8mb4")
            cur.execute("SET SESSION unique_checks = 0, foreign_key_checks = 0")
            for t in range(TABLES):
                cur.execute(f"CREATE TABLE {q}.t{t} (id INT PRIMARY KEY, k INT NOT NULL, payload VARCHAR(1000) "
                            "NOT NULL, KEY (k)) ENGINE=InnoDB")
                for start in range(1, rows + 1, CHUNK):
                    end = min(rows, start + CHUNK - 1)
                    cur.execute(f"INSERT INTO {q}.t{t} SELECT seq, seq % 1000, REPEAT(MD5(CONCAT(seq, '{flavour}')),"
                                f" {ROW_PAYLOAD // 32}) FROM {q}.seq_{start}_to_{end}")
            cur.execute(f"CREATE TABLE {q}.audit (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(100))")
            cur.execute(f"USE {q}")
            cur.execute("CREATE VIEW v_small AS SELECT id, k FROM t0 WHERE k = 1")
            cur.execute("CREATE TRIGGER trg AFTER INSERT ON t0 FOR EACH ROW INSERT INTO audit (note) VALUES (NEW.id)")
            cur.execute("CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1")
    finally:
        conn.close()


def my_size_mib(s: DbServer, db: str) -> float:
    conn = my_connect(s)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT table_schema, SUM(data_length + index_length) FROM information_schema.tables "
                        "WHERE table_schema = %s GROUP BY table_schema", (db,))
            row = next((r for r in cur.fetchall() if r[0] == db), None)
            return float(row[1] or 0) / 2**20 if row else 0.0
    finally:
        conn.close()


def my_drop(s: DbServer, *dbs: str) -> None:
    conn = my_connect(s)
    try:
        with conn.cursor() as cur:
            for db in dbs:
                cur.execute(f"DROP DATABASE IF EXISTS {quote_mysql(db)}")
    finally:
        conn.close()


def my_dump_reload(s: DbServer, src: str, dst: str) -> float:
    conn = my_connect(s)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {quote_mysql(dst)} CHARACTER SET utf8mb4")
    finally:
        conn.close()
    common = [f"--host={s.host}", f"--port={s.port}", f"--user={s.user}"] + \
             ([f"--password={s.password}"] if s.password else [])
    start = time.perf_counter()
    dump = subprocess.Popen(["mariadb-dump", *common, "--single-transaction", "--quick", "--routines", "--events",
                             "--triggers", src], stdout=subprocess.PIPE)
    load = subprocess.run(["mariadb", *common, dst], stdin=dump.stdout, check=False)
    dump.stdout.close()
    if dump.wait() != 0 or load.returncode != 0:
        raise SystemExit("mariadb-dump | mariadb failed")
    return time.perf_counter() - start


def bench_mariadb(size_mib: int) -> float:
    s = server(MYSQL_DSN, "MySQL", 3306)
    tag, rid = uuid.uuid4().hex[:8], "restore-bench" + uuid.uuid4().hex[:12]
    original = f"nbbench_{tag}"
    restored, aside, reload_ = restored_name(original, rid, "MySQL"), aside_name(original, rid, "MySQL"), \
        f"nbbench_{tag}_reload"
    rows = rows_for(size_mib)
    print(f"MariaDB: {TABLES} tables x {rows} rows per database")
    try:
        t0 = time.perf_counter()
        my_build(s, original, rows, "live")
        log(f"built {original} ({my_size_mib(s, original):.0f} MiB) in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        my_build(s, restored, rows, "restored")
        log(f"built {restored} ({my_size_mib(s, restored):.0f} MiB) in {time.perf_counter() - t0:.1f} s")
        reload_s = my_dump_reload(s, restored, reload_)
        log(f"dump-and-reload of {restored}: {reload_s:.2f} s ({my_size_mib(s, reload_):.0f} MiB reloaded)")
        my_drop(s, reload_)
        t0 = time.perf_counter()
        result = rename_back(s, original, restored, aside)
        rename_s = time.perf_counter() - t0
        log(f"rename_back: {rename_s:.3f} s ({result.status}; {'; '.join(result.details[:2])})")
        return rename_s / reload_s
    finally:
        my_drop(s, original, restored, aside, reload_)


# -- PostgreSQL -----------------------------------------------------------------------------------------------------

def pg_connect(s: DbServer, db: str | None = None):
    import psycopg2
    conn = psycopg2.connect(host=s.host, port=s.port, user=s.user, password=s.password,
                            dbname=db or s.maintenance_db)
    conn.autocommit = True
    return conn


def pg_run(s: DbServer, sql: str, db: str | None = None, args=None):
    conn = pg_connect(s, db)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def pg_build(s: DbServer, db: str, rows: int) -> None:
    pg_run(s, f"CREATE DATABASE {quote_pg(db)} TEMPLATE template0 ENCODING 'UTF8'")
    conn = pg_connect(s, db)
    try:
        with conn.cursor() as cur:
            for t in range(TABLES):
                cur.execute(f"CREATE TABLE t{t} (id int PRIMARY KEY, k int NOT NULL, payload text NOT NULL)")
                cur.execute(f"ALTER TABLE t{t} ALTER payload SET STORAGE EXTERNAL")   # never compressed
                cur.execute(f"INSERT INTO t{t} SELECT g, g % 1000, repeat(md5(g::text), {ROW_PAYLOAD // 32}) "
                            f"FROM generate_series(1, {rows}) g")
                cur.execute(f"CREATE INDEX ON t{t} (k)")
            cur.execute("CREATE VIEW v_small AS SELECT id, k FROM t0 WHERE k = 1")
            cur.execute("VACUUM ANALYZE")
    finally:
        conn.close()


def pg_size_mib(s: DbServer, db: str) -> float:
    return pg_run(s, "SELECT pg_database_size(%s)", args=(db,))[0][0] / 2**20


def pg_drop(s: DbServer, *dbs: str) -> None:
    for db in dbs:
        pg_run(s, f"DROP DATABASE IF EXISTS {quote_pg(db)} WITH (FORCE)")


def pg_dump_reload(s: DbServer, src: str, dst: str) -> float:
    pg_run(s, f"CREATE DATABASE {quote_pg(dst)} TEMPLATE template0 ENCODING 'UTF8'")
    env = dict(os.environ, PGPASSWORD=s.password) if s.password else dict(os.environ)
    common = ["-h", s.host, "-p", str(s.port), "-U", s.user]
    start = time.perf_counter()
    dump = subprocess.Popen(["pg_dump", *common, "-d", src], stdout=subprocess.PIPE, env=env)
    load = subprocess.run(["psql", *common, "-q", "-v", "ON_ERROR_STOP=1", "-d", dst], stdin=dump.stdout,
                          stdout=subprocess.DEVNULL, env=env, check=False)
    dump.stdout.close()
    if dump.wait() != 0 or load.returncode != 0:
        raise SystemExit("pg_dump | psql failed")
    return time.perf_counter() - start


def bench_postgresql(size_mib: int) -> float:
    s = server(PG_DSN, "PostgreSQL", 5432)
    tag, rid = uuid.uuid4().hex[:8], "restore-bench" + uuid.uuid4().hex[:12]
    original = f"nbbench_{tag}"
    restored, aside, reload_ = restored_name(original, rid, "PostgreSQL"), aside_name(original, rid, "PostgreSQL"), \
        f"nbbench_{tag}_reload"
    rows = rows_for(size_mib)
    print(f"PostgreSQL: {TABLES} tables x {rows} rows per database")
    try:
        t0 = time.perf_counter()
        pg_build(s, original, rows)
        log(f"built {original} ({pg_size_mib(s, original):.0f} MiB) in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        pg_run(s, f"CREATE DATABASE {quote_pg(restored)} TEMPLATE {quote_pg(original)}")
        log(f"copied it as {restored} ({pg_size_mib(s, restored):.0f} MiB) in {time.perf_counter() - t0:.1f} s")
        reload_s = pg_dump_reload(s, restored, reload_)
        log(f"dump-and-reload of {restored}: {reload_s:.2f} s ({pg_size_mib(s, reload_):.0f} MiB reloaded)")
        pg_drop(s, reload_)
        conns = [pg_connect(s, original), pg_connect(s, restored)]     # sessions the rename has to end
        t0 = time.perf_counter()
        result = rename_back(s, original, restored, aside)
        rename_s = time.perf_counter() - t0
        for c in conns:
            try:
                c.close()
            except Exception:  # noqa: BLE001 - ended by the rename
                pass
        log(f"rename_back: {rename_s:.3f} s ({result.status}; {'; '.join(result.details[-1:])})")
        return rename_s / reload_s
    finally:
        pg_drop(s, original, restored, aside, reload_)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mib", type=int, default=1024, help="size of each database (default 1024)")
    ap.add_argument("--engines", default="mariadb,postgresql")
    args = ap.parse_args()
    engines = [e.strip().lower() for e in args.engines.split(",") if e.strip()]
    figures = []
    if "mariadb" in engines:
        figures.append(("MariaDB", bench_mariadb(args.size_mib)))
    if "postgresql" in engines:
        figures.append(("PostgreSQL", bench_postgresql(args.size_mib)))
    print()
    for name, ratio in figures:
        print(f"{name} rename / dump-and-reload: {ratio:.4f}x (goal <= 0.05)")


if __name__ == "__main__":
    main()
