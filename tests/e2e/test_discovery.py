"""Which resources a backup takes: Compute Nest's list of the service instance's resources, tags as the fallback,
replicas skipped; an instance Compute Nest does not know (or is deleting) is refused before any record exists."""
import pytest

from tests.support.product import run_cli


def listed_ids(record) -> set[str]:
    return {r["ResourceId"] for r in record["Resources"]}


def test_an_unknown_service_instance_is_refused_with_no_record_lock_or_token_left(api, control, si):
    status, body = api.call("POST", "/backups", {"ServiceInstanceId": si, "ClientToken": "tok-" + si})
    assert status == 404 and body["Code"] == "NotFound" and si in body["Message"], body
    status, listed = api.call("GET", f"/backups?serviceInstanceId={si}")
    assert status == 404 and "no backup or restore names it" in listed["Message"]          # no record was left
    status, plan = api.call("GET", f"/service-instances/{si}/plan")
    assert status == 404 and si in plan["Message"]
    # Once Compute Nest knows it, the same ClientToken starts a real backup (token and lock were given back).
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB")
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si, "ClientToken": "tok-" + si})
    assert status == 202 and listed_ids(record) == {seeded["Disks"][0]["DiskId"]}, record
    assert api.wait(record["BackupId"])["Status"] == "Created"


@pytest.mark.parametrize("cn_status", ["Deleting", "Deleted", "DeployedFailed", "Deploying"])
def test_a_service_instance_not_deployed_or_going_away_is_refused_with_409(api, control, si, cn_status):
    control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", ComputeNest={"Status": cn_status})
    status, body = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 409 and body["Code"] == "Conflict" and cn_status in body["Message"], body
    assert api.call("GET", f"/backups?serviceInstanceId={si}")[1]["Backups"] == []


def test_resources_without_the_tag_are_found_through_compute_nest(api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB", Postgres=pg_db[1], Tagged=False)
    status, plan = api.call("GET", f"/service-instances/{si}/plan")
    assert status == 200 and plan["DiscoveredBy"] == {"ecs": "computenest", "rds": "computenest"}
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202
    assert listed_ids(record) == {d["DiskId"] for d in seeded["Disks"]} | {seeded["DBInstances"][0]["DBInstanceId"]}
    assert api.wait(record["BackupId"])["Status"] == "Created"


def test_disks_compute_nest_lists_itself_are_taken_once(api, control, si):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB", Tagged=False,
                          ComputeNest={"ListsDisks": True})
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202 and sorted(r["ResourceId"] for r in record["Resources"]) == sorted(
        d["DiskId"] for d in seeded["Disks"])
    api.wait(record["BackupId"])


def test_tags_are_the_fallback_when_compute_nest_lists_nothing(api, control, si):
    seeded = control.seed(ServiceInstanceId=si, Disks=2, DiskSize="8MiB", ComputeNest={"ListResources": False})
    status, plan = api.call("GET", f"/service-instances/{si}/plan")
    assert status == 200 and plan["DiscoveredBy"] == {"ecs": "tag", "rds": "tag"}
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202 and listed_ids(record) == {d["DiskId"] for d in seeded["Disks"]}
    assert api.wait(record["BackupId"])["Status"] == "Created"


def test_a_read_only_replica_is_skipped_with_its_reason_and_the_restore_leaves_it_alone(api, control, si, pg_db):
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB", Postgres=pg_db[1], ReadOnlyReplicas=1)
    primary, replica = seeded["DBInstances"]
    assert replica["DBInstanceType"] == "Readonly"
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202
    final = api.wait(record["BackupId"])
    items = {r["ResourceId"]: r for r in final["Resources"]}
    assert final["Status"] == "Created", final
    assert items[primary["DBInstanceId"]]["Status"] == "Succeeded"
    skipped = items[replica["DBInstanceId"]]
    assert skipped["Status"] == "Skipped" and skipped["ArtifactId"] is None
    assert "Readonly" in skipped["ErrorMessage"] and primary["DBInstanceId"] in skipped["ErrorMessage"]
    status, plan = api.call("GET", f"/service-instances/{si}/plan")
    assert {r["ResourceId"]: r.get("Skipped") for r in plan["Resources"]}[replica["DBInstanceId"]]
    status, restore = api.call("POST", "/restores", {"BackupId": final["BackupId"], "SafetyBackup": False})
    assert status == 202, restore
    done = api.wait(restore["RestoreId"], timeout=240)
    assert done["Status"] == "Restored", done
    assert replica["DBInstanceId"] not in {r["ResourceId"] for r in done["Resources"]}


def test_resources_nestbackup_does_not_back_up_are_listed_not_protected_and_plan_warns(api, control, si, product):
    """An OSS bucket and a Redis instance deployed with the service instance: the backup still ends Created, and the
    record (validated against the OpenAPI document), the plan and the CLI's show, describe and plan name both as not
    protected."""
    seeded = control.seed(ServiceInstanceId=si, Disks=1, DiskSize="8MiB",
                          OtherResources=["oss:bucket/app-assets", "kvstore:instance/r-cache01"])
    assert any(":bucket/app-assets" in arn for arn in seeded["ComputeNest"]["Resources"])
    status, plan = api.call("GET", f"/service-instances/{si}/plan")
    assert status == 200 and [n["ResourceType"] for n in plan["NotProtected"]] == ["oss:bucket", "kvstore:instance"]
    assert any("2 resources not protected" in warning for warning in plan["Warnings"]), plan["Warnings"]
    status, record = api.call("POST", "/backups", {"ServiceInstanceId": si})
    assert status == 202 and listed_ids(record) == {seeded["Disks"][0]["DiskId"]}, record
    final = api.wait(record["BackupId"])
    assert final["Status"] == "Created"
    assert final["NotProtected"] == [
        {"ResourceId": "app-assets", "ResourceType": "oss:bucket", "Reason": "nestbackup does not back up oss resources"},
        {"ResourceId": "r-cache01", "ResourceType": "kvstore:instance",
         "Reason": "nestbackup does not back up kvstore resources"}]
    assert final["StatusDetail"] == "2 resources not protected (oss:bucket app-assets, kvstore:instance r-cache01)"
    for command in (["backup", "show", final["BackupId"]], ["backup", "describe", final["BackupId"]]):
        done = run_cli(product.endpoint, *command)
        assert done.returncode == 0, done.stderr
        assert "not protected: oss:bucket app-assets (nestbackup does not back up oss resources)" in done.stdout
    done = run_cli(product.endpoint, "plan", "--instance", si)
    assert done.returncode == 0, done.stderr
    assert "warning: 2 resources not protected" in done.stdout and "not protected: kvstore:instance r-cache01" in done.stdout
