"""Injected faults and latency, set through POST /_local/faults.

Random faults (throttle, server_error, lost_response) hit API calls of the products listed in `products`
(all by default). Resource faults name ids: `fail` makes the asynchronous work on a resource fail, `stuck` keeps it
in progress forever, `reject` refuses the call that starts work on it with a given error code, `refuse_stop`
leaves an instance Running when asked to stop. `op_delay_ms` is the minimum duration of every asynchronous operation;
`pace_ms` sets it per resource id (resources of mixed durations), and wins over `op_delay_ms` for those ids.
`action_latency_ms` delays only the named calls ({"ecs:DescribeSnapshots": 5000}), e.g. to run one step of a flow
past its function's timeout.
"""
from __future__ import annotations

import random
import threading
import time

from .errors import ServiceError

PRODUCTS = ("ecs", "rds", "ots", "fnf")

# How each product answers a throttled call and a server error.
THROTTLED = {
    "ecs": ("Throttling.User", "Request was denied due to user flow control.", 400),
    "rds": ("Throttling.User", "Request was denied due to user flow control.", 400),
    "fnf": ("Throttling", "Request was denied due to request throttling.", 400),
    "ots": ("OTSServerBusy", "Server is busy.", 503),
}
SERVER_ERROR = {
    "ecs": ("InternalError", "The request processing has failed due to some unknown error.", 500),
    "rds": ("InternalError", "The request processing has failed due to some unknown error.", 500),
    "fnf": ("InternalServerError", "An internal server error occurred.", 500),
    "ots": ("OTSServerBusy", "Server is busy.", 503),
}
_KNOWN = {"throttle", "server_error", "lost_response", "latency_ms", "op_delay_ms", "fail", "stuck", "reject",
          "refuse_stop", "products", "seed", "pace_ms", "action_latency_ms"}


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.throttle = self.server_error = self.lost_response = 0.0
            self.latency_ms = 0
            self.op_delay_ms = 0
            self.fail: set[str] = set()
            self.stuck: set[str] = set()
            self.refuse_stop: set[str] = set()
            self.reject: dict[str, str] = {}
            self.pace_ms: dict[str, int] = {}
            self.action_latency_ms: dict[str, int] = {}
            self.products: set[str] = set(PRODUCTS)
            self._random = random.Random()

    def configure(self, body: dict) -> None:
        """Merge a fault description into the current one; raise ValueError on anything malformed."""
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        unknown = set(body) - _KNOWN
        if unknown:
            raise ValueError(f"unknown fault keys: {', '.join(sorted(unknown))}")
        with self._lock:
            for key in ("throttle", "server_error", "lost_response"):
                if key in body:
                    value = body[key]
                    if not isinstance(value, (int, float)) or not 0 <= value <= 1:
                        raise ValueError(f"{key} must be a probability between 0 and 1")
                    setattr(self, key, float(value))
            for key in ("latency_ms", "op_delay_ms"):
                if key in body:
                    value = body[key]
                    if not isinstance(value, int) or not 0 <= value <= 600_000:
                        raise ValueError(f"{key} must be an integer number of milliseconds")
                    setattr(self, key, value)
            for key in ("fail", "stuck", "refuse_stop"):
                if key in body:
                    ids = body[key]
                    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                        raise ValueError(f"{key} must be a list of resource ids")
                    getattr(self, key).update(ids)
            if "reject" in body:
                reject = body["reject"]
                if not isinstance(reject, dict) or not all(isinstance(v, str) for v in reject.values()):
                    raise ValueError("reject must map resource ids to error codes")
                self.reject.update(reject)
            if "pace_ms" in body:
                pace = body["pace_ms"]
                if not isinstance(pace, dict) or not all(isinstance(v, int) and 0 <= v <= 86_400_000
                                                         for v in pace.values()):
                    raise ValueError("pace_ms must map resource ids to milliseconds")
                self.pace_ms.update(pace)
            if "action_latency_ms" in body:
                delays = body["action_latency_ms"]
                if not isinstance(delays, dict) or not all(isinstance(k, str) and ":" in k and isinstance(v, int)
                                                           and 0 <= v <= 600_000 for k, v in delays.items()):
                    raise ValueError("action_latency_ms must map product:Action to milliseconds")
                self.action_latency_ms.update(delays)
            if "products" in body:
                products = body["products"]
                if not isinstance(products, list) or not set(products) <= set(PRODUCTS):
                    raise ValueError(f"products must be a list drawn from {', '.join(PRODUCTS)}")
                self.products = set(products)
            if "seed" in body:
                self._random.seed(body["seed"])

    def describe(self) -> dict:
        with self._lock:
            return {"throttle": self.throttle, "server_error": self.server_error,
                    "lost_response": self.lost_response, "latency_ms": self.latency_ms,
                    "op_delay_ms": self.op_delay_ms, "fail": sorted(self.fail), "stuck": sorted(self.stuck),
                    "reject": dict(self.reject), "refuse_stop": sorted(self.refuse_stop),
                    "pace_ms": dict(self.pace_ms), "action_latency_ms": dict(self.action_latency_ms),
                    "products": sorted(self.products)}

    # -- asked by the server around every API call
    def before_call(self, product: str, action: str = "") -> None:
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        delay = self.action_latency_ms.get(f"{product}:{action}")
        if delay:
            time.sleep(delay / 1000)
        if product not in self.products:
            return
        with self._lock:
            roll = self._random.random()
        if roll < self.throttle:
            raise ServiceError(*THROTTLED[product])
        if roll < self.throttle + self.server_error:
            raise ServiceError(*SERVER_ERROR[product])

    def lose_response(self, product: str) -> bool:
        """After a call was applied: should its answer be replaced by a server error?"""
        if product not in self.products or not self.lost_response:
            return False
        with self._lock:
            return self._random.random() < self.lost_response

    # -- asked by the models
    def min_duration(self, *ids: str) -> float:
        """Seconds an asynchronous operation on these resources lasts at least (their pace, else op_delay_ms)."""
        with self._lock:
            paced = [self.pace_ms[i] for i in ids if i in self.pace_ms]
            return (max(paced) if paced else self.op_delay_ms) / 1000

    def fails(self, *ids: str) -> bool:
        return any(i in self.fail for i in ids)

    def is_stuck(self, *ids: str) -> bool:
        return any(i in self.stuck for i in ids)

    def refuses_stop(self, instance_id: str) -> bool:
        return instance_id in self.refuse_stop

    def check_reject(self, *ids: str) -> None:
        for i in ids:
            code = self.reject.get(i)
            if code:
                raise ServiceError(code, f"The operation on {i} was refused (injected fault).", 403)
