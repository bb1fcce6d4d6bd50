"""RDS instances: seeding one over a real server (or the SQL Server stand-in), DescribeDBInstances (filters, both
pagings) and DescribeDBInstanceAttribute."""
from __future__ import annotations

from typing import Any

from ..core.rpc import RpcRequest, offset_token_page
from . import errors, render, rules
from .engines import engine_for
from .engines.base import EngineError
from .engines.dsn import parse_dsn
from .policy import instance_settings
from .state import ENGINES, INSTANCE, RdsState

# DescribeDBInstances.DBInstanceType values (SDK DescribeDBInstancesRequest.dbinstance_type).
DB_INSTANCE_TYPES = frozenset({"Primary", "Readonly", "Guard", "Temp"})


class Instances(RdsState):
    """The instance actions of `models.Rds`, and seeding."""

    def create_instance(self, engine: str, dsn: str | None, tags: dict[str, str], policy: dict | None = None,
                        db_type: str = "Primary", master_instance_id: str | None = None) -> dict:
        """Register an RDS instance standing for databases of the real server at `dsn` (None for SQLServer).
        `policy`: its backup policy (see policy.instance_settings). `db_type` Readonly with `master_instance_id`: a
        read-only replica of that primary."""
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
            **instance_settings({}, policy or {}),
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

    def DescribeDBInstances(self, req: RpcRequest) -> dict:
        region = req.require("RegionId")
        tags = req.get_json("Tags", dict)
        if tags is not None:
            if len(tags) > 5:
                raise errors.invalid("Tags", "At most 5 tags.")
            if not all(isinstance(k, str) and k and (v is None or isinstance(v, str)) for k, v in tags.items()):
                raise errors.invalid("Tags", "Tag keys and values must be strings.")
        ids = rules.comma_set(req, "DBInstanceId")
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
            page, next_token = offset_token_page(req, found, size)
            body = {"NextToken": next_token, "TotalRecordCount": len(page), "PageRecordCount": len(page),
                    "PageNumber": 1}
        else:
            size, number = rules.page(req)
            page = found[(number - 1) * size: number * size]
            body = {"TotalRecordCount": len(found), "PageRecordCount": len(page), "PageNumber": number}
        return {"Items": {"DBInstance": [render.instance(i, self._status(i)) for i in page]}, **body}

    def DescribeDBInstanceAttribute(self, req: RpcRequest) -> dict:
        ids = [i.strip() for i in req.require("DBInstanceId").split(",") if i.strip()]
        items = []
        for instance_id in ids:
            inst = self._instance(instance_id)
            items.append(render.instance_attribute(inst, self._status(inst)))
        return {"Items": {"DBInstanceAttribute": items}}

