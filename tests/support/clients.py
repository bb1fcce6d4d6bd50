"""The unmodified Alibaba Cloud SDK clients, pointed at a local cloud."""
from __future__ import annotations

from functools import cache

from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET


def openapi_config(endpoint: str, secret: str = DEFAULT_ACCESS_KEY_SECRET):
    from alibabacloud_tea_openapi import models as oa
    return oa.Config(access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret=secret, region_id="cn-hangzhou",
                     endpoint=endpoint.removeprefix("http://"), protocol="http", read_timeout=30000)


def make_ecs(endpoint: str, secret: str = DEFAULT_ACCESS_KEY_SECRET):
    from alibabacloud_ecs20140526.client import Client
    return Client(openapi_config(endpoint, secret))


def make_rds(endpoint: str, secret: str = DEFAULT_ACCESS_KEY_SECRET):
    from alibabacloud_rds20140815.client import Client
    return Client(openapi_config(endpoint, secret))


def make_fnf(endpoint: str, secret: str = DEFAULT_ACCESS_KEY_SECRET, patient: bool = True):
    """CloudFlow's SDK client; `patient`: asking again, backing off, while CloudFlow throttles (its documented rate
    limits, which the local cloud enforces), as any real client of it must."""
    from alibabacloud_fnf20190315.client import Client
    config = openapi_config(endpoint, secret)
    return _patient_fnf()(config) if patient else Client(config)


@cache
def _patient_fnf():
    import time

    from alibabacloud_fnf20190315.client import Client

    class Patient(Client):
        def call_api(self, params, request, runtime):
            for attempt in range(40):
                try:
                    return super().call_api(params, request, runtime)
                except Exception as err:
                    if getattr(err, "code", None) != "Throttling" or attempt == 39:
                        raise
                    time.sleep(min(1.0, 0.05 * 2 ** attempt))
            raise AssertionError("unreachable")
    return Patient



def make_ots(endpoint: str, secret: str = DEFAULT_ACCESS_KEY_SECRET, instance: str = "nestbackup", **kw):
    from tablestore import OTSClient
    from tablestore.retry import NoRetryPolicy
    kw.setdefault("retry_policy", NoRetryPolicy())
    return OTSClient(endpoint, DEFAULT_ACCESS_KEY_ID, secret, instance, **kw)


def make_kms(endpoint: str, secret: str = DEFAULT_ACCESS_KEY_SECRET, key_id: str = DEFAULT_ACCESS_KEY_ID,
             token: str | None = None):
    from alibabacloud_kms20160120.client import Client
    config = openapi_config(endpoint, secret)
    config.access_key_id, config.security_token = key_id, token
    return Client(config)
