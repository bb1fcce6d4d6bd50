"""RDS 2014-08-15: instances backed by real PostgreSQL / MariaDB servers.

An RDS instance stands for databases of one real server, reached through the DSN it was seeded with: those named in
`?databases=` plus those RestoreTable created on it, else every non-system database of the server. The list is
looked up on the server at each call, so a dropped database disappears.

What is real:
- CreateBackup dumps every database of the instance (or the `DBName` list with `BackupStrategy=db`):
  PostgreSQL with `pg_dump --format=custom`, MySQL/MariaDB with `mariadb-dump --single-transaction --routines
  --triggers --events --hex-blob`, into `<state_dir>/rds/backups/<BackupId>/db-<n>.{dump,sql}`. BackupSize is the
  size of those files, Checksum their CRC-64/XZ. Each database's entry records a fingerprint (character set,
  collation, and the tables; for MySQL also views, triggers, routines). `BackupMethod` is echoed as requested
  (default Physical); the data is always a logical dump.
- RestoreTable restores from those files into NEW names only: PostgreSQL whole databases (CREATE DATABASE with the
  original encoding/collation, then `pg_restore --single-transaction --exit-on-error`); MySQL whole databases (the
  dump loaded with the new database as default database, so tables, views, triggers, routines and events land in
  it and views refer to it) or single tables (the dump is loaded into a scratch database `__rds_restore_<hex>`, the
  chosen tables moved with one RENAME TABLE into the target database under their new names, their triggers
  dropped, the scratch database dropped). The target database of a table-level restore may exist (e.g. the
  original one) as long as the new table names do not.
- A SQL Server instance is the local stand-in of localcloud.mssql: a JSON catalog of databases, tables and rows,
  served over the TDS wire protocol on 127.0.0.1 (ConnectionString/Port; login `sa`, empty password). It is no SQL
  Server engine: it runs a small statement set (mssql.lexer.SUPPORTED). CreateBackup exports each database to
  `db-<n>.json`; RestoreTable answers 400 UnsupportedEngine (as on the real service); RecoveryDBInstance restores
  databases of a backup set into an existing SQL Server instance under the names DbNames (JSON
  `{"src":"dst"}`) maps them to, never over an existing database. That the real service accepts the source
  instance itself as TargetDBInstanceId is UNCONFIRMED; here it does. Restoring into a new instance (no
  TargetDBInstanceId) and RestoreTime are refused with 400 InvalidParameter.

Statuses: while a RestoreTable task runs, DBInstanceStatus is TempDBInstanceCreating (RESTORE_INSTANCE_STATUS),
then Running again; backups run meanwhile, another RestoreTable is refused (RESTORE_IN_PROGRESS). The task creates
its new databases first (DescribeDatabases lists them, RESTORING_DB_LISTED_AS), waits op_delay_ms, then fills them;
DescribeHistoryTasks lists it (TaskType RESTORE_TASK_TYPE) Running, then Succeed or Failed (ReasonCode
RestoreFailed, TaskDetail {"BackupId", "Reason"}). Backup jobs move
NoStart -> Preparing -> Uploading -> Finished | Failed (BackupProgressStatus ends Finished either way; Process is a
percent string without a sign, "0".."100"). A finished job leaves a backup set: BackupStatus Success, or Failed with
IsAvail 0, MetaStatus EMPTY and no files. Restore targets that RestoreTable creates are listed by DescribeDatabases
with DBStatus Creating until they exist on the server. A failed restore drops what it created: the new
database never reaches Running and disappears from DescribeDatabases (`DBName=<newname>` then returns no row).

Error codes:
- 404 InvalidDBInstanceId.NotFound: unknown DBInstanceId.
- 400 MissingParameter / InvalidParameter: a required parameter is absent / malformed (TableMeta, Tags, paging...).
- 403 IncorrectDBInstanceState: CreateBackup or RestoreTable while the instance is not Running.
- BackupJobExists (BACKUP_JOB_EXISTS): CreateBackup while another backup task of the instance (manual or
  automatic) is NoStart/Preparing/Uploading.
- 400 InvalidParameter: DescribeDatabases / DescribeBackups PageSize other than 30, 50, 100 (PAGE_SIZES).
- NO_TABLE_META: RestoreTable from a set whose MetaStatus is not OK; DELETE_REFUSED: DeleteBackup of a set whose
  StoreStatus is Disabled.
- 403 IncorrectDBInstanceState (RESTORE_IN_PROGRESS): RestoreTable while another RestoreTable task of the
  instance runs.
- 400 InvalidBackupMethod.ValueNotSupport, 400 BackupType.NotSupport: CreateBackup options (Logical on PostgreSQL).
- 404 InvalidBackupId.NotFound: BackupId unknown or of another instance (RestoreTable, DeleteBackup).
- 403 IncorrectBackupSetState: restoring from a Failed backup set; deleting one a running restore reads.
- 404 InvalidDBName.NotFound / InvalidTableName.NotFound: a TableMeta name that is not in the backup set;
  CreateBackup DBName not on the instance.
- 400 InvalidDBName.Duplicate / InvalidTableName.Duplicate: a RestoreTable new name that already exists (or that
  a restore in progress is creating).
- 400 UnsupportedEngine: RestoreTable on SQL Server, RecoveryDBInstance on anything else; 400 InvalidParameter
  for PostgreSQL table-level TableMeta and for RestoreTime (no log backup here).
- 400 IdempotentParameterMismatch: a RestoreTable ClientToken reused with different parameters (same parameters:
  the first call's answer, no new restore).
- 500 InternalError: the real database server could not be reached while answering a call.
Faults: `reject` refuses CreateBackup/RestoreTable/DeleteBackup at the call; `fail` (instance id, job id or
restore task id) ends a backup job Failed / a restore failed; `stuck` keeps them in progress. `op_delay_ms` is the
minimum duration of both. Not enforced: the 20-backups-per-day limit.

Backup policy (per instance, seeded with `RdsBackupPolicy` or set through POST /_local/rds/instances/<id>):
BackupRetentionPeriod (default 7 days) gives each set ExpectExpireTime = end + days (CreateBackup's
BackupRetentionPeriod wins; -1: no expiry); a set past it disappears. TableRestore (CompressType 4, default; else 8):
MySQL sets taken without it have MetaStatus "". BackupsDeletable false: sets have StoreStatus Disabled.
Automatic backup tasks (JobMode Automated, BackupMode Automated, BackupInitiator System) are started through POST
/_local/rds/instances/<id>/backups; they hold the instance's one backup slot like a manual one.

Durability: instances, backup jobs, backup sets, restore tasks and ClientTokens are documents in `cloud.store`.
`resume()` re-runs backup jobs a killed server left in progress (from scratch) and marks interrupted restores
Failed, dropping the databases/tables they had created.
"""
from __future__ import annotations

import hashlib
import json
import logging
import secrets
import shutil
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..cloud import Product
from ..core.errors import ServiceError, invalid, missing
from ..core.rpc import RpcRequest
from .engines import Engine, EngineError, MssqlEngine, MySqlEngine, PgEngine, engine_for, parse_dsn

log = logging.getLogger("localcloud.rds")

INSTANCE, JOB, BACKUP, RESTORE, TOKEN = "rds.instance", "rds.backup_job", "rds.backup", "rds.restore", "rds.token"
ENGINES = {"mysql": "MySQL", "postgresql": "PostgreSQL", "sqlserver": "SQLServer", "mariadb": "MariaDB"}
ACTIVE_JOB = ("NoStart", "Preparing", "Uploading")
MSSQL_LOGIN = ("sa", "")
_MINUTE = "%Y-%m-%dT%H:%MZ"
# DescribeDatabases and DescribeBackups: PageSize 30, 50 or 100, default 30 (SDK DescribeDatabasesRequest,
# DescribeBackupsRequest). UNCONFIRMED: that any other PageSize is refused (400 InvalidParameter) rather than
# rounded; refusing keeps callers to the documented values.
PAGE_SIZES = (30, 50, 100)
# CreateBackup while another backup task of the instance runs: the code the Terraform provider retries on
# (resource_alicloud_rds_backup.go). UNCONFIRMED: its HTTP status (400 on the MongoDB error page of the same code).
BACKUP_JOB_EXISTS = ("BackupJobExists", "A backup job already exists in the specified DB instance.", 400)
# Instance backup policy when seeded without one: retention 7 days (DescribeBackupPolicy BackupRetentionPeriod;
# UNCONFIRMED default), CompressType 4 = "quicklz with database and table restoration enabled" (SDK
# DescribeBackupPolicyResponseBody.compress_type; 8 = without it).
DEFAULT_RETENTION_DAYS = 7
TABLE_RESTORE_COMPRESS_TYPE = "4"
NO_TABLE_RESTORE_COMPRESS_TYPE = "8"
# RestoreTable from a set whose MetaStatus is not OK (taken without database/table restore enabled). UNCONFIRMED
# code: no source names it; the API reference only states the precondition.
NO_TABLE_META = ("IncorrectBackupSetState", "The backup set was taken without database and table restoration "
                                            "enabled (MetaStatus is not OK).", 403)
