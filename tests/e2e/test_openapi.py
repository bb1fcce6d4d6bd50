"""The OpenAPI document describes the API, and the API holds to it: property-based requests (schemathesis) against
every operation, more than a thousand in all, answer without a single 5xx."""
import json
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.support.product import ADMIN

COUNT = {"requests": 0}
BASE: list[str] = []


@pytest.fixture(scope="module")
def api_schema(product):
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    raw = json.loads(opener.open(product.endpoint + "/api/openapi.json", timeout=30).read())
    BASE[:] = [product.endpoint + "/api"]
    return schemathesis.openapi.from_dict(raw)


def test_no_generated_request_gets_a_server_error(api_schema):
    from hypothesis import given
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(operation.as_strategy())
        def exercise(case):
            response = case.call(base_url=BASE[0], headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60)
            COUNT["requests"] += 1
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, response.status_code, response.text[:300]))
            elif response.status_code >= 400:
                assert {"Code", "Message", "RequestId"} <= set(response.json()), response.text[:300]

        exercise()
    assert failures == []
    assert COUNT["requests"] >= 1000, COUNT


def test_the_document_lists_every_route(api):
    status, document = api.call("GET", "/openapi.json", token=None)       # no token needed
    assert status == 200 and document["openapi"].startswith("3.")
    assert {"/backups", "/backups/{id}", "/restores", "/restores/{id}", "/service-instances/{id}/schedule",
            "/service-instances/{id}/plan", "/tenants", "/backups/{id}/cancel"} <= set(document["paths"])
