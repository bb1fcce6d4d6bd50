"""Starting an RDS restore: RestoreTable (MySQL and PostgreSQL databases or MySQL tables, into new names, with
ClientToken idempotence) and RecoveryDBInstance (SQL Server databases into an existing instance). Each checks the
request, the instance and the backup set, then stores a restore task that `restore_tasks.RestoreTasks` runs."""
from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timezone

from ..core.rpc import RpcRequest
from . import errors, point_in_time
from .engines.base import Engine, EngineError
from .engines.postgres import PgEngine
from .engines.sqlserver import MssqlEngine
from .restore_tasks import RestoreTasks
from .rules import SECOND
from .state import BACKUP, RESTORE, TOKEN


def parse_table_meta(req: RpcRequest, eng: Engine) -> list[dict]:
    """RestoreTable's TableMeta: one target per database, {"Name", "NewName", "Tables": [[old, new], ...] or None
    for the whole database}."""
    meta = req.get_json("TableMeta", list)
    if meta is None:
        raise errors.missing("TableMeta")
    if not meta:
        raise errors.invalid("TableMeta", "It names no database.")
    targets = []
    for entry in meta:
        if not isinstance(entry, dict) or str(entry.get("type", "db")).lower() != "db":
            raise errors.invalid("TableMeta", 'Each entry must be {"type":"db","name":...,"newname":...}.')
        name, newname = entry.get("name"), entry.get("newname")
        if not isinstance(name, str) or not name or not isinstance(newname, str) or not newname:
            raise errors.invalid("TableMeta", "Each database entry needs a name and a newname.")
        tables = entry.get("tables")
        pairs = None
        if tables is not None:
            if isinstance(eng, PgEngine):
                raise errors.invalid("TableMeta", "PostgreSQL restores whole databases only: drop the tables list.")
            if not isinstance(tables, list) or not tables:
                raise errors.invalid("TableMeta", "tables must be a non-empty list.")
            pairs = []
            for t in tables:
                if not isinstance(t, dict) or str(t.get("type", "table")).lower() != "table" \
                        or not isinstance(t.get("name"), str) or not t["name"]:
                    raise errors.invalid("TableMeta", 'Each table must be {"type":"table","name":...,"newname":...}.')
                new_table = t.get("newname") or t["name"]
                if not isinstance(new_table, str) or len(new_table) > 64:
                    raise errors.invalid("TableMeta", f"Invalid new table name {new_table!r}.")
                pairs.append([t["name"], new_table])
            if len({p[1] for p in pairs}) != len(pairs):
                raise errors.invalid("TableMeta", f"Two tables of {newname!r} get the same new name.")
        why = eng.check_name(newname)
        if why:
            raise errors.invalid("TableMeta", f"{newname!r}: {why}.")
        targets.append({"Name": name, "NewName": newname, "Tables": pairs})
    whole = [t["NewName"] for t in targets if t["Tables"] is None]
    if len(set(whole)) != len(whole) or set(whole) & {t["NewName"] for t in targets if t["Tables"] is not None}:
        raise errors.invalid("TableMeta", "A new database name appears twice.")
    return targets


# RecoveryDBInstance's DbNames takes one documented form per target: into an existing instance (TargetDBInstanceId,
# the source one included) a JSON object {"source name":"new name",...}, required; into a new instance the names as
# "name1,name2" (API reference api-restore-databases, DbNames example; SDK RecoveryDBInstanceRequest.db_names).
# CopyDatabaseBetweenInstances takes the JSON object form (SDK CopyDatabaseBetweenInstancesRequest.db_names).
EXISTING_INSTANCE_FORM = '{"source database":"new database",...}'
NEW_INSTANCE_FORM = "name1,name2"


def parse_db_names(req: RpcRequest, into_existing: bool) -> dict[str, str]:
    """DbNames in the form its target takes: {source: new} into an existing instance; the listed names (each kept)
    into a new one. Another form is refused with 400 InvalidParameter naming the documented one."""
    raw = req.get("DbNames")
    if raw is None:
        raise errors.missing("DbNames")
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if into_existing:
        if not isinstance(value, dict) or not value or not all(
                isinstance(k, str) and k and isinstance(v, str) and v for k, v in value.items()):
            raise errors.invalid("DbNames", f"Restoring into an existing instance takes {EXISTING_INSTANCE_FORM}.")
        return value
    names = [n.strip() for n in str(raw).split(",")]
    if isinstance(value, dict) or not all(names):
        raise errors.invalid("DbNames", f"Restoring into a new instance takes {NEW_INSTANCE_FORM}; "
                                        f"{EXISTING_INSTANCE_FORM} needs TargetDBInstanceId.")
    return {n: n for n in names}


