"""What a backup would take now, and roughly what it would cost."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..decisions.plan import plan
from ..errors import ValidationError
from ..model.engines import ENGINES
from ..model.ids import check_service_instance_id
from ..ports import Ports
from .backup import database_encryption, database_facts, disk_facts
from .discovery import check_service_instance, discover
from .restore_moment import moment_reach

if TYPE_CHECKING:
    from ..model.hooks import HookSettings


def plan_backup(w: Ports, service_instance_id: str) -> dict:
    """The resources a backup would take now, their sizes, and an estimate of what it costs."""
    check_service_instance_id(service_instance_id)
    s = w.settings
    check_service_instance(w, service_instance_id)
    found = discover(w, service_instance_id)
    sizes, table_restore = {}, {}
    for db in found.databases:
        if not db.primary:
            continue
        storage = w.rds.attribute(db.db_instance_id).get("DBInstanceStorage")
        sizes[db.db_instance_id] = int(str(storage)) if str(storage or "").isdigit() else None
        if db.engine in ENGINES and ENGINES[db.engine].meta_status_gates_restore:
            table_restore[db.db_instance_id] = w.rds.table_restore_enabled(db.db_instance_id)
    try:
        prices = json.loads(s.prices or "{}")
    except ValueError:
        raise ValidationError("NESTBACKUP_PRICES is not valid JSON") from None
    from .backup_settings import hooks_of
    hooks = hooks_of(w, service_instance_id)
    # a hooked backup's restore brings each database whose log backups reach its moment to it (restore_moment.py)
    reach = moment_reach(w, found.databases) if hooks is not None and found.disks else None
    out = plan(service_instance_id, disk_facts(found.disks),
               database_facts(found.databases, database_encryption(w, found.databases)), sizes, prices,
               table_restore=table_restore, not_protected=found.unprotected, moment_reach=reach)
    out["DiscoveredBy"] = dict(found.sources)
    out["Consistency"], warning = _consistency(hooks, sorted({d.instance_id for d in found.disks if d.instance_id}))
    if warning:
        out.setdefault("Warnings", []).append(warning)
    return out


def _consistency(hooks: HookSettings | None, instances: list[str]) -> tuple[str, str | None]:
    """What moment a backup would capture, and what keeps it from one application-consistent moment."""
    if not instances:
        return "NoDisks", None
    if hooks is None:
        return "CrashConsistent", ("no quiesce hooks: each instance's disks are crash-consistent, not quiesced; set "
                                   "Hooks (PUT /service-instances/{id}/backup-settings, admin) for one "
                                   "application-consistent moment across the instances")
    missing = sorted(set(instances) - set(hooks.instances)) if hooks.instances else []
    if missing:
        return "ApplicationConsistent", (f"the hooks do not run on {', '.join(missing)}: its disks are at the "
                                         f"moment but not quiesced")
    return "ApplicationConsistent", None


