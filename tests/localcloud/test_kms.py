"""KMS secrets on the local cloud, driven by the unmodified SDK (alibabacloud_kms20160120): the calls the product
makes (GetSecretValue) and the ones a deployer seeds and rotates with (CreateSecret, PutSecretValue)."""
from __future__ import annotations

import pytest
from alibabacloud_kms20160120 import models as kms_m

from tests.support.clients import make_kms

pytestmark = pytest.mark.slow


def error_of(call):
    with pytest.raises(Exception) as caught:
        call()
    return caught.value


def test_a_secret_is_created_read_rotated_and_read_by_its_arn(endpoint):
    kms = make_kms(endpoint)
    created = kms.create_secret(kms_m.CreateSecretRequest(secret_name="app/db", secret_data='{"User": "u"}',
                                                          version_id="v1")).body
    assert created.arn == "acs:kms:cn-hangzhou:1234567890123456:secret/app/db" and created.version_id == "v1"
    got = kms.get_secret_value(kms_m.GetSecretValueRequest(secret_name="app/db")).body
    assert (got.secret_data, got.secret_data_type, got.version_id) == ('{"User": "u"}', "text", "v1")
    assert got.version_stages.version_stage == ["ACSCurrent"]
    kms.put_secret_value(kms_m.PutSecretValueRequest(secret_name="app/db", secret_data='{"User": "v"}', version_id="v2"))
    current = kms.get_secret_value(kms_m.GetSecretValueRequest(secret_name=created.arn)).body
    previous = kms.get_secret_value(kms_m.GetSecretValueRequest(secret_name="app/db",
                                                                 version_stage="ACSPrevious")).body
    assert (current.secret_data, current.version_id) == ('{"User": "v"}', "v2")
    assert (previous.secret_data, previous.version_stages.version_stage) == ('{"User": "u"}', ["ACSPrevious"])


def test_the_documented_errors(endpoint):
    kms = make_kms(endpoint)
    missing = error_of(lambda: kms.get_secret_value(kms_m.GetSecretValueRequest(secret_name="no-such-secret")))
    assert (missing.code, missing.statusCode) == ("Forbidden.ResourceNotFound", 404)
    kms.create_secret(kms_m.CreateSecretRequest(secret_name="twice", secret_data="x", version_id="v1"))
    again = error_of(lambda: kms.create_secret(kms_m.CreateSecretRequest(secret_name="twice", secret_data="y",
                                                                         version_id="v1")))
    assert again.code == "Rejected.ResourceExist"
    unnamed = error_of(lambda: kms.create_secret(kms_m.CreateSecretRequest(secret_data="x", version_id="v1")))
    assert unnamed.code == "MissingParameter"
    too_big = error_of(lambda: kms.create_secret(kms_m.CreateSecretRequest(secret_name="big", secret_data="x" * 30721,
                                                                           version_id="v1")))
    assert too_big.code == "InvalidParameter"
