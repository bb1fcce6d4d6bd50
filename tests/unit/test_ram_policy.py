"""The RAM policy grants exactly the actions the code calls: no more, no fewer."""
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("ram", ROOT / "scripts" / "ram.py")
ram = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ram)


def test_the_function_policy_lists_exactly_the_actions_the_adapters_call():
    stored = json.loads((ROOT / "deploy/ram/function-policy.json").read_text())
    granted = {a for statement in stored["Statement"] for a in statement["Action"]}
    assert granted == ram.actions_in_code(), "run: python scripts/ram.py --write"


def test_the_derivation_sees_calls_made_through_paging_and_tablestore():
    actions = ram.actions_in_code()
    assert {"ecs:DescribeDisks", "ecs:CreateSnapshot", "rds:RestoreTable", "fnf:StartExecution",
            "ots:GetRange", "ots:PutRow", "computenest:GetServiceInstance",
            "computenest:ListServiceInstanceResources"} <= actions
    assert all(a.split(":")[0] in ("ecs", "rds", "fnf", "ots", "computenest") for a in actions)


def test_the_flow_role_only_invokes_our_functions():
    stored = json.loads((ROOT / "deploy/ram/flow-policy.json").read_text())
    assert stored == ram.flow_policy()