def restore_source(req: RpcRequest) -> str:
    """The BackupId a RecoveryDBInstance reads; point-in-time restores of SQL Server are refused (no log backups
    here, point_in_time.NOT_KEPT)."""
    backup_id = req.get("BackupId")
    if backup_id is None:
        if req.get("RestoreTime"):
            raise errors.invalid("RestoreTime", f"The instance has no log backup "
                                                f"({point_in_time.NOT_KEPT['SQLServer']}): pass BackupId.")
        raise errors.missing("BackupId")
    return backup_id


def restore_epoch(req: RpcRequest) -> float | None:
    """RestoreTime (yyyy-MM-ddTHH:mm:ssZ, UTC) as an epoch second; None when not given."""
    raw = req.get("RestoreTime")
    if raw is None:
        return None
    try:
        return datetime.strptime(raw, SECOND).replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise errors.invalid("RestoreTime", "Use yyyy-MM-ddTHH:mm:ssZ (UTC).") from None


class Restores(RestoreTasks):
    """The restore actions of `models.Rds`."""

    def RestoreTable(self, req: RpcRequest) -> dict:
        instance_id = req.require("DBInstanceId")
        req.require("TableMeta")
        inst = self._instance(instance_id)
        self.cloud.faults.check_reject(instance_id)
        restore_at = restore_epoch(req)
        backup_id = req.get("BackupId") if restore_at is None else None
        if restore_at is None and backup_id is None:
            raise errors.missing("BackupId")
        eng = self._engine(inst)
        if eng is None or isinstance(eng, MssqlEngine):
            raise errors.table_restore_unsupported(inst["Engine"])
        token = req.get("ClientToken")
        fingerprint = hashlib.sha256(json.dumps(
            [instance_id, backup_id, req.get("TableMeta"), req.get("RestoreTime")]).encode()).hexdigest()
        targets = parse_table_meta(req, eng)
        with self._lock:
            if token is not None:
                seen = self.cloud.store.get(TOKEN, f"RestoreTable:{instance_id}:{token}")
                if seen is not None:
                    if seen["Fingerprint"] != fingerprint:
                        raise errors.idempotent_mismatch()
                    return {}
            inst = self._instance(instance_id)
            if inst["Status"] != "Running":
                raise errors.incorrect_instance_state(inst["Status"])
            if self._restoring(instance_id):
                raise errors.refuse(errors.RESTORE_IN_PROGRESS)
            if restore_at is not None:       # the newest set before the second, its logs replayed up to it
                backup_id = point_in_time.set_for(self.cloud.store, inst, eng, restore_at)["BackupId"]
                if any(t["Tables"] is not None for t in targets):
                    raise errors.invalid("TableMeta", "The local cloud restores whole databases to a point in "
                                                      "time: drop the tables lists.")
            assert backup_id is not None
            backup = self.cloud.store.get(BACKUP, backup_id)
            if backup is None or backup["DBInstanceId"] != instance_id:
                raise errors.backup_not_found(backup_id)
            if backup["Status"] != "Success":
                raise errors.backup_unavailable(backup_id)
            if backup.get("MetaStatus", "OK") != "OK":
                raise errors.refuse(errors.NO_TABLE_META, backup_id)
            in_backup = {d["DBName"]: d for d in backup["Databases"]}
            try:
                on_server = set(eng.all_databases())
                mine = set(self._databases(inst, eng))
            except EngineError as err:
                raise errors.server_unreachable(err) from None
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
                    raise errors.database_not_in_backup(t["Name"], backup_id)
                t["Meta"] = {k: src.get(k) for k in ("CharacterSetName", "Collate", "Ctype") if src.get(k)}
                t["File"] = src["File"]
                if restore_at is not None and src.get("BinlogFile"):      # MySQL: where its log replay starts
                    t["Binlog"] = [src["BinlogFile"], src["BinlogPosition"]]
                if t["Tables"] is None:
                    if t["NewName"] in on_server or t["NewName"] in pending_dbs:
                        raise errors.database_exists(t["NewName"], " on the instance")
                    t["CreateDb"] = True
                    continue
                for old, _ in t["Tables"]:
                    if old not in src.get("Tables", []):
                        raise errors.table_not_in_backup(old, t["Name"], backup_id)
                if t["NewName"] in pending_dbs or (t["NewName"] in on_server and t["NewName"] not in mine):
                    raise errors.database_exists(t["NewName"])
                t["CreateDb"] = t["NewName"] not in on_server
                existing = set() if t["CreateDb"] else eng.table_names(t["NewName"])
                for _, new in t["Tables"]:
                    if new in existing or (t["NewName"], new) in pending_tables:
                        raise errors.table_exists(new, t["NewName"])
            task_id = self._new_numeric_id(RESTORE)
            task = {"TaskId": task_id, "DBInstanceId": instance_id, "BackupId": backup_id, "Status": "Running",
                    "RestoreEpoch": restore_at,
                    "Action": "RestoreTable", "Targets": targets, "CreatedDbs": [], "CreatedTables": [], "Reason": "",
                    "StartTime": self.cloud.iso(), "ClientToken": token}
            self.cloud.store.put(RESTORE, task_id, task)
            if token is not None:
                self.cloud.store.put(TOKEN, f"RestoreTable:{instance_id}:{token}",
                                     {"Fingerprint": fingerprint, "TaskId": task_id})
        self.cloud.submit(self._run_restore, task_id, time.monotonic())
        return {}

    def RecoveryDBInstance(self, req: RpcRequest) -> dict:
        """SQL Server: restore databases of a backup set into an existing instance (the source one included) under
        the new names DbNames maps them to. Restoring into a new instance is not emulated."""
        target_id = req.get("TargetDBInstanceId")
        mapping = parse_db_names(req, into_existing=bool(target_id))
        backup_id = restore_source(req)
        if not target_id:
            raise errors.invalid("TargetDBInstanceId", "Restoring into a new instance is not emulated: name an "
                                                       "existing SQL Server instance.")
        self._recover_into(req.get("DBInstanceId"), target_id, backup_id, mapping, "RecoveryDBInstance")
        return {"DBInstanceId": target_id, "OrderId": ""}

    def CopyDatabaseBetweenInstances(self, req: RpcRequest) -> dict:
        """SQL Server: copy databases of a backup set of one instance into ANOTHER instance (TargetDBInstanceId must
        differ from DBInstanceId) under the names DbNames maps them to."""
        source_id = req.require("DBInstanceId")
        target_id = req.require("TargetDBInstanceId")
        req.require("DbNames")
        if target_id == source_id:
            raise errors.refuse(errors.COPY_INTO_ITSELF, target_id)
        mapping = parse_db_names(req, into_existing=True)
        backup_id = restore_source(req)
        self._recover_into(source_id, target_id, backup_id, mapping, "CopyDatabaseBetweenInstances")
        return {}

    def _recover_into(self, source_id: str | None, target_id: str, backup_id: str, mapping: dict[str, str],
                      action: str) -> str:
        """Check and start a restore task that brings `mapping`'s databases of the set into `target_id`."""
        if len({v.lower() for v in mapping.values()}) != len(mapping):
            raise errors.invalid("DbNames", "A new database name appears twice.")
        with self._lock:
            backup = self.cloud.store.get(BACKUP, backup_id)
            source_id = source_id or (backup or {}).get("DBInstanceId")
            if backup is None or backup["DBInstanceId"] != source_id:
                raise errors.backup_not_found(backup_id)
            source, target = self._instance(source_id), self._instance(target_id)
            for inst in (source, target):
                if inst["Engine"] != "SQLServer":
                    raise errors.recovery_unsupported(inst["Engine"], inst["DBInstanceId"], action)
            self.cloud.faults.check_reject(target_id)
            if target["Status"] != "Running":
                raise errors.incorrect_instance_state(target["Status"])
            if backup["Status"] != "Success":
                raise errors.backup_unavailable(backup_id)
            eng = self._engine(target)
            in_backup = {d["DBName"]: d for d in backup["Databases"]}
            taken = {n.lower() for n in eng.all_databases()}
            for task in self._running_restores(target_id):
                taken |= {t["NewName"].lower() for t in task["Targets"]}
            targets = []
            for name, newname in mapping.items():
                if name not in in_backup:
                    raise errors.database_not_in_backup(name, backup_id)
                why = eng.check_name(newname)
                if why:
                    raise errors.invalid("DbNames", f"{newname!r}: {why}.")
                if newname.lower() in taken:
                    raise errors.database_exists(newname, f" on {target_id}")
                targets.append({"Name": name, "NewName": newname, "Tables": None, "CreateDb": True,
                                "File": in_backup[name]["File"], "Meta": {}})
            task_id = self._new_numeric_id(RESTORE)
            self.cloud.store.put(RESTORE, task_id, {
                "TaskId": task_id, "DBInstanceId": target_id, "BackupId": backup_id, "Status": "Running",
                "Action": action, "Targets": targets, "CreatedDbs": [], "CreatedTables": [], "Reason": "",
                "StartTime": self.cloud.iso(), "ClientToken": None})
        self.cloud.submit(self._run_restore, task_id, time.monotonic())
        return task_id
