"""Each record carries what it cost (issue 14): the cloud calls its steps made, by action; the flow transitions,
function invocations and GB-seconds; the snapshot and backup bytes it created; and a money estimate at the plan's
prices, which the plan's own estimate is compared with."""

from nestbackup.decisions.plan import DEFAULT_PRICES
from tests.support import make_fnf
from tests.support.executions import ended_execution
from tests.support.product import run_cli


def test_a_backup_and_its_restore_carry_what_they_cost_and_the_plan_is_of_the_same_order(product, api, control, si,
                                                                                        pg_db):
    control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB", Postgres=pg_db[1])
    planned = api.call("GET", f"/service-instances/{si}/plan")[1]["Estimate"]
    before = control.stats()
    backup = api.wait(api.call("POST", "/backups", {"ServiceInstanceId": si})[1]["BackupId"])
    assert backup["Status"] == "Created"
    cost = backup["Cost"]
    served = _served_since(control, before, product, "nestbackup-backup", backup["BackupId"])
    # Each state the flow entered is on the record once, and each function invocation: the API's create (the test's
    # reads of the record are API invocations too, not the backup's) and the steps'.
    assert cost["FlowTransitions"] == served["flow:transitions"]
    assert cost["Invocations"] == 1 + served["fc:nestbackup-backup-steps"]
    # Every ECS, RDS and Compute Nest call is on the record.
    assert {k: n for k, n in served.items() if k.startswith(("ecs:", "rds:", "computenest:"))} == \
        {k: n for k, n in cost["Calls"].items() if k.startswith(("ecs:", "rds:", "computenest:"))}
    calls = cost["Calls"]
    assert calls.get("ecs:CreateSnapshotGroup", 0) + calls.get("ecs:CreateSnapshot", 0) >= 1
    assert calls.get("rds:CreateBackup", 0) == 1
    assert calls.get("ecs:DescribeSnapshotGroups", 0) + calls.get("ecs:DescribeSnapshots", 0) >= 1
    assert calls.get("ots:BatchWriteRow", 0) >= 1 and calls.get("computenest:ListServiceInstanceResources", 0) >= 1
    assert cost["Invocations"] >= 4                     # create, prepare, a start batch, a poll, finalize
    assert cost["FlowTransitions"] >= 3 + 1 + 3 + 2
    assert cost["GbSeconds"] > 0
    assert cost["BytesCreated"] >= 2 * 8 * 2**20        # two 8 MiB snapshots (full size) and a backup set
    assert set(cost["CostUSD"]) == set(planned["CostUSD"])       # the same items as the plan, to compare
    assert cost["TotalUSD"] > 0
    # The plan assumes 12 poll rounds of a longer backup: the record's actual flow and function costs are below it,
    # and of the same order (not a hundred times off).
    for key in ("FlowTransitions", "FunctionCompute"):
        assert 0 < cost["CostUSD"][key] <= planned["CostUSD"][key] * 2, (key, cost["CostUSD"], planned["CostUSD"])
    assert cost["CostUSD"]["FlowTransitions"] == round(cost["FlowTransitions"] * DEFAULT_PRICES["FlowUSDPerTransition"],
                                                       6)

    before = control.stats()
    restore = api.call("POST", "/restores", {"BackupId": backup["BackupId"], "SafetyBackup": False})[1]
    final = api.wait(restore["RestoreId"])
    assert final["Status"] == "Restored"
    served = _served_since(control, before, product, "nestbackup-restore", restore["RestoreId"])
    assert final["Cost"]["FlowTransitions"] == served["flow:transitions"]
    assert final["Cost"]["Invocations"] == 1 + served["fc:nestbackup-restore-steps"] + served["fc:nestbackup-db-rename"]
    assert final["Cost"]["Calls"].get("ecs:ResetDisk", 0) == 2
    assert final["Cost"]["Calls"].get("rds:RestoreTable", 0) == 1
    assert final["Cost"]["Invocations"] >= 3           # create, advance rounds, rename
    assert final["Cost"]["BytesCreated"] == 0
    shown = run_cli(product.endpoint, "restore", "show", restore["RestoreId"])
    assert shown.returncode == 0 and "  cost ~$" in shown.stdout and "instances stopped for" in shown.stdout


def _served_since(control, before: dict[str, int], product, flow: str, execution: str) -> dict[str, int]:
    """What the local cloud served since `before`, once the execution has ended: its last states (the restore's
    Route and Finished) come after the record is final."""
    fnf = make_fnf(product.endpoint)
    ended_execution(fnf, flow, execution)
    after = control.stats()
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}
