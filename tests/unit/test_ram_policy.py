"""Each function group's role grants exactly the actions its functions can reach: no more, no fewer."""
import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("ram", ROOT / "scripts" / "ram.py")
ram = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ram)


def stored(name: str) -> dict:
    return json.loads((ROOT / "deploy" / "ram" / name).read_text())


def granted(policy: dict) -> set[str]:
    return {a for statement in policy["Statement"] for a in statement["Action"]}


def test_every_stored_policy_is_what_the_code_derives():
    derived = ram.policies()
    on_disk = {p.name for p in (ROOT / "deploy" / "ram").glob("*-policy.json")}
    assert on_disk == set(derived), "run: python scripts/ram.py --write"
    for name, policy in derived.items():
        assert stored(name) == policy, f"{name}: run python scripts/ram.py --write"


def test_only_the_restore_group_may_stop_instances_reset_disks_or_restore_databases():
    groups = ram.group_actions()
    dangerous = {"ecs:StopInstances", "ecs:ResetDisk", "rds:RestoreTable", "rds:RecoveryDBInstance"}
    assert dangerous <= groups["restore"]
    for group, actions in groups.items():
        if group != "restore":
            assert not actions & dangerous, group
    # rename also answers the doctor's database check, which finds a service instance's RDS instances (reads only;
    # the ECS two because the derivation resolves w.rds.describe_instances / instances_tagged by method name)
    assert not groups["rename"] - {"rds:DescribeDBInstanceAttribute", "rds:DescribeDatabases", "ots:GetRange",
                                   "ots:GetRow", "ots:UpdateRow", "ots:PutRow", "ots:BatchWriteRow",
                                   "kms:GetSecretValue", "computenest:GetServiceInstance",
                                   "computenest:ListServiceInstanceResources", "rds:DescribeDBInstances",
                                   "ecs:DescribeInstances", "ecs:ListTagResources"}
    assert "ecs:CreateSnapshot" not in groups["api"] and "rds:CreateBackup" not in groups["api"]


def test_no_function_may_create_tables_and_every_statement_is_as_narrow_as_documented():
    # Compute Nest's and EventBridge's resource forms are UNCONFIRMED: "*" (docs/cloud-fidelity.md, RAM)
    documented_unscoped = {"fnf", "computenest", "eventbridge", "fc"} | {a.split(":")[0] for a in ram.UNSCOPED_ACTIONS}
    for name in ram.policies():
        policy = stored(name)
        assert "ots:CreateTable" not in granted(policy)
        for statement in policy["Statement"]:
            products = {a.split(":")[0] for a in statement["Action"]}
            if statement["Resource"] == ["*"]:
                assert products <= documented_unscoped, statement
                continue
            assert all(r.startswith("acs:") and "${accountId}" in r for r in statement["Resource"])


def test_the_derivation_follows_paging_helpers_wiring_wrappers_and_tablestore():
    groups = ram.group_actions()
    actions = set().union(*groups.values())
    assert {"ecs:DescribeDisks", "ecs:CreateSnapshot", "rds:RestoreTable", "fnf:StartExecution",
            "ots:GetRange", "ots:PutRow", "rds:DescribeDBInstanceAttribute", "computenest:GetServiceInstance",
            "computenest:ListServiceInstanceResources"} <= actions
    assert all(a.split(":")[0] in ("ecs", "rds", "fnf", "ots", "computenest", "eventbridge",
                                          "kms") for a in actions)
    # every function that can close a record publishes its event; db-rename never closes one
    assert {g for g, granted_actions in groups.items() if "eventbridge:PutEvents" in granted_actions} == \
        {"api", "backup", "restore", "timer", "events"}
    # db-rename writes items through the timeline wrapper, whose events are a batch write
    assert {"ots:UpdateRow", "ots:BatchWriteRow"} <= groups["rename"]


def test_each_group_may_read_only_the_secrets_its_functions_read():
    """kms:GetSecretValue is granted on each secret's own ARN, to the groups whose code reads that secret: the API
    the admin token (never the database accounts), the groups that connect to databases the accounts."""
    def readable(name: str) -> set[str]:
        return {r for st in stored(name)["Statement"] if "kms:GetSecretValue" in st["Action"] for r in st["Resource"]}

    admin = "acs:kms:${region}:${accountId}:secret/${adminTokenSecret}"
    accounts = "acs:kms:${region}:${accountId}:secret/${dbAccountsSecret}"
    assert readable("api-policy.json") == {admin}
    for group in ("backup", "restore", "rename"):
        assert readable(f"{group}-policy.json") == {accounts}, group
    assert readable("events-policy.json") == set()


def test_an_adapter_call_whose_action_cannot_be_resolved_stops_the_derivation(tmp_path, monkeypatch):
    package = tmp_path / "nestbackup"
    (package / "adapters").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "adapters" / "__init__.py").write_text("")
    (package / "adapters" / "ecs.py").write_text(
        "class Ecs:\n    def sneaky(self, name):\n        return self.rpc.call(name.upper(), {})\n")
    monkeypatch.setattr(ram, "PACKAGE", package)
    with pytest.raises(SystemExit, match="not a literal"):
        ram.Index()


def test_every_function_in_s_yaml_assumes_its_groups_role():
    text = re.sub(r"\$\{[^}]*\}", "X", (ROOT / "s.yaml").read_text())
    doc = yaml.safe_load(text)
    raw = (ROOT / "s.yaml").read_text()
    for resource in doc["resources"].values():
        props = resource["props"]
        if resource["component"] != "fc3":
            continue
        group = ram.GROUP_OF[props["functionName"]]
        block = raw[raw.index(f"functionName: {props['functionName']}"):]
        assert re.search(r"role: \$\{vars\.(\w+)Role\}", block)[1] == group, props["functionName"]


def test_the_flow_role_only_invokes_our_functions():
    assert stored("flow-policy.json") == ram.flow_policy()


def test_each_function_is_given_the_name_of_every_secret_its_role_may_read():
    """A role granted a secret is no use if its function is not told the secret's name (s.yaml), and the reverse."""
    from localcloud.fc.syaml import functions
    specs = {spec.name: spec for spec in functions(ROOT / "s.yaml")}
    variable = {"${dbAccountsSecret}": "NESTBACKUP_DB_ACCOUNTS_SECRET",
                "${adminTokenSecret}": "NESTBACKUP_ADMIN_TOKEN_SECRET"}
    derived = ram.derive()
    for function, group in ram.GROUP_OF.items():
        _, secrets = derived[group]
        named = {v for v in variable.values() if v in specs[function].environment}
        assert named == {variable[s] for s in secrets}, function
