"""The settings of a deployment, read from the environment (and the Function Compute context's credentials). This is
the one module that touches `os.environ` (tests/unit/test_environment.py keeps it so): whatever else needs a value
from the environment asks here.

Every endpoint can be set on its own; `NESTBACKUP_CLOUD_ENDPOINT` sets all of them at once (the local cloud serves
every product on one port). Credentials come from the Function Compute context when there is one, else from the
standard ALIBABA_CLOUD_* variables.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from .errors import ValidationError
from .model.regions import computenest_region

DEFAULT_TAG_KEY = "acs:computenest:serviceInstanceId"
# Regions whose RDS API is served by the central endpoint (reference: alibaba-apis.md §1.1).
_RDS_CENTRAL = {"cn-qingdao", "cn-beijing", "cn-hangzhou", "cn-shanghai", "cn-shenzhen", "cn-heyuan", "cn-hongkong",
                "ap-southeast-1", "us-west-1", "us-east-1"}


def default_endpoint(product: str, region: str) -> str:
    if product == "ecs":
        return "ecs-cn-hangzhou.aliyuncs.com" if region == "cn-hangzhou" else f"ecs.{region}.aliyuncs.com"
    if product == "rds":
        return "rds.aliyuncs.com" if region in _RDS_CENTRAL else f"rds.{region}.aliyuncs.com"
    if product == "fnf":
        return f"{region}.fnf.aliyuncs.com"
    if product == "kms":            # the regional endpoint (SDK alibabacloud_kms20160120: endpoint rule "regional")
        return f"kms.{region}.aliyuncs.com"
    if product == "computenest":     # served in cn-hangzhou and ap-southeast-1 only (model/regions.py)
        return f"computenest.{region}.aliyuncs.com"
    if product == "eventbridge":     # the SDK alibabacloud_eventbridge20200401's _endpoint_map, for every region
        return f"eventbridge-console.{region}.aliyuncs.com"
    raise ValueError(product)


def local_db_accounts() -> str | None:
    """Local development only: NESTBACKUP_DB_ACCOUNTS, the accounts of this machine's database servers that
    `nestbackup local serve` and the demo put into the local cloud's KMS secret (the functions never read it: they
    read the secret). None when unset."""
    return os.environ.get("NESTBACKUP_DB_ACCOUNTS") or None


def environment() -> Mapping[str, str]:
    """The whole environment, for what reads a deployment file the way its tool does (s.yaml's ${env(NAME)})."""
    return os.environ


# The SDKs send even 127.0.0.1 traffic through HTTP(S)_PROXY (they ignore NO_PROXY).
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


def is_loopback(host: str) -> bool:
    return host.startswith(("127.", "localhost", "[::1]"))


def no_proxy_to(endpoint: str) -> None:
    """Before a client of a loopback endpoint (the local cloud) is built: clear this process's proxy variables, the
    only way to keep the SDKs from sending its traffic through a proxy. Other endpoints leave them as they are."""
    if is_loopback(endpoint.split("://", 1)[-1]):
        for var in _PROXY_VARIABLES:
            os.environ.pop(var, None)


@dataclass(frozen=True)
class Settings:
    """Every setting, read once from the environment (see the module)."""
    region: str
    access_key_id: str
    access_key_secret: str
    security_token: str | None
    ecs_endpoint: str
    rds_endpoint: str
    fnf_endpoint: str
    ots_endpoint: str
    ots_instance: str
    ots_table: str = "nestbackup"
    computenest_endpoint: str = ""
    # The region whose Compute Nest API serves the service instances (not the functions' region: Compute Nest is
    # served from cn-hangzhou and ap-southeast-1 only). NESTBACKUP_COMPUTENEST_REGION; default from `region`.
    computenest_region: str = "cn-hangzhou"
    tag_key: str = DEFAULT_TAG_KEY
    backup_flow: str = "nestbackup-backup"
    lock_lease_seconds: int = 1800
    disk_deadline_seconds: int = 24 * 3600
    rds_deadline_seconds: int = 24 * 3600
    # A poll round is ~9 CloudFlow events; 400 rounds stay well under the 5,000 events of one execution.
    poll_rounds_per_execution: int = 400
    restore_flow: str = "nestbackup-restore"
    drill_flow: str = "nestbackup-drill"
    stop_deadline_seconds: int = 600
    restore_deadline_seconds: int = 24 * 3600
    # How long a cancel waits for running RDS backup jobs, all of them together: it runs in the API function, which
    # s.yaml stops after 60 s. The sets of jobs still running then are deleted by the timer once the jobs end.
    cancel_rds_wait_seconds: int = 20
    kms_endpoint: str = ""
    # The KMS key (of the destination region) a copy of an encrypted snapshot in another region is encrypted with
    # (CopySnapshot KMSKeyId). NESTBACKUP_COPY_KMS_KEY_ID; without it such a copy fails CopyKeyMissing.
    copy_kms_key_id: str = ""
    # The KMS secrets (names, never values; docs/deploy.md "Secrets"). The database accounts' secret holds JSON
    # {"<DBInstanceId>" or "<Engine>": {"User": ..., "Password": ...}}; the admin token's, the bearer token itself.
    db_accounts_secret: str = ""
    admin_token_secret: str = ""
    # How long a function instance keeps a secret's value before reading it again (a rotation reaches every
    # instance within this; a refused login or token reads it at once).
    secret_ttl_seconds: int = 300
    prices: str = "{}"          # JSON overrides of steps.plan.DEFAULT_PRICES
    webhook_deadline_seconds: int = 5          # one total deadline for all deliveries of one record
    webhook_allow_private: bool = False        # admin option: webhooks may target private/loopback addresses
    # An EventBridge bus that also gets each final record's CloudEvent (docs/events.md); "" puts nothing on a bus.
    event_bus: str = ""
    eventbridge_endpoint: str = ""
    # Schedules may not fire more often: RDS takes at most 20 backup sets per instance a day (CreateBackup docs).
    schedule_min_interval_seconds: int = 120 * 60
    # Resources whose backups one timer tick (a minute) may start; the rest of what is due waits for the next tick.
    # ECS and RDS throttle each API per account and minute (the limits are not published: 500 a minute assumed,
    # UNCONFIRMED, docs/cloud-fidelity.md); 200 leaves room for the API's own backups, restores and retries.
    schedule_starts_per_tick: int = 200
    # Describe calls per API and minute that every running backup's poll rounds share (operations/poll_budget.py);
    # 0: no budget. Under the 500 a minute assumed for ECS and RDS (UNCONFIRMED), leaving room for the starts'
    # retries, cancels, restores and the sweeper, which describe too.
    poll_calls_per_minute: int = 400
    # Days an RDS MySQL backup set is kept (CreateBackup BackupRetentionPeriod: 7-730, -1 = for good); None
    # leaves it to the instance's backup policy. Other engines always follow their policy.
    rds_backup_retention_days: int | None = None
    # When a backup is polled again: "adaptive" (from each resource's progress: the record ends within max(5 s, 5 %
    # of the elapsed time) after its last resource) or "doubling" (2 s doubling to 300 s, the earlier schedule).
    poll_schedule: str = "adaptive"
    # The functions' memory (s.yaml memorySize), for the GB-seconds a record's steps cost. FC sets
    # FC_FUNCTION_MEMORY_SIZE in the runtime (UNCONFIRMED for FC 3.0; the s.yaml value is the fallback).
    function_memory_mb: int = 512
    # Days the audit trail keeps an entry; the timer's sweep job deletes older days (operations/audit.py).
    audit_retention_days: int = 365
    # Hours a restore can be undone after it ends (operations/undo.py): the snapshots it takes of the disks it resets,
    # at the stop, are kept that long, then the sweeper deletes them. 0: no snapshots at the stop and no undo.
    undo_hours: int = 72

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, context: object = None) -> Settings:
        env = os.environ if env is None else env
        region = env.get("NESTBACKUP_REGION") or env.get("ALIBABA_CLOUD_REGION") or "cn-hangzhou"
        shared = env.get("NESTBACKUP_CLOUD_ENDPOINT")
        creds = getattr(context, "credentials", None)
        ak = getattr(creds, "access_key_id", None) or env.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
        sk = getattr(creds, "access_key_secret", None) or env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
        token = getattr(creds, "security_token", None) or env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None
        if not ak or not sk:
            raise ValidationError("no cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and "
                                  "ALIBABA_CLOUD_ACCESS_KEY_SECRET (Function Compute provides them)")
        ots_endpoint = env.get("NESTBACKUP_OTS_ENDPOINT") or shared
        if not ots_endpoint:
            raise ValidationError("NESTBACKUP_OTS_ENDPOINT is not set (e.g. https://<instance>.<region>.vpc.tablestore.aliyuncs.com)")

        nest_region = env.get("NESTBACKUP_COMPUTENEST_REGION") or computenest_region(region)

        def endpoint(product: str) -> str:
            return env.get(f"NESTBACKUP_{product.upper()}_ENDPOINT") or shared or default_endpoint(product, region)

        def number(name: str, default: int) -> int:
            raw = env.get(name)
            if raw is None:
                return default
            try:
                return int(raw)
            except ValueError:
                raise ValidationError(f"{name} must be a whole number, got {raw!r}") from None

        return cls(region=region, access_key_id=ak, access_key_secret=sk, security_token=token,
                   ecs_endpoint=endpoint("ecs"), rds_endpoint=endpoint("rds"), fnf_endpoint=endpoint("fnf"),
                   computenest_endpoint=env.get("NESTBACKUP_COMPUTENEST_ENDPOINT") or shared or default_endpoint(
                       "computenest", nest_region),
                   computenest_region=nest_region,
                   ots_endpoint=ots_endpoint, ots_instance=env.get("NESTBACKUP_OTS_INSTANCE", "nestbackup"),
                   ots_table=env.get("NESTBACKUP_OTS_TABLE", "nestbackup"),
                   tag_key=env.get("NESTBACKUP_TAG_KEY", DEFAULT_TAG_KEY),
                   backup_flow=env.get("NESTBACKUP_BACKUP_FLOW", "nestbackup-backup"),
                   lock_lease_seconds=number("NESTBACKUP_LOCK_LEASE_SECONDS", 1800),
                   disk_deadline_seconds=number("NESTBACKUP_DISK_DEADLINE_SECONDS", 24 * 3600),
                   rds_deadline_seconds=number("NESTBACKUP_RDS_DEADLINE_SECONDS", 24 * 3600),
                   poll_rounds_per_execution=max(1, number("NESTBACKUP_POLL_ROUNDS_PER_EXECUTION", 400)),
                   restore_flow=env.get("NESTBACKUP_RESTORE_FLOW", "nestbackup-restore"),
                   drill_flow=env.get("NESTBACKUP_DRILL_FLOW", "nestbackup-drill"),
                   stop_deadline_seconds=number("NESTBACKUP_STOP_DEADLINE_SECONDS", 600),
                   restore_deadline_seconds=number("NESTBACKUP_RESTORE_DEADLINE_SECONDS", 24 * 3600),
                   cancel_rds_wait_seconds=max(0, number("NESTBACKUP_CANCEL_RDS_WAIT_SECONDS", 20)),
                   kms_endpoint=endpoint("kms"),
                   copy_kms_key_id=env.get("NESTBACKUP_COPY_KMS_KEY_ID", "").strip(),
                   db_accounts_secret=env.get("NESTBACKUP_DB_ACCOUNTS_SECRET", ""),
                   admin_token_secret=env.get("NESTBACKUP_ADMIN_TOKEN_SECRET", ""),
                   secret_ttl_seconds=max(0, number("NESTBACKUP_SECRET_TTL_SECONDS", 300)),
                   prices=env.get("NESTBACKUP_PRICES", "{}"),
                   webhook_deadline_seconds=max(1, number("NESTBACKUP_WEBHOOK_DEADLINE_SECONDS", 5)),
                   webhook_allow_private=env.get("NESTBACKUP_WEBHOOK_ALLOW_PRIVATE", "").lower() in ("1", "true"),
                   event_bus=env.get("NESTBACKUP_EVENT_BUS", "").strip(), eventbridge_endpoint=endpoint("eventbridge"),
                   schedule_min_interval_seconds=60 * max(1, number("NESTBACKUP_SCHEDULE_MIN_INTERVAL_MINUTES",
                                                                    120)),
                   schedule_starts_per_tick=max(1, number("NESTBACKUP_SCHEDULE_STARTS_PER_TICK", 200)),
                   poll_calls_per_minute=max(0, number("NESTBACKUP_POLL_CALLS_PER_MINUTE", 400)),
                   rds_backup_retention_days=_retention_days(env.get("NESTBACKUP_RDS_BACKUP_RETENTION_DAYS")),
                   poll_schedule=_poll_schedule(env.get("NESTBACKUP_POLL_SCHEDULE")),
                   function_memory_mb=max(64, number("FC_FUNCTION_MEMORY_SIZE", 512)),
                   audit_retention_days=max(1, number("NESTBACKUP_AUDIT_RETENTION_DAYS", 365)),
                   undo_hours=max(0, number("NESTBACKUP_UNDO_HOURS", 72)))


def _poll_schedule(raw: str | None) -> str:
    value = (raw or "adaptive").strip().lower()
    if value not in ("adaptive", "doubling"):
        raise ValidationError(f"NESTBACKUP_POLL_SCHEDULE must be adaptive or doubling, got {raw!r}")
    return value


def _retention_days(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    try:
        days = int(raw)
    except ValueError:
        days = 0
    if days != -1 and not 7 <= days <= 730:
        raise ValidationError(f"NESTBACKUP_RDS_BACKUP_RETENTION_DAYS must be 7 to 730 days or -1, got {raw!r}")
    return days