# DeleteBackup of a set whose StoreStatus is Disabled (Basic edition, or younger than the deletable age): only
# Enabled sets can be deleted (SDK DeleteBackupRequest.backup_id). UNCONFIRMED code and status.
DELETE_REFUSED = ("IncorrectBackupSetState", "The backup set cannot be deleted now (StoreStatus is Disabled).", 403)
# While a database/table restore runs, the instance shows "Creating Temporary Instance" (DBInstanceStatus
# TempDBInstanceCreating) and goes back to Running when the task ends ("Description of the Creating Temporary
# Instance state", RDS MySQL docs; the value is in the SDK/Terraform DBInstanceStatus lists). Backups run normally in
# that state; another restore is refused. UNCONFIRMED for PostgreSQL (the page is MySQL's); modelled the same.
RESTORE_INSTANCE_STATUS = "TempDBInstanceCreating"
# A second RestoreTable while one runs: the console says "The RDS instance is not in a ready state". UNCONFIRMED code:
# the documented instance-state refusal.
RESTORE_IN_PROGRESS = ("IncorrectDBInstanceState",
                       "Current DB instance state does not support this operation: a restore task is in progress.",
                       403)
# What DescribeDatabases shows for a database a running RestoreTable has already created and is still filling.
# UNCONFIRMED: the pessimistic reading, Running (the engine has it), so a caller must wait for the task, not the row.
RESTORING_DB_LISTED_AS = "Running"
# DescribeHistoryTasks TaskType of a RestoreTable task. UNCONFIRMED: no source names it.
RESTORE_TASK_TYPE = "RestoreTable"


# ---------------------------------------------------------------------------------------------------------- helpers
def _crc64_table() -> list[int]:
    poly = 0xC96C5795D7870F42  # CRC-64/XZ (ECMA-182, reflected), as OSS reports
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC64 = _crc64_table()


def crc64(paths: list[Path]) -> str:
    crc = 0xFFFFFFFFFFFFFFFF
    table = _CRC64
    for path in paths:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                for b in chunk:
                    crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return str(crc ^ 0xFFFFFFFFFFFFFFFF)


# DescribeDBInstances.DBInstanceType values (SDK DescribeDBInstancesRequest.dbinstance_type).
DB_INSTANCE_TYPES = frozenset({"Primary", "Readonly", "Guard", "Temp"})
# CreateBackup on a read-only (or other non-primary) instance. RDS documents OperationDenied.DBInstanceType (403,
# "The operation is not permitted due to type of the instance.") for operations an instance type does not
# support; that CreateBackup answers a read-only instance with it is UNCONFIRMED (its page lists no such code).
READ_ONLY_BACKUP_REFUSAL = ("OperationDenied.DBInstanceType",
                            "The operation is not permitted due to type of the instance.", 403)


def not_found_instance(instance_id: str) -> ServiceError:
    return ServiceError("InvalidDBInstanceId.NotFound", f"The specified instance {instance_id} is not found.", 404)


def _parse_time(name: str, raw: str | None) -> datetime | None:
    if raw is None:
        return None
    for fmt in (_MINUTE, "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    raise ServiceError(f"Invalid{name}.Malformed",
                       f"The specified parameter \"{name}\" is not valid: use yyyy-MM-ddTHH:mmZ (UTC).", 400)


def _page(req: RpcRequest, default_size: int = 30, hi: int = 100) -> tuple[int, int]:
    size = req.get_int("PageSize", default_size, lo=1, hi=hi)
    number = req.get_int("PageNumber", 1, lo=1, hi=10 ** 9)
    return size, number


def _listed_page(req: RpcRequest) -> tuple[int, int]:
    """PageSize/PageNumber of DescribeDatabases and DescribeBackups (see PAGE_SIZES)."""
    size = req.get_int("PageSize", PAGE_SIZES[0])
    if size not in PAGE_SIZES:
        raise invalid("PageSize", "Use 30, 50 or 100.")
    number = req.get_int("PageNumber", 1, lo=1, hi=2 ** 31 - 1)
    return size, number


