"""The route table is the one source of the API's dispatch and of its OpenAPI document."""
from nestbackup.api.openapi import document
from nestbackup.api.routes import route_table
from nestbackup.decisions.webhooks import DeliveryStatus
from nestbackup.model.status import BackupStatus, RestorePhase, RestoreStatus


def test_each_method_and_path_has_one_route_and_each_route_is_documented():
    keys = [(route.method, route.path) for route in route_table()]
    assert len(keys) == len(set(keys))
    paths = document()["paths"]
    assert {(method.upper(), path) for path, item in paths.items() for method in item} == set(keys)


def test_a_path_matches_only_its_template():
    by_key = {(r.method, r.path): r for r in route_table()}
    assert by_key[("GET", "/backups/{id}")].match("/backups/backup-1") == {"id": "backup-1"}
    assert by_key[("GET", "/backups/{id}")].match("/backups/backup-1/events") is None
    assert by_key[("GET", "/tenants/{id}/deliveries")].match("/tenants/a/deliveries") == {"id": "a"}


def test_the_document_takes_its_enumerations_from_the_model():
    schemas = document()["components"]["schemas"]
    assert schemas["Backup"]["properties"]["Status"]["enum"] == [s.value for s in BackupStatus]
    assert schemas["Restore"]["properties"]["Status"]["enum"] == [s.value for s in RestoreStatus]
    assert schemas["Restore"]["properties"]["Phase"]["enum"] == [s.value for s in RestorePhase]
    status = next(p for p in document()["paths"]["/tenants/{id}/deliveries"]["get"]["parameters"]
                  if p["name"] == "status")
    assert status["schema"]["enum"] == [s.value for s in DeliveryStatus]


def test_each_mutating_route_has_its_own_action_and_the_audit_is_read_only_and_admin_only():
    mutating = [route for route in route_table() if route.method in ("POST", "PUT", "DELETE")]
    actions = [route.action for route in mutating]
    assert len(actions) == len(set(actions)) and "CreateBackup" in actions and "DeleteTenant" in actions
    audit = [route for route in route_table() if route.path == "/audit"]
    assert [(r.method, bool(r.admin_only)) for r in audit] == [("GET", True)]
