"""The checks of `nestbackup doctor` that only the functions can make, because the databases answer only inside the
functions' network: for each RDS instance of a service instance, whether the account nestbackup uses for it
(`w.database`, from the KMS secret) connects and holds the privileges the restore's swap of names needs
(decisions/privileges.py), on every database the instance has. Nothing is changed."""
from __future__ import annotations

from typing import Any

from ..decisions.privileges import describe
from ..errors import CloudError, ValidationError
from ..model.engines import ENGINES
from ..ports import Ports
from .discovery import check_service_instance, rds_instances

FIX_ACCOUNT = ("put an account for it in the KMS secret NESTBACKUP_DB_ACCOUNTS_SECRET names, keyed by the "
               "DBInstanceId or the engine (docs/deploy.md)")
FIX_CONNECT = ("check the account's user and password in the KMS secret, and that the instance's IP allow-list "
               "takes the functions' VPC (docs/deploy.md)")


def database_privileges(w: Ports, service_instance_id: str) -> dict[str, Any]:
    """One check per primary RDS instance (one per gap when it has some): Ok, or what is wrong (Problem) and what
    fixes it (Fix).
    NotFound / Conflict as a backup refuses the service instance."""
    check_service_instance(w, service_instance_id)
    checks = []
    for db in rds_instances(w, service_instance_id):
        if not db.primary or db.engine not in ENGINES:      # replicas are not restored; others not backed up
            continue
        base = {"DBInstanceId": db.db_instance_id, "Engine": db.engine}
        names = sorted(d.name for d in w.rds.databases(db.db_instance_id))
        try:
            gaps = w.database(db.db_instance_id, db.engine).missing_privileges(names)
        except ValidationError as err:
            checks.append({**base, "Ok": False, "Problem": str(err), "Fix": FIX_ACCOUNT})
            continue
        except CloudError as err:
            checks.append({**base, "Ok": False, "Problem": f"the account cannot connect: {err}", "Fix": FIX_CONNECT})
            continue
        checks += [{**base, "Ok": False, "Database": gap.database, "Missing": list(gap.missing),
                    "Problem": f"the account {describe(gap)}", "Fix": gap.fix} for gap in gaps]
        if not gaps:
            checks.append({**base, "Ok": True, "Databases": names})
    return {"ServiceInstanceId": service_instance_id, "Checks": checks}