class Rds(Product):
    name = "rds"
    version = "2014-08-15"
    ACTIONS = frozenset({"DescribeDBInstances", "DescribeDBInstanceAttribute", "CreateBackup", "DescribeBackupTasks",
                         "DescribeBackups", "DeleteBackup", "RestoreTable", "DescribeDatabases",
                         "RecoveryDBInstance", "DescribeBackupPolicy", "DescribeHistoryTasks"})

    def __init__(self, cloud) -> None:
        super().__init__(cloud)
        self._lock = threading.RLock()
        self.root = cloud.state_dir / "rds"
        self.backup_root = self.root / "backups"
        self.work_root = self.root / "work"
        self._mssql: dict[str, tuple[Any, Any]] = {}       # instance id -> (Catalog, MssqlServer)

    def dispatch(self, req: RpcRequest) -> dict[str, Any]:
        try:
            return super().dispatch(req)
        except EngineError as err:
            raise self._server_error(err) from None

    # ------------------------------------------------------------------------------------------------ seeding API
    def create_instance(self, engine: str, dsn: str | None, tags: dict[str, str], policy: dict | None = None,
                        db_type: str = "Primary", master_instance_id: str | None = None) -> dict:
        """Register an RDS instance standing for databases of the real server at `dsn` (None for SQLServer).
        `policy`: its backup policy (see set_policy). `db_type` Readonly with `master_instance_id`: a read-only
        replica of that primary."""
        canonical = ENGINES.get(str(engine).lower())
        if canonical is None:
            raise ValueError(f"unknown RDS engine {engine!r} (MySQL, PostgreSQL or SQLServer)")
        if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
            raise ValueError("tags must map strings to strings")
        if db_type not in DB_INSTANCE_TYPES:
            raise ValueError(f"DBInstanceType must be one of {sorted(DB_INSTANCE_TYPES)}")
        if (db_type == "Primary") != (master_instance_id is None):
            raise ValueError("a replica (non-Primary) needs its primary's id, a primary has none")
        instance_id = self.cloud.new_id("rr" if db_type == "Readonly" else "rm")
        doc: dict[str, Any] = {"DBInstanceType": db_type, "MasterInstanceId": master_instance_id or "",
            "DBInstanceId": instance_id, "Engine": canonical, "Tags": dict(tags), "Status": "Running",
            "RegionId": self.cloud.region, "ZoneId": f"{self.cloud.region}-h", "CreateTime": self.cloud.iso(),
            "Dsn": None, "Databases": None, "Restored": [],
            **self._policy_fields({}, policy or {}),
        }
        if canonical == "SQLServer":
            doc.update(EngineVersion="2019_std_ha", Host="127.0.0.1", Port=0)
            self.cloud.store.put(INSTANCE, instance_id, doc)
            doc["Port"] = self._serve_mssql(doc)
        else:
            if not dsn:
                raise ValueError(f"a {canonical} instance needs a DSN")
            parsed = parse_dsn(dsn)
            eng = engine_for(canonical, parsed)
            try:
                version = eng.version()
            except EngineError as err:
                raise ValueError(f"cannot reach the {canonical} server: {err}") from None
            for name in parsed.databases or []:
                why = eng.check_name(name)
                if why:
                    raise ValueError(f"database {name!r}: {why}")
            doc.update(EngineVersion=version, Host=parsed.host, Port=parsed.port, Dsn=dsn,
                       Databases=parsed.databases)
        self.cloud.store.put(INSTANCE, instance_id, doc)
        return {"DBInstanceId": instance_id, "Engine": canonical, "EngineVersion": doc["EngineVersion"],
                "Port": doc["Port"]}

    @staticmethod
    def _policy_fields(current: dict, policy: dict) -> dict:
        """Backup policy and state of an instance from a seed/control description: BackupRetentionPeriod (7-730
        days), TableRestore (database/table restore enabled, i.e. CompressType 4; else 8), BackupsDeletable
        (false: its sets have StoreStatus Disabled and DeleteBackup refuses them), Status (DBInstanceStatus)."""
        if not isinstance(policy, dict):
            raise ValueError("the backup policy must be a JSON object")
        unknown = set(policy) - {"BackupRetentionPeriod", "TableRestore", "BackupsDeletable", "Status"}
        if unknown:
            raise ValueError(f"unknown RDS instance settings: {', '.join(sorted(unknown))}")
        out = {"BackupRetentionPeriod": current.get("BackupRetentionPeriod", DEFAULT_RETENTION_DAYS),
               "CompressType": current.get("CompressType", TABLE_RESTORE_COMPRESS_TYPE),
               "BackupsDeletable": current.get("BackupsDeletable", True)}
        if "BackupRetentionPeriod" in policy:
            days = policy["BackupRetentionPeriod"]
            if not isinstance(days, int) or isinstance(days, bool) or not 7 <= days <= 730:
                raise ValueError("BackupRetentionPeriod must be 7 to 730 days")
            out["BackupRetentionPeriod"] = days
        for key in ("TableRestore", "BackupsDeletable"):
            if key in policy and not isinstance(policy[key], bool):
                raise ValueError(f"{key} must be true or false")
        if "TableRestore" in policy:
            out["CompressType"] = TABLE_RESTORE_COMPRESS_TYPE if policy["TableRestore"] \
                else NO_TABLE_RESTORE_COMPRESS_TYPE
        if "BackupsDeletable" in policy:
            out["BackupsDeletable"] = policy["BackupsDeletable"]
        if "Status" in policy:
            if policy["Status"] not in ("Running", "Rebooting", "DBInstanceClassChanging", "Restoring",
                                        "Stopped"):
                raise ValueError("Status must be Running, Rebooting, DBInstanceClassChanging, Restoring or Stopped")
            out["Status"] = policy["Status"]
        return out

    def control(self, method: str, parts: list[str], body: dict) -> dict:
        """The /_local/rds/... control plane (no cloud API):
        POST instances/<id>            change backup policy / status (see _policy_fields)
        POST instances/<id>/backups    start a backup task as the service would: {"Mode": "Automated"|"Manual",
                                       "Seconds": minimum duration}; answers its BackupJobId
        POST backups/<id>/expire       the set reaches its ExpectExpireTime now (and disappears)"""
        if method != "POST":
            raise ValueError("use POST")
        if len(parts) == 2 and parts[0] == "instances":
            fields = self._policy_fields(self._instance(parts[1]), body)
            self.cloud.store.update(INSTANCE, parts[1], lambda d: d.update(fields))
            inst = self._instance(parts[1])
            return {k: inst.get(k) for k in ("DBInstanceId", "Status", "BackupRetentionPeriod", "CompressType",
                                             "BackupsDeletable")}
        if len(parts) == 3 and parts[0] == "instances" and parts[2] == "backups":
            mode = body.get("Mode", "Automated")
            seconds = body.get("Seconds", 0)
            if mode not in ("Automated", "Manual"):
                raise ValueError("Mode must be Automated or Manual")
            if not isinstance(seconds, (int, float)) or not 0 <= seconds <= 3600:
                raise ValueError("Seconds must be 0 to 3600")
            return {"BackupJobId": self._start_job(parts[1], method="Physical", db_names=None, retention=None,
                                                   mode=mode, min_seconds=float(seconds))}
        if len(parts) == 3 and parts[0] == "backups" and parts[2] == "expire":
            if self.cloud.store.get(BACKUP, parts[1]) is None:
                raise ServiceError("InvalidBackupId.NotFound", f"The backup set {parts[1]} is not found.", 404)
            past = self.cloud.iso(self.cloud.now() - timedelta(seconds=1))
            self.cloud.store.update(BACKUP, parts[1], lambda b: b.update(ExpectExpireTime=past))
            self._purge_expired()
            return {"BackupId": parts[1], "ExpectExpireTime": past}
        raise ValueError(f"no RDS control endpoint {'/'.join(parts)}")

    def _purge_expired(self) -> None:
        """Backup sets past their ExpectExpireTime are gone, as the service removes them at expiry."""
        now = self.cloud.iso()
        for b in self.cloud.store.find(BACKUP, lambda b: b.get("ExpectExpireTime") and b["ExpectExpireTime"] <= now):
            if any(t["BackupId"] == b["BackupId"] for t in self._running_restores(b["DBInstanceId"])):
                continue
            self.cloud.store.delete(BACKUP, b["BackupId"])
            shutil.rmtree(self.backup_root / b["BackupId"], ignore_errors=True)

    # ------------------------------------------------------------------------------------------------ internals
    def _instance(self, instance_id: str) -> dict:
        doc = self.cloud.store.get(INSTANCE, instance_id)
        if doc is None:
            raise not_found_instance(instance_id)
        return doc

    def _engine(self, inst: dict) -> Engine | None:
        if inst["Engine"] == "SQLServer":
            return MssqlEngine(self._mssql[inst["DBInstanceId"]][0])
        if not inst.get("Dsn"):
            return None
        return engine_for(inst["Engine"], parse_dsn(inst["Dsn"]))

    def _serve_mssql(self, inst: dict) -> int:
        """Serve a SQL Server instance's catalog over TDS, on its port of before when free; returns the port."""
        from ..mssql import Catalog, MssqlServer
        instance_id = inst["DBInstanceId"]
        with self._lock:
            if instance_id in self._mssql:
                return self._mssql[instance_id][1].port
            catalog = Catalog(self.root / "mssql" / f"{instance_id}.json")
            server = MssqlServer(catalog, port=int(inst.get("Port") or 0), user=MSSQL_LOGIN[0],
                                 password=MSSQL_LOGIN[1])
            try:
                port = server.start()
            except OSError:                    # the old port is taken: any free one
                server = MssqlServer(catalog, user=MSSQL_LOGIN[0], password=MSSQL_LOGIN[1])
                port = server.start()
            self._mssql[instance_id] = (catalog, server)
        self.cloud.store.update(INSTANCE, instance_id, lambda d: d.update(Port=port))
        return port

    def _databases(self, inst: dict, eng: Engine | None = None) -> list[str]:
        """The databases of an instance, looked up on the real server now."""
        eng = eng or self._engine(inst)
        if eng is None:
            return []
        if inst.get("Databases") is None:
            return eng.user_databases()
        existing = set(eng.all_databases())
        out: list[str] = []
        for name in [*inst["Databases"], *inst.get("Restored", [])]:
            if name in existing and name not in out:
                out.append(name)
        return out

    def _new_numeric_id(self, kind: str) -> str:
        while True:
            candidate = str(100_000_000 + secrets.randbelow(900_000_000))
            if self.cloud.store.get(kind, candidate) is None:
                return candidate

    @staticmethod
    def _server_error(err: EngineError) -> ServiceError:
        return ServiceError("InternalError", f"The database server could not be reached: {err}", 500)

    def _running_restores(self, instance_id: str) -> list[dict]:
        return self.cloud.store.find(RESTORE, lambda d: d["DBInstanceId"] == instance_id and d["Status"] == "Running")

    def _restoring(self, instance_id: str) -> bool:
        return any(t.get("Action", "RestoreTable") == "RestoreTable" for t in self._running_restores(instance_id))

    def _status(self, inst: dict) -> str:
        """DBInstanceStatus: the stored one, or RESTORE_INSTANCE_STATUS while a RestoreTable task runs on it."""
        if inst["Status"] == "Running" and self._restoring(inst["DBInstanceId"]):
            return RESTORE_INSTANCE_STATUS
        return inst["Status"]

    # ------------------------------------------------------------------------------------------------ instances
    def _instance_view(self, inst: dict) -> dict:
        engine = inst["Engine"]
        cls = {"MySQL": "mysql.n2.medium.2c", "MariaDB": "mariadb.n2.medium.2c", "PostgreSQL": "pg.n2.2c.2m",
               "SQLServer": "mssql.x4.medium.e2"}.get(engine, "rds.n2.medium")
        return {
            "DBInstanceId": inst["DBInstanceId"], "DBInstanceDescription": inst["DBInstanceId"],
            "Engine": engine, "EngineVersion": inst["EngineVersion"], "DBInstanceStatus": self._status(inst),
            "DBInstanceType": inst.get("DBInstanceType", "Primary"), "DBInstanceClass": cls,
            "DBInstanceStorageType": "cloud_essd",
            "DBInstanceNetType": "Intranet", "InstanceNetworkType": "VPC", "ConnectionMode": "Standard",
            "LockMode": "Unlock", "LockReason": "", "RegionId": inst["RegionId"], "ZoneId": inst["ZoneId"],
            "PayType": "Postpaid", "Category": "HighAvailability", "CreateTime": inst["CreateTime"],
            "ExpireTime": "", "MasterInstanceId": inst.get("MasterInstanceId", ""), "GuardDBInstanceId": "",
            "TempDBInstanceId": "",
            "ResourceGroupId": "rg-localcloud", "VpcId": "vpc-localcloud", "VSwitchId": "vsw-localcloud",
            "ConnectionString": inst["Host"], "MutriORsignle": False, "DeletionProtection": False,
            "ReadOnlyDBInstanceIds": {"ReadOnlyDBInstanceId": []},
        }

    def DescribeDBInstances(self, req: RpcRequest) -> dict:
        region = req.require("RegionId")
        tags = req.get_json("Tags", dict)
        if tags is not None:
            if len(tags) > 5:
                raise invalid("Tags", "At most 5 tags.")
            if not all(isinstance(k, str) and k and (v is None or isinstance(v, str)) for k, v in tags.items()):
                raise invalid("Tags", "Tag keys and values must be strings.")
        ids = {i.strip() for i in (req.get("DBInstanceId") or "").split(",") if i.strip()}
        engine = req.get("Engine")
        status = req.get("DBInstanceStatus")
        db_type = req.get("DBInstanceType")
        search = req.get("SearchKey")

        def matches(inst: dict) -> bool:
            if inst["RegionId"] != region:
                return False
            if ids and inst["DBInstanceId"] not in ids:
                return False
            if engine and inst["Engine"].lower() != engine.lower():
                return False
            if status and self._status(inst) != status:
                return False
            if db_type and db_type != inst.get("DBInstanceType", "Primary"):
                return False
            if search and search not in inst["DBInstanceId"]:
                return False
            if tags:  # OR: any listed tag matches
                own = inst.get("Tags", {})
                return any(k in own and (v in (None, "") or own[k] == v) for k, v in tags.items())
            return True

        found = self.cloud.store.find(INSTANCE, matches)
        body: dict[str, Any] = {}
        if req.get("MaxResults") is not None or req.get("NextToken") is not None:
            size = req.get_int("MaxResults", 30, lo=1, hi=100)
            token = req.get("NextToken")
            start = 0
            if token is not None:
                if not token.isdigit() or int(token) > len(found):
                    raise invalid("NextToken", "Unknown token.")
                start = int(token)
            page = found[start:start + size]
            nxt = start + size
            body = {"NextToken": str(nxt) if nxt < len(found) else "", "TotalRecordCount": len(page),
                    "PageRecordCount": len(page), "PageNumber": 1}
        else:
            size, number = _page(req)
            page = found[(number - 1) * size: number * size]
            body = {"TotalRecordCount": len(found), "PageRecordCount": len(page), "PageNumber": number}
        return {"Items": {"DBInstance": [self._instance_view(i) for i in page]}, **body}

    def DescribeDBInstanceAttribute(self, req: RpcRequest) -> dict:
        ids = [i.strip() for i in req.require("DBInstanceId").split(",") if i.strip()]
        items = []
        for instance_id in ids:
            inst = self._instance(instance_id)
            view = self._instance_view(inst)
            view.update({
                "Port": str(inst["Port"]), "DBInstanceStorage": 100, "DBInstanceMemory": 4096,
                "DBInstanceCPU": "2", "DBMaxQuantity": 1000, "AccountMaxQuantity": 1000, "MaxConnections": 2000,
                "MaxIOPS": 10000, "MaintainTime": "18:00Z-22:00Z", "CreationTime": inst["CreateTime"],
                "SecurityIPList": "127.0.0.1", "SecurityIPMode": "normal", "IPType": "IPv4",
                "DBInstanceClassType": "x", "AutoUpgradeMinorVersion": "Auto", "TimeZone": "UTC",
                "SupportUpgradeAccountType": "No", "AvailabilityValue": "100.0%",
            })
            items.append(view)
        return {"Items": {"DBInstanceAttribute": items}}

    # ------------------------------------------------------------------------------------------------ databases
    def DescribeDatabases(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        inst = self._instance(instance_id)
        wanted = req.get("DBName")
        status_filter = req.get("DBStatus")
        eng = self._engine(inst)
        try:
            names = self._databases(inst, eng)
        except EngineError as err:
            raise self._server_error(err) from None
        creating: dict[str, dict] = {}
        for task in self._running_restores(instance_id):
            for t in task["Targets"]:
                if t["CreateDb"]:
                    creating[t["NewName"]] = t.get("Meta", {})
        rows = list(names) + [n for n in creating if n not in names]
        if wanted is not None:
            rows = [n for n in rows if n == wanted]
        try:
            meta = eng.describe(rows) if eng and rows else {}
            on_server = set(eng.all_databases()) if eng and creating else set()
        except EngineError as err:
            raise self._server_error(err) from None
        out = []
        for name in rows:
            status = "Running"
            if name in creating:       # a restore target: Creating until the restore has created it on the server
                status = RESTORING_DB_LISTED_AS if name in on_server else "Creating"
            if status_filter and status != status_filter:
                continue
            info = meta.get(name) or creating.get(name, {})
            item = {"DBName": name, "DBStatus": status, "Engine": inst["Engine"], "DBInstanceId": instance_id,
                    "CharacterSetName": info.get("CharacterSetName", ""), "DBDescription": "",
                    "Accounts": {"AccountPrivilegeInfo": []}}
            if isinstance(eng, PgEngine):
                item.update(Collate=info.get("Collate", ""), Ctype=info.get("Ctype", ""), ConnLimit="-1",
                            Tablespace="pg_default")
            elif info.get("Collate"):
                item["Collate"] = info["Collate"]
            out.append(item)
        size, number = _listed_page(req)
        total = len(out)
        out = out[(number - 1) * size: number * size]
        for item in out:           # the SDK model carries the paging fields on each database entry
            item.update(PageNumber=number, PageSize=size, TotalCount=total)
        return {"Databases": {"Database": out}}

    # ------------------------------------------------------------------------------------------------ backups
    def CreateBackup(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        inst = self._instance(instance_id)
        self.cloud.faults.check_reject(instance_id)
        if inst.get("DBInstanceType", "Primary") != "Primary":
            raise ServiceError(*READ_ONLY_BACKUP_REFUSAL)
        method = req.get("BackupMethod", "Physical")
        if method not in ("Physical", "Logical", "Snapshot"):
            raise ServiceError("InvalidBackupMethod.ValueNotSupport",
                               "The specified parameter \"BackupMethod\" is not valid.", 400)
        if method == "Logical" and inst["Engine"] != "MySQL":
            raise ServiceError("InvalidBackupMethod.ValueNotSupport",
                               f"BackupMethod Logical is not supported for {inst['Engine']}.", 400)
        backup_type = req.get("BackupType")
        if backup_type is not None and backup_type not in ("Auto", "FullBackup"):
            raise ServiceError("BackupType.NotSupport", "the specified backup type not support", 400)
        strategy = req.get("BackupStrategy")
        if strategy is not None and strategy not in ("db", "instance"):
            raise invalid("BackupStrategy", "Use db or instance.")
        retention = req.get_int("BackupRetentionPeriod")
        if retention is not None and retention != -1 and not 7 <= retention <= 730:
            raise invalid("BackupRetentionPeriod", "Use 7 to 730 days, or -1.")
        db_names = None
        if strategy == "db" and req.get("DBName"):
            db_names = [n.strip() for n in req.get("DBName").split(",") if n.strip()]
        return {"BackupJobId": self._start_job(instance_id, method=method, db_names=db_names, retention=retention,
                                               mode="Manual")}

    def _start_job(self, instance_id: str, method: str, db_names: list[str] | None, retention: int | None,
                   mode: str, min_seconds: float = 0.0) -> str:
        """Start a backup task: one at a time per instance, only while it is Running (CreateBackup doc)."""
        with self._lock:
            inst = self._instance(instance_id)
            if inst["Status"] != "Running":
                raise ServiceError("IncorrectDBInstanceState",
                                   f"Current DB instance state does not support this operation ({inst['Status']}).",
                                   403)
            busy = self.cloud.store.find(JOB, lambda j: j["DBInstanceId"] == instance_id and j["Status"] in ACTIVE_JOB)
            if busy:
                code, message, status = BACKUP_JOB_EXISTS
                raise ServiceError(code, f"{message} (task {busy[0]['BackupJobId']}, {busy[0].get('Mode', 'Manual')})",
                                   status)
            if db_names:
                try:
                    present = set(self._databases(inst))
                except EngineError as err:
                    raise self._server_error(err) from None
                for n in db_names:
                    if n not in present:
                        raise ServiceError("InvalidDBName.NotFound", f"Database {n!r} is not on {instance_id}.", 404)
            job_id = self._new_numeric_id(JOB)
            backup_id = self._new_numeric_id(BACKUP)
            now = self.cloud.now()
            job = {"BackupJobId": job_id, "BackupId": backup_id, "DBInstanceId": instance_id, "Status": "NoStart",
                   "Process": "0", "Method": method, "DBNames": db_names, "Retention": retention,
                   "StartTime": self.cloud.iso(now), "Reason": "", "Mode": mode, "MinSeconds": min_seconds}
            self.cloud.store.put(JOB, job_id, job)
        self.cloud.submit(self._run_backup, job_id, time.monotonic())
        return job_id

    def _set_job(self, job_id: str, **fields) -> dict | None:
        return self.cloud.store.update(JOB, job_id, lambda j: j.update(fields))

    def _run_backup(self, job_id: str, started: float) -> None:
        try:
            self._backup_work(job_id, started)
        except Exception as err:  # noqa: BLE001 - any failure ends the job Failed, with its reason
            if self.cloud.stopping:
                return  # left in progress: resume() re-runs it
            log.warning("RDS backup job %s failed: %s", job_id, err)
            self._finish_backup(job_id, started, failed=str(err) or type(err).__name__, databases=[])

    def _backup_work(self, job_id: str, started: float) -> None:
        job = self.cloud.store.get(JOB, job_id)
        if job is None or job["Status"] not in ACTIVE_JOB:
            return
        instance_id = job["DBInstanceId"]
        inst = self.cloud.store.get(INSTANCE, instance_id)
        if inst is None:
            raise EngineError("the instance no longer exists")
        self._set_job(job_id, Status="Preparing", Process="5")
        if self.cloud.wait_while_stuck(instance_id, job_id):
            return
        directory = self.backup_root / job["BackupId"]
        shutil.rmtree(directory, ignore_errors=True)
        self._set_job(job_id, Status="Uploading", Process="10")
        if self.cloud.faults.fails(instance_id, job_id):
            self.cloud.pace(started)
            if not self.cloud.stopping:
                self._finish_backup(job_id, started, failed="injected fault: the backup failed", databases=[])
            return
        databases: list[dict] = []
        eng = self._engine(inst)
        if eng is not None:
            names = job["DBNames"] or self._databases(inst, eng)
            directory.mkdir(parents=True, exist_ok=True)
            suffix = {PgEngine: ".dump", MssqlEngine: ".json"}.get(type(eng), ".sql")
            for i, name in enumerate(names):
                path = directory / f"db-{i}{suffix}"
                meta = eng.dump(name, path, stopping=lambda: self.cloud.stopping)
                databases.append({"DBName": name, "File": path.name, **meta})
                self._set_job(job_id, Process=str(10 + 85 * (i + 1) // max(1, len(names))))
        self.cloud.pace(started)
        while time.monotonic() < started + float(job.get("MinSeconds") or 0) and not self.cloud.stopping:
            time.sleep(0.05)
        if self.cloud.stopping:
            return
        if self.cloud.faults.fails(instance_id, job_id):
            self._finish_backup(job_id, started, failed="injected fault: the backup failed", databases=[])
            return
        self._finish_backup(job_id, started, failed=None, databases=databases)

    def _finish_backup(self, job_id: str, started: float, failed: str | None, databases: list[dict]) -> None:
        job = self.cloud.store.get(JOB, job_id)
        if job is None:
            return
        inst = self.cloud.store.get(INSTANCE, job["DBInstanceId"]) or {}
        directory = self.backup_root / job["BackupId"]
        files = [directory / d["File"] for d in databases]
        if failed:
            shutil.rmtree(directory, ignore_errors=True)
            files, databases = [], []
        end = self.cloud.now()
        # A set is kept for the days CreateBackup asked (MySQL), else the instance policy's; -1 keeps it for good.
        retention = job.get("Retention") or inst.get("BackupRetentionPeriod", DEFAULT_RETENTION_DAYS)
        expire = end + timedelta(days=retention if retention > 0 else 0)
        # MetaStatus OK only for MySQL sets taken with database/table restore enabled; "" otherwise (SDK-old
        # DescribeBackupsResponseBodyItemsBackup.meta_status: "" = not usable for database/table restore).
        if failed:
            meta = "EMPTY"
        elif inst.get("Engine") != "MySQL" or inst.get("CompressType", TABLE_RESTORE_COMPRESS_TYPE) \
                == TABLE_RESTORE_COMPRESS_TYPE:
            meta = "OK"
        else:
            meta = ""
        backup = {
            "BackupId": job["BackupId"], "BackupJobId": job_id, "DBInstanceId": job["DBInstanceId"],
            "Status": "Failed" if failed else "Success", "Reason": failed or "",
            "StartTime": job["StartTime"], "EndTime": self.cloud.iso(end),
            "Size": sum(f.stat().st_size for f in files), "Checksum": crc64(files) if files else "",
            "Method": job["Method"], "Engine": inst.get("Engine", ""), "EngineVersion": inst.get("EngineVersion", ""),
            "Databases": databases, "ExpectExpireTime": "" if retention == -1 else self.cloud.iso(expire),
            "Mode": job.get("Mode", "Manual"), "MetaStatus": meta,
            "StoreStatus": "Enabled" if inst.get("BackupsDeletable", True) else "Disabled",
        }
        self.cloud.store.put(BACKUP, job["BackupId"], backup)
        self._set_job(job_id, Status="Failed" if failed else "Finished",
                      Process="100" if not failed else job["Process"], Reason=failed or "", EndTime=self.cloud.iso(end))

    def DescribeBackupPolicy(self, req: RpcRequest) -> dict:
        """The data backup policy (SDK DescribeBackupPolicyResponseBody); the fields the local cloud models."""
        inst = self._instance(req.require("DBInstanceId"))
        mode = req.get("BackupPolicyMode", "DataBackupPolicy")
        if mode not in ("DataBackupPolicy", "LogBackupPolicy"):
            raise invalid("BackupPolicyMode", "Use DataBackupPolicy or LogBackupPolicy.")
        return {"BackupRetentionPeriod": inst.get("BackupRetentionPeriod", DEFAULT_RETENTION_DAYS),
                "CompressType": inst.get("CompressType", TABLE_RESTORE_COMPRESS_TYPE),
                "PreferredBackupTime": "18:00Z-19:00Z", "PreferredBackupPeriod": "Monday,Wednesday,Friday",
                "BackupMethod": "Physical", "EnableBackupLog": "0", "LocalLogRetentionHours": 0,
                "LogBackupRetentionPeriod": 7, "Category": "Standard", "BackupPolicyMode": mode}

    def DescribeBackupTasks(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        self._instance(instance_id)
        job_id = req.get_int("BackupJobId")
        status = req.get("BackupJobStatus")
        if status is not None and status not in ("NoStart", "Progressing"):
            raise invalid("BackupJobStatus", "Use NoStart or Progressing.")
        mode = req.get("BackupMode")
        if mode is not None and mode not in ("Automated", "Manual"):
            raise invalid("BackupMode", "Use Automated or Manual.")

        def wanted(j: dict) -> bool:
            if j["DBInstanceId"] != instance_id:
                return False
            if mode and j.get("Mode", "Manual") != mode:
                return False
            if job_id is not None:
                return j["BackupJobId"] == str(job_id)
            if status == "NoStart":
                return j["Status"] == "NoStart"
            if status == "Progressing":
                return j["Status"] in ("Preparing", "Uploading")
            return j["Status"] in ACTIVE_JOB

        items = []
        for j in self.cloud.store.find(JOB, wanted):
            progress = {"NoStart": "NoStart", "Preparing": "Preparing", "Uploading": "Uploading"}.get(
                j["Status"], "Finished")
            item = {"BackupJobId": j["BackupJobId"], "BackupStatus": j["Status"], "BackupProgressStatus": progress,
                    "Process": j["Process"], "JobMode": j.get("Mode", "Manual"),
                    "TaskAction": "TempBackupTask" if j.get("Mode", "Manual") == "Manual" else "NormalBackupTask"}
            if job_id is not None and j["Status"] == "Finished":
                item["BackupId"] = j["BackupId"]
            items.append(item)
        return {"Items": {"BackupJob": items}}

    def _backup_view(self, b: dict) -> dict:
        ok = b["Status"] == "Success"
        start = datetime.strptime(b["StartTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        end = datetime.strptime(b["EndTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        return {
            "BackupId": b["BackupId"], "DBInstanceId": b["DBInstanceId"], "BackupStatus": b["Status"],
            "BackupStartTime": start.strftime(_MINUTE), "BackupEndTime": end.strftime(_MINUTE),
            "BackupSize": b["Size"], "BackupMethod": b["Method"], "BackupMode": b.get("Mode", "Manual"),
            "BackupType": "FullBackup", "BackupInitiator": "User" if b.get("Mode", "Manual") == "Manual" else "System",
            "Engine": b["Engine"], "EngineVersion": b["EngineVersion"], "IsAvail": 1 if ok else 0,
            "MetaStatus": b.get("MetaStatus", "OK" if ok else "EMPTY"), "StoreStatus": b.get("StoreStatus", "Enabled"),
            "ConsistentTime": 0, "CopyOnlyBackup": "0", "StorageClass": "0", "HostInstanceID": "0",
            "BackupDownloadURL": "", "BackupIntranetDownloadURL": "", "Checksum": b["Checksum"],
            "Encryption": "{}", "ExpectExpireTime": b.get("ExpectExpireTime", ""),
            "BackupDownloadLinkByDB": {"BackupDownloadLinkByDB": [
                {"DataBase": d["DBName"], "DownloadLink": "", "IntranetDownloadLink": ""} for d in b["Databases"]]},
        }

    def DescribeBackups(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        self._instance(instance_id)
        backup_id = req.get("BackupId")
        status = req.get("BackupStatus")
        mode = req.get("BackupMode")
        btype = req.get("BackupType")
        start = _parse_time("StartTime", req.get("StartTime"))
        end = _parse_time("EndTime", req.get("EndTime"))
        if start and end and end < start:
            raise ServiceError("InvalidEndTime.Malformed", "The EndTime must not be before the StartTime.", 400)
        size, number = _listed_page(req)
        self._purge_expired()

        def wanted(b: dict) -> bool:
            if b["DBInstanceId"] != instance_id:
                return False
            if backup_id and b["BackupId"] != backup_id:
                return False
            if status and b["Status"] != status:
                return False
            if mode and b.get("Mode", "Manual") != mode:
                return False
            if btype and btype != "FullBackup":
                return False
            t = datetime.strptime(b["StartTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            t = t.replace(second=0)
            if start and t < start:
                return False
            if end and t > end:
                return False
            return True

        found = self.cloud.store.find(BACKUP, wanted)
        found.sort(key=lambda b: b["StartTime"], reverse=True)  # newest first (stable: later inserts first)
        page = found[(number - 1) * size: number * size]
        return {"Items": {"Backup": [self._backup_view(b) for b in page]}, "TotalRecordCount": str(len(found)),
                "PageRecordCount": str(len(page)), "PageNumber": str(number), "TotalEcsSnapshotSize": 0}

    def DeleteBackup(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        raw = req.require("BackupId")
        self._instance(instance_id)
        self.cloud.faults.check_reject(instance_id)
        ids = [i.strip() for i in raw.split(",") if i.strip()]
        if not ids:
            raise missing("BackupId")
        if len(ids) > 100:
            raise invalid("BackupId", "At most 100 backup sets per call.")
        with self._lock:
            in_use = {t["BackupId"] for t in self._running_restores(instance_id)}
            for backup_id in ids:
                b = self.cloud.store.get(BACKUP, backup_id)
                if b is None or b["DBInstanceId"] != instance_id:
                    raise ServiceError("InvalidBackupId.NotFound", f"The backup set {backup_id} is not found.", 404)
                if backup_id in in_use:
                    raise ServiceError("IncorrectBackupSetState",
                                       f"The backup set {backup_id} is being restored from.", 403)
                if b.get("StoreStatus", "Enabled") != "Enabled":
                    code, message, http = DELETE_REFUSED
                    raise ServiceError(code, f"{message} ({backup_id})", http)
            for backup_id in ids:
                self.cloud.store.delete(BACKUP, backup_id)
                shutil.rmtree(self.backup_root / backup_id, ignore_errors=True)
        return {}

    # ------------------------------------------------------------------------------------------------ restore
    def _parse_table_meta(self, req: RpcRequest, eng: Engine) -> list[dict]:
        meta = req.get_json("TableMeta", list)
        if meta is None:
            raise missing("TableMeta")
        if not meta:
            raise invalid("TableMeta", "It names no database.")
        targets = []
        for entry in meta:
            if not isinstance(entry, dict) or str(entry.get("type", "db")).lower() != "db":
                raise invalid("TableMeta", 'Each entry must be {"type":"db","name":...,"newname":...}.')
            name, newname = entry.get("name"), entry.get("newname")
            if not isinstance(name, str) or not name or not isinstance(newname, str) or not newname:
                raise invalid("TableMeta", "Each database entry needs a name and a newname.")
            tables = entry.get("tables")
            pairs = None
            if tables is not None:
                if isinstance(eng, PgEngine):
                    raise invalid("TableMeta", "PostgreSQL restores whole databases only: drop the tables list.")
                if not isinstance(tables, list) or not tables:
                    raise invalid("TableMeta", "tables must be a non-empty list.")
                pairs = []
                for t in tables:
                    if not isinstance(t, dict) or str(t.get("type", "table")).lower() != "table" \
                            or not isinstance(t.get("name"), str) or not t["name"]:
                        raise invalid("TableMeta", 'Each table must be {"type":"table","name":...,"newname":...}.')
                    new_table = t.get("newname") or t["name"]
                    if not isinstance(new_table, str) or len(new_table) > 64:
                        raise invalid("TableMeta", f"Invalid new table name {new_table!r}.")
                    pairs.append([t["name"], new_table])
                if len({p[1] for p in pairs}) != len(pairs):
                    raise invalid("TableMeta", f"Two tables of {newname!r} get the same new name.")
            why = eng.check_name(newname)
            if why:
                raise invalid("TableMeta", f"{newname!r}: {why}.")
            targets.append({"Name": name, "NewName": newname, "Tables": pairs})
        whole = [t["NewName"] for t in targets if t["Tables"] is None]
        if len(set(whole)) != len(whole) or set(whole) & {t["NewName"] for t in targets if t["Tables"] is not None}:
            raise invalid("TableMeta", "A new database name appears twice.")
        return targets

    @staticmethod
    def _restore_source(req: RpcRequest) -> str:
        """The BackupId a restore reads; point-in-time restores are refused (no log backups here)."""
        backup_id = req.get("BackupId")
        if backup_id is None:
            if req.get("RestoreTime"):
                raise invalid("RestoreTime", "Point-in-time restore needs log backups, which the local cloud does "
                                             "not keep: pass BackupId.")
            raise missing("BackupId")
        return backup_id

    def RestoreTable(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        req.require("TableMeta")
        inst = self._instance(instance_id)
        self.cloud.faults.check_reject(instance_id)
        backup_id = self._restore_source(req)
        eng = self._engine(inst)
        if eng is None or isinstance(eng, MssqlEngine):
            raise ServiceError("UnsupportedEngine",
                               f"RestoreTable does not support the {inst['Engine']} engine (MySQL and PostgreSQL "
                               f"only).", 400)
        token = req.get("ClientToken")
        fingerprint = hashlib.sha256(json.dumps(
            [instance_id, backup_id, req.get("TableMeta"), req.get("RestoreTime")]).encode()).hexdigest()
        targets = self._parse_table_meta(req, eng)
        with self._lock:
            if token is not None:
                seen = self.cloud.store.get(TOKEN, f"RestoreTable:{instance_id}:{token}")
                if seen is not None:
                    if seen["Fingerprint"] != fingerprint:
                        raise ServiceError("IdempotentParameterMismatch",
                                           "The ClientToken was used before with different parameters.", 400)
                    return {}
            inst = self._instance(instance_id)
            if inst["Status"] != "Running":
                raise ServiceError("IncorrectDBInstanceState",
                                   f"Current DB instance state does not support this operation ({inst['Status']}).",
                                   403)
            if self._restoring(instance_id):
                raise ServiceError(*RESTORE_IN_PROGRESS)
            backup = self.cloud.store.get(BACKUP, backup_id)
            if backup is None or backup["DBInstanceId"] != instance_id:
                raise ServiceError("InvalidBackupId.NotFound", f"The backup set {backup_id} is not found.", 404)
            if backup["Status"] != "Success":
                raise ServiceError("IncorrectBackupSetState", f"The backup set {backup_id} is not available.", 403)
            if backup.get("MetaStatus", "OK") != "OK":
                code, message, http = NO_TABLE_META
                raise ServiceError(code, f"{message} ({backup_id})", http)
            in_backup = {d["DBName"]: d for d in backup["Databases"]}
            try:
                on_server = set(eng.all_databases())
                mine = set(self._databases(inst, eng))
            except EngineError as err:
                raise self._server_error(err) from None
            pending_dbs: set[str] = set()
            pending_tables: set[tuple[str, str]] = set()
            for task in self._running_restores(instance_id):
                for t in task["Targets"]:
                    if t["CreateDb"]:
                        pending_dbs.add(t["NewName"])
                    for _, new in t["Tables"] or []:
                        pending_tables.add((t["NewName"], new))
            for t in targets:
                src = in_backup.get(t["Name"])
                if src is None:
                    raise ServiceError("InvalidDBName.NotFound",
                                       f"The database {t['Name']!r} is not in backup set {backup_id}.", 404)
                t["Meta"] = {k: src.get(k) for k in ("CharacterSetName", "Collate", "Ctype") if src.get(k)}
                t["File"] = src["File"]
                if t["Tables"] is None:
                    if t["NewName"] in on_server or t["NewName"] in pending_dbs:
                        raise ServiceError("InvalidDBName.Duplicate",
                                           f"The database {t['NewName']!r} already exists on the instance.", 400)
                    t["CreateDb"] = True
                    continue
                for old, _ in t["Tables"]:
                    if old not in src.get("Tables", []):
                        raise ServiceError("InvalidTableName.NotFound",
                                           f"The table {old!r} of {t['Name']!r} is not in backup set {backup_id}.",
                                           404)
                if t["NewName"] in pending_dbs or (t["NewName"] in on_server and t["NewName"] not in mine):
                    raise ServiceError("InvalidDBName.Duplicate",
                                       f"The database {t['NewName']!r} already exists.", 400)
                t["CreateDb"] = t["NewName"] not in on_server
                existing = set() if t["CreateDb"] else eng.table_names(t["NewName"])
                for _, new in t["Tables"]:
                    if new in existing or (t["NewName"], new) in pending_tables:
                        raise ServiceError("InvalidTableName.Duplicate",
                                           f"The table {new!r} already exists in {t['NewName']!r}.", 400)
            task_id = self._new_numeric_id(RESTORE)
            task = {"TaskId": task_id, "DBInstanceId": instance_id, "BackupId": backup_id, "Status": "Running",
                    "Action": "RestoreTable", "Targets": targets, "CreatedDbs": [], "CreatedTables": [], "Reason": "",
                    "StartTime": self.cloud.iso(), "ClientToken": token}
            self.cloud.store.put(RESTORE, task_id, task)
            if token is not None:
                self.cloud.store.put(TOKEN, f"RestoreTable:{instance_id}:{token}",
                                     {"Fingerprint": fingerprint, "TaskId": task_id})
        self.cloud.submit(self._run_restore, task_id, time.monotonic())
        return {}

    def RecoveryDBInstance(self, req: RpcRequest) -> dict:
        """SQL Server: restore databases of a backup set into an existing instance under new names."""
        mapping = req.get_json("DbNames", dict)
        if mapping is None:
            raise missing("DbNames")
        backup_id = self._restore_source(req)
        target_id = req.get("TargetDBInstanceId")
        if not target_id:
            raise invalid("TargetDBInstanceId", "Restoring into a new instance is not emulated: name an existing "
                                                "SQL Server instance.")
        if not mapping or not all(isinstance(k, str) and k and isinstance(v, str) and v for k, v in mapping.items()):
            raise invalid("DbNames", 'Use {"source database":"new database",...}.')
        if len({v.lower() for v in mapping.values()}) != len(mapping):
            raise invalid("DbNames", "A new database name appears twice.")
        with self._lock:
            backup = self.cloud.store.get(BACKUP, backup_id)
            source_id = req.get("DBInstanceId") or (backup or {}).get("DBInstanceId")
            if backup is None or backup["DBInstanceId"] != source_id:
                raise ServiceError("InvalidBackupId.NotFound", f"The backup set {backup_id} is not found.", 404)
            source, target = self._instance(source_id), self._instance(target_id)
            for inst in (source, target):
                if inst["Engine"] != "SQLServer":
                    raise ServiceError("UnsupportedEngine", f"RecoveryDBInstance supports SQL Server only, not "
                                                            f"{inst['Engine']} ({inst['DBInstanceId']}).", 400)
            self.cloud.faults.check_reject(target_id)
            if target["Status"] != "Running":
                raise ServiceError("IncorrectDBInstanceState",
                                   f"Current DB instance state does not support this operation ({target['Status']}).",
                                   403)
            if backup["Status"] != "Success":
                raise ServiceError("IncorrectBackupSetState", f"The backup set {backup_id} is not available.", 403)
            eng = self._engine(target)
            in_backup = {d["DBName"]: d for d in backup["Databases"]}
            taken = {n.lower() for n in eng.all_databases()}
            for task in self._running_restores(target_id):
                taken |= {t["NewName"].lower() for t in task["Targets"]}
            targets = []
            for name, newname in mapping.items():
                if name not in in_backup:
                    raise ServiceError("InvalidDBName.NotFound",
                                       f"The database {name!r} is not in backup set {backup_id}.", 404)
                why = eng.check_name(newname)
                if why:
                    raise invalid("DbNames", f"{newname!r}: {why}.")
                if newname.lower() in taken:
                    raise ServiceError("InvalidDBName.Duplicate",
                                       f"The database {newname!r} already exists on {target_id}.", 400)
                targets.append({"Name": name, "NewName": newname, "Tables": None, "CreateDb": True,
                                "File": in_backup[name]["File"], "Meta": {}})
            task_id = self._new_numeric_id(RESTORE)
            self.cloud.store.put(RESTORE, task_id, {
                "TaskId": task_id, "DBInstanceId": target_id, "BackupId": backup_id, "Status": "Running",
                "Action": "RecoveryDBInstance", "Targets": targets, "CreatedDbs": [], "CreatedTables": [], "Reason": "",
                "StartTime": self.cloud.iso(), "ClientToken": None})
        self.cloud.submit(self._run_restore, task_id, time.monotonic())
        return {"DBInstanceId": target_id, "OrderId": ""}

    def DescribeHistoryTasks(self, req: RpcRequest) -> dict:
        """The task centre (SDK DescribeHistoryTasksRequest/ResponseBody), for the restore tasks the local cloud runs
        (TaskType RESTORE_TASK_TYPE, or RecoveryDBInstance for SQL Server); backups are not listed here."""
        start = _parse_time("FromStartTime", req.require("FromStartTime"))
        end = _parse_time("ToStartTime", req.require("ToStartTime"))
        ids = {i.strip() for i in (req.get("InstanceId") or "").split(",") if i.strip()}
        types = {i.strip() for i in (req.get("TaskType") or "").split(",") if i.strip()}
        statuses = {i.strip() for i in (req.get("Status") or "").split(",") if i.strip()}
        task_ids = {i.strip() for i in (req.get("TaskId") or "").split(",") if i.strip()}
        if len(ids) > 30 or len(types) > 30 or len(task_ids) > 30:
            raise invalid("InstanceId", "At most 30 instance ids, task ids and task types.")
        size = req.get_int("PageSize", 10, lo=10, hi=100)
        number = req.get_int("PageNumber", 1, lo=1, hi=10 ** 9)

        def view(t: dict) -> dict:
            status = {"Running": "Running", "Succeed": "Succeed"}.get(t["Status"], "Failed")
            inst = self.cloud.store.get(INSTANCE, t["DBInstanceId"]) or {}
            return {"TaskId": t["TaskId"], "TaskType": RESTORE_TASK_TYPE if t.get("Action", "RestoreTable") ==
                    "RestoreTable" else t["Action"], "Status": status, "InstanceId": t["DBInstanceId"],
                    "InstanceName": t["DBInstanceId"], "InstanceType": "Instance", "Product": "rds",
                    "DbType": inst.get("Engine", ""), "RegionId": self.cloud.region, "StartTime": t["StartTime"],
                    "EndTime": t.get("EndTime", ""), "Progress": 100.0 if status != "Running" else 50.0,
                    "RemainTime": 0, "CurrentStepName": "" if status != "Running" else "restore_data",
                    "ReasonCode": "RestoreFailed" if status == "Failed" else "",
                    "TaskDetail": json.dumps({"BackupId": t["BackupId"], "Reason": t.get("Reason", "")}),
                    "CallerSource": "User", "CallerUid": "", "Uid": "", "ActionInfo": "{}"}

        def wanted(t: dict) -> bool:
            began = datetime.strptime(t["StartTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            return (start <= began <= end and (not ids or t["DBInstanceId"] in ids)
                    and (not task_ids or t["TaskId"] in task_ids))

        items = [view(t) for t in self.cloud.store.find(RESTORE, wanted)]
        items = [i for i in items
                 if (not types or i["TaskType"] in types) and (not statuses or i["Status"] in statuses)]
        items.reverse()                         # newest first; within one second, the later task first
        items.sort(key=lambda i: i["StartTime"], reverse=True)
        return {"Items": items[(number - 1) * size: number * size], "TotalCount": len(items),
                "PageNumber": number, "PageSize": size}

    def _run_restore(self, task_id: str, started: float) -> None:
        try:
            self._restore_work(task_id, started)
        except Exception as err:  # noqa: BLE001 - any failure ends the restore Failed, undone
            if self.cloud.stopping:
                return  # resume() undoes and fails it
            log.warning("RDS restore %s failed: %s", task_id, err)
            self._abort_restore(task_id, str(err) or type(err).__name__)

    def _restore_work(self, task_id: str, started: float) -> None:
        task = self.cloud.store.get(RESTORE, task_id)
        if task is None or task["Status"] != "Running":
            return
        instance_id = task["DBInstanceId"]
        if self.cloud.wait_while_stuck(instance_id, task_id, task["BackupId"]):
            return
        if self.cloud.faults.fails(instance_id, task_id, task["BackupId"]):
            self.cloud.pace(started)
            if not self.cloud.stopping:
                self._abort_restore(task_id, "injected fault: the restore failed")
            return
        inst = self.cloud.store.get(INSTANCE, instance_id)
        eng = self._engine(inst)
        directory = self.backup_root / task["BackupId"]
        self.work_root.mkdir(parents=True, exist_ok=True)
        stopping = lambda: self.cloud.stopping  # noqa: E731
        for t in task["Targets"]:
            if not (directory / t["File"]).exists():
                raise EngineError(f"the backup file of {t['Name']!r} is missing")
        # The new databases exist (and are listed, see RESTORING_DB_LISTED_AS) before they are filled; op_delay_ms
        # holds the restore in that state.
        if not isinstance(eng, MssqlEngine):
            for t in task["Targets"]:
                if t["CreateDb"]:
                    eng.create_database(t["NewName"], t["Meta"])
                    self.cloud.store.update(RESTORE, task_id, lambda d, n=t["NewName"]: d["CreatedDbs"].append(n))
        self.cloud.pace(started)
        if self.cloud.stopping:
            return
        for t in task["Targets"]:
            file = directory / t["File"]
            if isinstance(eng, MssqlEngine):        # the import creates the database
                self.cloud.store.update(RESTORE, task_id, lambda d, n=t["NewName"]: d["CreatedDbs"].append(n))
                eng.restore_database(file, t["NewName"], stopping)
                continue
            if isinstance(eng, PgEngine):
                eng.restore_database(file, t["NewName"], stopping)
            elif t["Tables"] is None:
                eng.restore_database(file, t["Name"], t["NewName"], self.work_root, stopping)
            else:
                if not t["CreateDb"]:
                    self.cloud.store.update(RESTORE, task_id, lambda d, t=t: d["CreatedTables"].extend(
                        [[t["NewName"], new] for _, new in t["Tables"]]))
                eng.restore_tables(file, t["Name"], t["Meta"], t["NewName"], [tuple(p) for p in t["Tables"]],
                                   self.work_root, stopping)
        if self.cloud.stopping:
            return
        with self._lock:
            created = [t["NewName"] for t in task["Targets"] if t["CreateDb"]]

            def add(doc: dict) -> None:
                doc["Restored"] = list(dict.fromkeys([*doc.get("Restored", []), *created]))
            self.cloud.store.update(INSTANCE, instance_id, add)
            self.cloud.store.update(RESTORE, task_id, lambda d: d.update(Status="Succeed", EndTime=self.cloud.iso()))

    def _abort_restore(self, task_id: str, reason: str) -> None:
        """Undo what a restore created, then mark it Failed: its new databases never reach Running."""
        task = self.cloud.store.get(RESTORE, task_id)
        if task is None:
            return
        inst = self.cloud.store.get(INSTANCE, task["DBInstanceId"])
        eng = self._engine(inst) if inst else None
        if eng is not None:
            try:
                if isinstance(eng, MySqlEngine):
                    by_db: dict[str, list[str]] = {}
                    for db, table in task["CreatedTables"]:
                        by_db.setdefault(db, []).append(table)
                    for db, tables in by_db.items():
                        eng.drop_tables(db, tables)
                for db in task["CreatedDbs"]:
                    eng.drop_database(db)
            except EngineError as err:
                reason += f" (cleanup failed: {err})"
        self.cloud.store.update(RESTORE, task_id, lambda d: d.update(Status="Failed", Reason=reason,
                                                                     EndTime=self.cloud.iso()))

    # ------------------------------------------------------------------------------------------------ restart
    def resume(self) -> None:
        """Serve the SQL Server instances again; re-run backup jobs a killed server left in progress; fail (and
        undo) interrupted restores."""
        for inst in self.cloud.store.find(INSTANCE, lambda d: d["Engine"] == "SQLServer"):
            self._serve_mssql(inst)
        for job in self.cloud.store.find(JOB, lambda j: j["Status"] in ACTIVE_JOB):
            self._set_job(job["BackupJobId"], Status="NoStart", Process="0",
                          Reason="re-run after a restart of the local cloud")
            self.cloud.submit(self._run_backup, job["BackupJobId"], time.monotonic())
        for task in self.cloud.store.find(RESTORE, lambda t: t["Status"] == "Running"):
            self.cloud.submit(self._abort_restore, task["TaskId"], "interrupted by a restart of the local cloud")

    def close(self) -> None:
        with self._lock:
            servers, self._mssql = [srv for _, srv in self._mssql.values()], {}
        for server in servers:
            server.close()
