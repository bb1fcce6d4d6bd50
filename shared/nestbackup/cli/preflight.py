"""The account checks of `nestbackup doctor` (all of them with `--before-deploy`): what a first deployment and a
first backup need of the account and the settings, before anything is created. Each failure is one line with its
fix. The doctor builds the cloud clients and hands them in (it is the one CLI module that reads adapters)."""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Protocol

from ..model.regions import COMPUTENEST_REGIONS, computenest_region, unsupported


class Report(Protocol):
    """The doctor's report, as the checks write to it."""

    def ok(self, what: str) -> None: ...

    def fail(self, status: str, text: str) -> None: ...

# A Tablestore instance's endpoints: per bound VPC `<instance>.<region>.vpc.tablestore.aliyuncs.com` (the SDK's
# BindInstance2Vpc example Domain has `.vpc.ots.`), on the Internet `<instance>.<region>.ots.aliyuncs.com`.
_VPC_ENDPOINT = re.compile(r"https?://[^/\s]+\.vpc\.(?:tablestore|ots)\.aliyuncs\.com/?")
_PUBLIC_ENDPOINT = re.compile(r"https?://[^/\s]+\.ots\.aliyuncs\.com/?")
FIX_NETWORK = "see docs/deploy.md, step 2 (Tablestore and its network)"


def check_regions(report: Report, functions: list[dict], flows: list[dict], env: Mapping[str, str]) -> None:
    """Every region s.yaml deploys to is one its components accept; the Compute Nest region is one where Compute
    Nest is served (model/regions.py)."""
    regions = sorted({p.get("region") or "" for p in functions + flows})
    for region in regions:
        lines = unsupported(region)
        for line in lines:
            report.fail("REGION", line)
        if not lines:
            report.ok(f"region {region}: the fc3 and flow components deploy there")
    nest = env.get("NESTBACKUP_COMPUTENEST_REGION") or computenest_region(regions[0] if regions else "cn-hangzhou")
    if nest in COMPUTENEST_REGIONS:
        report.ok(f"Compute Nest region {nest} (NESTBACKUP_COMPUTENEST_REGION) serves the Compute Nest API")
    else:
        report.fail("REGION", f"Compute Nest is not served in {nest} - fix: set NESTBACKUP_COMPUTENEST_REGION to "
                              f"{' or '.join(sorted(COMPUTENEST_REGIONS))} (where the service instances are kept)")


def check_network(report: Report, functions: list[dict], bound_vpcs: Callable[[str], list[str]]) -> None:
    """The functions reach Tablestore where its network ACL lets them: on a VPC endpoint, from a VPC bound to the
    instance (a new instance refuses the Internet). `bound_vpcs(instance)`: ListVpcInfoByInstance's VpcIds."""
    env = next((p.get("environmentVariables") or {} for p in functions if p.get("environmentVariables")), {})
    endpoint, instance = env.get("NESTBACKUP_OTS_ENDPOINT", ""), env.get("NESTBACKUP_OTS_INSTANCE", "nestbackup")
    if _PUBLIC_ENDPOINT.fullmatch(endpoint) and not _VPC_ENDPOINT.fullmatch(endpoint):
        report.fail("NETWORK", f"NESTBACKUP_OTS_ENDPOINT {endpoint} is the public endpoint, which a Tablestore "
                               f"instance refuses by default (Internet access off) - fix: use its VPC endpoint "
                               f"https://{instance}.<region>.vpc.tablestore.aliyuncs.com; {FIX_NETWORK}")
        return
    if not _VPC_ENDPOINT.fullmatch(endpoint):
        report.ok(f"Tablestore endpoint {endpoint or '(none)'} is not an Alibaba Cloud one: network not checked")
        return
    outside = sorted(p["functionName"] for p in functions if not (p.get("vpcConfig") or {}).get("vpcId"))
    if outside:
        report.fail("NETWORK", f"functions {', '.join(outside)} have no vpcConfig, so the VPC endpoint of Tablestore "
                               f"is out of their reach - fix: give them vars.vpc in s.yaml")
    vpcs = sorted({str(p["vpcConfig"]["vpcId"]) for p in functions if (p.get("vpcConfig") or {}).get("vpcId")})
    bound = set(bound_vpcs(instance))
    for vpc in vpcs:
        if vpc in bound:
            report.ok(f"Tablestore instance {instance} is bound to the functions' VPC {vpc}")
        else:
            report.fail("NETWORK", f"VPC {vpc} of the functions is not bound to Tablestore instance {instance}, which "
                                   f"refuses it - fix: BindInstance2Vpc (InstanceName {instance}, VpcId {vpc}); "
                                   f"{FIX_NETWORK}")


def check_databases(report: Report, instance_ids: list[str], catalog: Any, rds: Any) -> None:
    """For each service instance named: every RDS MySQL instance it lists takes its backups with database/table
    restore enabled (without it RestoreTable cannot restore from a set taken before it was turned on)."""
    from ..errors import ValidationError
    from ..model.engines import MYSQL, engine_of

    for si in instance_ids:
        if catalog.service_instance(si) is None:
            report.fail("MISSING", f"service instance {si} is unknown to Compute Nest - fix: check the id and "
                                   f"NESTBACKUP_COMPUTENEST_REGION")
            continue
        ids = [r.resource_id for r in catalog.resources(si) if r.service == "rds" and r.kind == "dbinstance"]
        for db_id, inst in sorted(rds.describe_instances(ids).items()):
            try:
                mysql = engine_of(inst.engine) is MYSQL
            except ValidationError:
                mysql = False
            if not inst.primary or not mysql:
                continue
            if rds.table_restore_enabled(db_id):
                report.ok(f"RDS {db_id} of {si}: database/table restore is enabled")
            else:
                report.fail("RDS", f"RDS {db_id} of {si}: database/table restore is off, so its backups cannot be "
                                   f"restored database by database - fix: turn on 库表恢复 (Database/Table "
                                   f"Restoration) in its backup settings, then back up again")
