"""What a backup would take now, and roughly what it would cost."""
from __future__ import annotations

import json

from ..errors import ValidationError
from ..steps.backup import DatabaseFacts, DiskFacts
from ..steps.plan import plan
from .backup import SERVICE_INSTANCE_ID

def plan_backup(w, service_instance_id: str) -> dict:
    """The resources a backup would take now, their sizes, and an estimate of what it costs."""
    if not isinstance(service_instance_id, str) or not SERVICE_INSTANCE_ID.match(service_instance_id):
        raise ValidationError("ServiceInstanceId must be 1-128 letters, digits or _.:-")
    s = w.settings
    disks = w.ecs.disks_tagged(s.tag_key, service_instance_id)
    dbs = w.rds.instances_tagged(s.tag_key, service_instance_id)
    sizes, table_restore = {}, {}
    for db in dbs:
        storage = w.rds.attribute(db.db_instance_id).get("DBInstanceStorage")
        sizes[db.db_instance_id] = int(storage) if str(storage or "").isdigit() else None
        if db.engine == "MySQL":
            table_restore[db.db_instance_id] = w.rds.table_restore_enabled(db.db_instance_id)
    try:
        prices = json.loads(s.prices or "{}")
    except ValueError:
        raise ValidationError("NESTBACKUP_PRICES is not valid JSON") from None
    return plan(service_instance_id,
                [DiskFacts(d.disk_id, d.instance_id, d.category, d.size_gib, d.multi_attach) for d in disks],
                [DatabaseFacts(d.db_instance_id, d.engine) for d in dbs], sizes, prices,
                table_restore=table_restore)


