"""RDS 2014-08-15: instances backed by real PostgreSQL / MariaDB servers.

This module assembles the product from one mixin per resource, as moto assembles EC2 (and as localcloud.ecs does):
`instances.py`, `databases.py`, `policy.py` (the backup policy), `backup_jobs.py` (CreateBackup and its worker),
`backup_sets.py`, `restores.py` (RestoreTable, RecoveryDBInstance), `restore_tasks.py` (their worker,
DescribeHistoryTasks) and `control.py` (/_local/rds), over the shared state in `state.py`; wire rendering is in
`render.py`, request rules in `rules.py`, every error in `errors.py`, the real servers in `engines/` (one module per
engine). What follows describes the whole product.

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
- RestoreTable with RestoreTime (no BackupId) restores whole databases to that second (point_in_time.py): MySQL
  with row-based binary logs on the server, each dump records its log position (`--master-data=2`), and the newest
  set that ended before the second is loaded, then the database's logged changes replayed up to it
  (engines/binlog.py); PostgreSQL with LogBackup on from the set's base backup and the archived WAL, recovered in a
  temporary server (engines/wal.py). DescribeBackupPolicy EnableBackupLog and DescribeLocalAvailableRecoveryTime say
  whether and to when; SQL Server keeps no log backups here (RestoreTime refused, 400 InvalidParameter).
- A SQL Server instance is the local stand-in of localcloud.mssql: a JSON catalog of databases, tables and rows,
  served over the TDS wire protocol on 127.0.0.1 (ConnectionString/Port; login `sa`, empty password). It is no SQL
  Server engine: it runs a small statement set (mssql.lexer.SUPPORTED). CreateBackup exports each database to
  `db-<n>.json`; RestoreTable answers 400 UnsupportedEngine (as on the real service); RecoveryDBInstance restores
  databases of a backup set into an existing SQL Server instance (TargetDBInstanceId, the source one included, as
  documented) under the names DbNames maps them to, never over an existing database. DbNames takes the documented
  form of its target (restores.parse_db_names): JSON `{"src":"dst"}` into an existing instance, `a,b` into a new
  one; the other form is 400 InvalidParameter. Restoring into a new instance (no TargetDBInstanceId) and
  RestoreTime are refused with 400 InvalidParameter. CopyDatabaseBetweenInstances does the same into ANOTHER
  instance (the source as target: errors.COPY_INTO_ITSELF).

Statuses: while a RestoreTable task runs, DBInstanceStatus is TempDBInstanceCreating
(state.RESTORE_INSTANCE_STATUS), then Running again; backups run meanwhile, another RestoreTable is refused
(errors.RESTORE_IN_PROGRESS). The task creates its new databases first (DescribeDatabases lists them,
databases.RESTORING_DB_LISTED_AS), waits op_delay_ms, then fills them; DescribeHistoryTasks lists it (TaskType
render.RESTORE_TASK_TYPE) Running, then Succeed or Failed (ReasonCode RestoreFailed, TaskDetail {"BackupId",
"Reason"}). Backup jobs move
NoStart -> Preparing -> Uploading -> Finished | Failed (BackupProgressStatus ends Finished either way; Process is a
percent string without a sign, "0".."100"). A finished job leaves a backup set: BackupStatus Success, or Failed with
IsAvail 0, MetaStatus EMPTY and no files. DescribeBackupTasks lists unfinished jobs; a finished one only by
BackupJobId, and only for TaskListedForSeconds after it ended (policy.TASK_LISTED_FOR_SECONDS); its set shows in
DescribeBackups SetListedAfterSeconds after the job ended (policy.SET_LISTED_AFTER_SECONDS). Restore targets that
RestoreTable creates are listed by DescribeDatabases with DBStatus Creating until they exist on the server. A
failed restore drops what it created: the new database never reaches Running and disappears from DescribeDatabases
(`DBName=<newname>` then returns no row).

Error codes:
- 404 InvalidDBInstanceId.NotFound: unknown DBInstanceId.
- 400 MissingParameter / InvalidParameter: a required parameter is absent / malformed (TableMeta, Tags, paging...).
- 403 IncorrectDBInstanceState: CreateBackup or RestoreTable while the instance is not Running.
- BackupJobExists (errors.BACKUP_JOB_EXISTS): CreateBackup while another backup task of the instance (manual or
  automatic) is NoStart/Preparing/Uploading.
- 400 InvalidParameter: DescribeDatabases / DescribeBackups PageSize other than 30, 50, 100 (rules.PAGE_SIZES).
- errors.NO_TABLE_META: RestoreTable from a set whose MetaStatus is not OK; errors.DELETE_REFUSED: DeleteBackup of a
  set whose StoreStatus is Disabled (policy.store_status: not MySQL/PostgreSQL, not High-availability, BackupsDeletable
  false, or younger than DeletableAfterDays); 403 IncorrectDBInstanceState: DeleteBackup while not Running.
- 403 IncorrectDBInstanceState (errors.RESTORE_IN_PROGRESS): RestoreTable while another RestoreTable task of the
  instance runs.
- 400 InvalidBackupMethod.ValueNotSupport, 400 BackupType.NotSupport: CreateBackup options (a BackupMethod the
  engine and DBInstanceStorageType do not take: backup_jobs.method_refused).
- 404 InvalidBackupId.NotFound: BackupId unknown or of another instance (RestoreTable, DeleteBackup).
- 403 IncorrectBackupSetState: restoring from a Failed backup set; deleting one a running restore reads.
- 404 InvalidDBName.NotFound / InvalidTableName.NotFound: a TableMeta name that is not in the backup set;
  CreateBackup DBName not on the instance.
- 400 InvalidDBName.Duplicate / InvalidTableName.Duplicate: a RestoreTable new name that already exists (or that
  a restore in progress is creating).
- 400 UnsupportedEngine: RestoreTable on SQL Server, RecoveryDBInstance / CopyDatabaseBetweenInstances on anything
  else; 400 InvalidParameter for PostgreSQL table-level TableMeta, for a RestoreTime the instance cannot reach (no
  log backup, outside the range, malformed, tables listed), for a DbNames
  form its target does not take, and for CopyDatabaseBetweenInstances into its source (errors.COPY_INTO_ITSELF).
- 400 IdempotentParameterMismatch: a RestoreTable ClientToken reused with different parameters (same parameters:
  the first call's answer, no new restore).
- 500 InternalError: the real database server could not be reached while answering a call.
Faults: `reject` refuses CreateBackup/RestoreTable/DeleteBackup at the call; `fail` (instance id, job id or
restore task id) ends a backup job Failed / a restore failed; `stuck` keeps them in progress. `op_delay_ms` is the
minimum duration of both. Not enforced: the 20-backups-per-day limit.

Backup policy (per instance, seeded with `RdsBackupPolicy` or set through POST /_local/rds/instances/<id>):
BackupRetentionPeriod (default 7 days) gives each set ExpectExpireTime = end + days (CreateBackup's
BackupRetentionPeriod wins; -1: no expiry); a set past it disappears. TableRestore (CompressType 4, default; else 8):
MySQL sets taken without it have MetaStatus "". BackupsDeletable false: sets have StoreStatus Disabled. LogBackup
(PostgreSQL, default false): each backup also takes a base backup, and RestoreTime recovers it with the archived WAL.
Automatic backup tasks (JobMode Automated, BackupMode Automated, BackupInitiator System) are started through POST
/_local/rds/instances/<id>/backups; they hold the instance's one backup slot like a manual one.

Durability: instances, backup jobs, backup sets, restore tasks and ClientTokens are documents in `cloud.store`.
`resume()` re-runs backup jobs a killed server left in progress (from scratch) and marks interrupted restores
Failed, dropping the databases/tables they had created.
"""
from __future__ import annotations

