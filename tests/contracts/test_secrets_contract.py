"""The secrets port: the in-memory one and adapters/kms.py on the local cloud's KMS answer alike: the current value,
NotFound for an unknown secret, the cached value until a fresh read, and the rotated value on a fresh read."""
from __future__ import annotations

import uuid

import pytest

from nestbackup.errors import NotFound
from tests.support.contracts import IMPLEMENTATIONS, rpc


class SecretsSide:
    def __init__(self, kind: str, endpoint: str | None) -> None:
        if kind == "memory":
            from tests.support.memory.secrets import MemorySecrets
            self.port = MemorySecrets()
            self.put = lambda name, value: self.port.values.__setitem__(name, value)
        else:
            from alibabacloud_kms20160120 import models as kms_m

            from nestbackup.adapters.kms import VERSION, Kms
            from tests.support.clients import make_kms
            client = make_kms(endpoint)
            self.port = Kms(rpc(endpoint, VERSION), ttl_seconds=300)
            versions: dict[str, int] = {}

            def put(name: str, value: str) -> None:
                versions[name] = versions.get(name, 0) + 1
                request = {"secret_name": name, "secret_data": value, "version_id": f"v{versions[name]}"}
                if versions[name] == 1:
                    client.create_secret(kms_m.CreateSecretRequest(**request))
                else:
                    client.put_secret_value(kms_m.PutSecretValueRequest(**request))
            self.put = put


@pytest.fixture(params=IMPLEMENTATIONS)
def secrets(request) -> SecretsSide:
    return SecretsSide(request.param, request.getfixturevalue("endpoint") if request.param == "real" else None)


def test_the_current_value_is_read_and_kept_until_a_fresh_read(secrets):
    name = "nb-" + uuid.uuid4().hex[:8]
    secrets.put(name, "one")
    assert secrets.port.read(name) == "one"
    secrets.put(name, "two")                        # rotated
    assert secrets.port.read(name) == "one"         # cached
    assert secrets.port.read(name, fresh=True) == "two"
    assert secrets.port.read(name) == "two"


def test_an_unknown_secret_is_not_found(secrets):
    with pytest.raises(NotFound):
        secrets.port.read("nb-none-" + uuid.uuid4().hex[:8])


@pytest.mark.slow
def test_the_kms_adapter_keeps_a_value_for_its_ttl_and_reads_on_demand_at_most_once_a_minute(endpoint):
    from nestbackup.adapters.kms import VERSION, Kms
    from nestbackup.ports.secrets import FRESH_READ_SECONDS
    side, now = SecretsSide("real", endpoint), [1000.0]
    kms = Kms(rpc(endpoint, VERSION), ttl_seconds=300, clock=lambda: now[0])
    name = "nb-ttl-" + uuid.uuid4().hex[:8]
    side.put(name, "one")
    assert kms.read(name) == "one"
    side.put(name, "two")
    now[0] += 299
    assert kms.read(name) == "one"
    now[0] += 1                                     # the TTL is over: read again
    assert kms.read(name) == "two"
    side.put(name, "three")
    assert kms.read(name, fresh=True) == "three"    # a refused login: read at once
    side.put(name, "four")
    now[0] += FRESH_READ_SECONDS - 1
    assert kms.read(name, fresh=True) == "three"    # another within the minute: the cached value
    now[0] += 1
    assert kms.read(name, fresh=True) == "four"
