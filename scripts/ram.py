#!/usr/bin/env python3
"""The least-privilege RAM policies, derived from the code: every cloud action an adapter calls.

`python scripts/ram.py` prints the function role's policy; `--write` stores both policies under deploy/ram/.
tests/unit/test_ram_policy.py fails when the stored policy and the code disagree.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADAPTERS = ROOT / "shared" / "nestbackup" / "adapters"
PRODUCT_OF = {"ecs.py": "ecs", "rds.py": "rds", "cloudflow.py": "fnf", "computenest.py": "computenest"}
# a literal action in a call, or a module constant naming the action a call sends (e.g. SQLSERVER_RESTORE_ACTION)
RPC_CALL = re.compile(r'(?:rpc\.call|_pages)\(\s*"([A-Za-z]+)"|^[A-Z_]+_ACTION = "([A-Za-z]+)"', re.M)
# tablestore client method -> RAM action
OTS = {"batch_write_row": "BatchWriteRow", "create_table": "CreateTable", "delete_row": "DeleteRow",
       "get_range": "GetRange", "get_row": "GetRow", "list_table": "ListTable", "put_row": "PutRow",
       "update_row": "UpdateRow"}
OTS_CALL = re.compile(r"self\.client\.([a-z_]+)")


def actions_in_code() -> set[str]:
    found = set()
    for name, product in PRODUCT_OF.items():
        found |= {f"{product}:{a or b}" for a, b in RPC_CALL.findall((ADAPTERS / name).read_text())}
    calls = set(OTS_CALL.findall((ADAPTERS / "tablestore.py").read_text()))
    unknown = calls - set(OTS)
    if unknown:
        raise SystemExit(f"tablestore client calls without a RAM action mapping: {sorted(unknown)}")
    found |= {f"ots:{OTS[c]}" for c in calls}
    return found


def function_policy() -> dict:
    return {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": sorted(actions_in_code()), "Resource": "*"}]}


def flow_policy() -> dict:
    """The flows' role only invokes nestbackup's functions."""
    return {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": ["fc:InvokeFunction"],
         "Resource": ["acs:fc:*:*:functions/nestbackup-*"]}]}


if __name__ == "__main__":
    if "--write" in sys.argv:
        out = ROOT / "deploy" / "ram"
        out.mkdir(parents=True, exist_ok=True)
        (out / "function-policy.json").write_text(json.dumps(function_policy(), indent=2) + "\n")
        (out / "flow-policy.json").write_text(json.dumps(flow_policy(), indent=2) + "\n")
        print(f"wrote {out}/function-policy.json and flow-policy.json")
    else:
        print(json.dumps(function_policy(), indent=2))