from .control import LocalControl
from .databases import Databases
from .encryption import Encryption
from .instances import Instances
from .policy import BackupPolicies
from .restores import Restores
from .state import INSTANCE


class Rds(Instances, Databases, BackupPolicies, LocalControl, Restores, Encryption):
    name = "rds"
    version = "2014-08-15"
    ACTIONS = frozenset({"DescribeDBInstances", "DescribeDBInstanceAttribute", "CreateBackup", "DescribeBackupTasks",
                         "DescribeBackups", "DeleteBackup", "RestoreTable", "DescribeDatabases",
                         "RecoveryDBInstance", "CopyDatabaseBetweenInstances", "DescribeBackupPolicy",
                         "DescribeHistoryTasks", "DeleteDatabase", "DescribeResourceUsage",
                         "DescribeDBInstanceTDE", "DescribeDBInstanceEncryptionKey",
                         "DescribeLocalAvailableRecoveryTime"})

    def resume(self) -> None:
        """Serve the SQL Server instances again; re-run backup jobs a killed server left in progress; fail (and
        undo) interrupted restores."""
        for inst in self.cloud.store.find(INSTANCE, lambda d: d["Engine"] == "SQLServer"):
            self._serve_mssql(inst)
        self._resume_backup_jobs()
        self._resume_restores()
