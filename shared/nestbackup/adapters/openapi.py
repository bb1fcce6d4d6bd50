"""RPC calls to ECS and RDS through the generic OpenAPI client of the official SDK.

The generic `alibabacloud_tea_openapi` client sends the same signed requests as the product SDKs without importing
their thousands of model modules (about half the cold-start cost). Retries with jittered exponential back-off on
throttling and 5xx are done here, because the SDK does none by default.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, NamedTuple

from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from ..errors import CloudError
from ..settings import no_proxy_to
from .usage import note_call

_retries = threading.local()
# The product of each API version, as the cost of a record names its calls.
PRODUCTS = {"2014-05-26": "ecs", "2014-08-15": "rds", "2019-03-15": "fnf", "2021-06-01": "computenest",
            "2023-03-30": "fc", "2020-04-01": "eventbridge", "2016-01-20": "kms"}


def take_retries() -> list[str]:
    """The refusals this thread's calls retried since the last take ("CreateSnapshot: Throttling.User"), so an
    operation can put them on its record's timeline."""
    taken = getattr(_retries, "notes", [])
    _retries.notes = []
    return taken


def _note_retry(action: str, state) -> None:
    err = state.outcome.exception() if state.outcome else None
    notes = getattr(_retries, "notes", [])
    notes.append(f"{action}: {getattr(err, 'code', None) or type(err).__name__}")
    _retries.notes = notes[-20:]


class Credentials(NamedTuple):
    """An AccessKey pair, with the STS token of a role's temporary credentials."""
    access_key_id: str
    access_key_secret: str
    security_token: str | None = None


class RetryPolicy(NamedTuple):
    """How often and how long a transient failure of a cloud call is retried."""
    attempts: int = 8
    max_seconds: float = 60.0
    initial_wait: float = 0.2
    max_wait: float = 5.0


DEFAULT_RETRY = RetryPolicy()


def split_endpoint(endpoint: str) -> tuple[str, str]:
    """'http://127.0.0.1:8900' -> ('http', '127.0.0.1:8900'); a bare host means HTTPS."""
    if "://" in endpoint:
        scheme, host = endpoint.split("://", 1)
        return scheme.lower(), host.rstrip("/")
    return "https", endpoint.rstrip("/")


class RpcClient:
    """Signed RPC calls to one product (ECS 2014-05-26, RDS 2014-08-15, FNF 2019-03-15) at one endpoint.

    `legacy_signature` selects SignatureVersion 1.0 with form bodies, which FNF requires; `form_body` sends the
    parameters of a POST in a form body with the default signature, as EventBridge's SDK does."""

    def __init__(self, endpoint: str, version: str, credentials: Credentials, region: str,
                 retry: RetryPolicy = DEFAULT_RETRY, read_timeout_ms: int = 15000,
                 legacy_signature: bool = False, form_body: bool = False) -> None:
        from alibabacloud_tea_openapi import models as oa
        from alibabacloud_tea_openapi.client import Client

        self.protocol, host = split_endpoint(endpoint)
        no_proxy_to(host)
        self.endpoint, self.credentials, self.read_timeout_ms = endpoint, credentials, read_timeout_ms
        self.version = version
        self.region = region
        self.retry = retry
        self._oa = oa
        self.legacy_signature = legacy_signature
        self.form_body = form_body or legacy_signature
        self._client = Client(oa.Config(access_key_id=credentials.access_key_id,
                                        access_key_secret=credentials.access_key_secret,
                                        security_token=credentials.security_token, region_id=region,
                                        endpoint=host, protocol=self.protocol,
                                        read_timeout=read_timeout_ms, connect_timeout=5000,
                                        signature_algorithm="v2" if legacy_signature else None))

    def in_region(self, region: str, endpoint: str) -> RpcClient:
        """The same product, credentials and retries for another region at `endpoint` (e.g. a snapshot's copy)."""
        return RpcClient(endpoint, self.version, self.credentials, region, self.retry, self.read_timeout_ms,
                         self.legacy_signature, self.form_body and not self.legacy_signature)

    def call(self, action: str, params: dict[str, Any], *, retry_when: Callable[[CloudError], bool] | None = None,
             method: str = "POST") -> dict[str, Any]:
        """Call an action and return its JSON body. `retry_when` narrows which errors are retried
        (default: any transient one); pass `lambda e: e.throttled` for calls that must not run twice."""
        should_retry = retry_when or (lambda err: err.transient)
        for attempt in Retrying(
                retry=retry_if_exception(lambda exc: isinstance(exc, CloudError) and should_retry(exc)),
                stop=stop_after_attempt(self.retry.attempts) | stop_after_delay(self.retry.max_seconds),
                wait=wait_exponential_jitter(multiplier=self.retry.initial_wait, max=self.retry.max_wait,
                                            jitter=self.retry.initial_wait),
                before_sleep=lambda state: _note_retry(action, state),
                reraise=True):
            with attempt:
                return self._call_once(action, params, method)
        raise AssertionError("unreachable")

    def _call_once(self, action: str, params: dict[str, Any], method: str) -> dict[str, Any]:
        note_call(PRODUCTS.get(self.version, self.version), action)
        from alibabacloud_tea_openapi.utils import Utils
        from darabonba.runtime import RuntimeOptions
        from Tea.exceptions import TeaException

        oa = self._oa
        spec = oa.Params(action=action, version=self.version, protocol=self.protocol, pathname="/", method=method,
                         auth_type="AK", style="RPC", req_body_type="formData", body_type="json")
        present = {k: v for k, v in params.items() if v is not None}
        if self.form_body and method == "POST":
            request = oa.OpenApiRequest(body=present)      # FNF, EventBridge: parameters in a form body
        else:
            request = oa.OpenApiRequest(query=Utils.query(present))
        try:
            out = self._client.call_api(spec, request, RuntimeOptions())
        except TeaException as exc:
            raise _cloud_error(action, exc) from exc
        return out.get("body") or {}


def _cloud_error(action: str, exc: Exception) -> CloudError:
    code = getattr(exc, "code", None)
    data = getattr(exc, "data", None) or {}
    status = getattr(exc, "status_code", None) or getattr(exc, "statusCode", None)
    if not code:  # connection refused, timeouts: the SDK wraps them without a code
        return CloudError("Unreachable", str(getattr(exc, "message", exc)), action=action)
    message = data.get("Message") or data.get("message") or getattr(exc, "message", "") or code
    request_id = data.get("RequestId") or data.get("requestId") or getattr(exc, "request_id", None)
    return CloudError(str(code), str(message), action=action, request_id=request_id,
                      http_status=int(status) if status else None)
