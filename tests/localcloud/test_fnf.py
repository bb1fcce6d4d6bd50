"""CloudFlow (FNF 2019-03-15) through the unmodified alibabacloud_fnf20190315 SDK against the local cloud."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from alibabacloud_fnf20190315 import models as fm
from alibabacloud_fnf20190315.client import Client
from alibabacloud_tea_openapi.exceptions import ClientException

from localcloud.cloud import LocalCloud
from localcloud.server import LocalCloudServer
from tests.support import Control

FLOWS = Path(__file__).parent / "flows"
FUNCTIONS = FLOWS / "functions"
SCALE = 0.01  # Wait and Retry intervals run 100x faster


def make_fnf(endpoint: str, patient: bool = True) -> Client:
    """The SDK's client; `patient`: backing off while CloudFlow throttles (tests/support/clients.py)."""
    from tests.support.clients import make_fnf as client
    return client(endpoint, patient=patient)


class Counter:
    """A registered test function counting its calls per key."""

    def __init__(self, answer):
        self.calls: dict[str, int] = {}
        self.lock = threading.Lock()
        self.answer = answer

    def __call__(self, event: bytes, context):
        body = json.loads(event)
        with self.lock:
            n = self.calls[body["key"]] = self.calls.get(body["key"], 0) + 1
        return self.answer(n, body)


def _flaky(n, body):
    if n < 3:
        raise RuntimeError(f"transient failure {n}")
    return {"attempts": n}


@pytest.fixture(scope="module")
def cloud_server(tmp_path_factory):
    cloud = LocalCloud(tmp_path_factory.mktemp("fnf-state"), flows_dir=FLOWS, s_yaml=FUNCTIONS / "s.yaml",
                       flow_wait_scale=SCALE)
    server = LocalCloudServer(cloud, port=0)
    server.start_in_thread()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def cloud(cloud_server) -> LocalCloud:
    return cloud_server.cloud


@pytest.fixture(scope="module")
def fnf(cloud_server) -> Client:
    return make_fnf(cloud_server.endpoint)


@pytest.fixture(scope="module")
def flaky(cloud):
    counter = Counter(_flaky)
    cloud.fnf.register_function("flaky", counter)
    return counter


@pytest.fixture(scope="module")
def tick(cloud):
    counter = Counter(lambda n, body: {"ticks": n})
    cloud.fnf.register_function("tick", counter)
    return counter


def start(fnf, flow, name, data=None):
    return fnf.start_execution(fm.StartExecutionRequest(flow_name=flow, execution_name=name,
                                                        input=json.dumps(data or {}))).body


def wait_done(fnf, flow, name, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        body = fnf.describe_execution(fm.DescribeExecutionRequest(flow_name=flow, execution_name=name,
                                                                  wait_time_seconds=5)).body
        if body.status not in ("Starting", "Running") or time.monotonic() > deadline:
            return body


def history(fnf, flow, name, limit=None):
    events, token = [], None
    while True:
        body = fnf.get_execution_history(fm.GetExecutionHistoryRequest(flow_name=flow, execution_name=name,
                                                                       limit=limit, next_token=token)).body
        events += body.events
        token = body.next_token
        if not token:
            return events


def _epoch(text: str) -> float:
    from datetime import datetime
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def failure(fnf, flow, name) -> dict:
    last = history(fnf, flow, name)[-1]
    assert last.type == "ExecutionFailed"
    return json.loads(last.event_detail)


def error_of(call) -> ClientException:
    with pytest.raises(ClientException) as info:
        call()
    return info.value


# -- flows


def test_poll_loop_task_choice_wait_succeeds(fnf, cloud_server):
    control = Control(cloud_server.endpoint)
    before = control.stats().get("flow:transitions", 0)
    started = start(fnf, "poll", "poll-1", {"key": "poll-1", "target": 3})
    assert started.status == "Running" and started.name == "poll-1" and started.flow_name == "poll"
    body = wait_done(fnf, "poll", "poll-1")
    assert body.status == "Succeeded", body
    assert json.loads(body.output) == {"done": True, "calls": 3, "message": "call 3 of 3"}
    assert json.loads(body.input) == {"key": "poll-1", "target": 3}
    assert body.started_time.endswith("Z") and body.stopped_time >= body.started_time
    assert "Name: poll" in body.flow_definition
    # Poll, Check, Sleep, Poll, Check, Sleep, Poll, Check, Done: one transition per state entered
    assert control.stats()["flow:transitions"] - before == 9
    steps = [e.step_name for e in history(fnf, "poll", "poll-1") if e.type == "StateEntered"]
    assert steps == ["Poll", "Check", "Sleep"] * 2 + ["Poll", "Check", "Done"]


def test_parallel_and_map_outputs(fnf, cloud_server):
    control = Control(cloud_server.endpoint)
    before = control.stats().get("flow:transitions", 0)
    start(fnf, "fanout", "fan-1", {"n": 5, "items": [{"x": 1}, {"x": 2}, {"x": 3}, {"x": 4}]})
    body = wait_done(fnf, "fanout", "fan-1")
    assert body.status == "Succeeded"
    out = json.loads(body.output)
    assert out["parallel"]["a"] == {"branch": "a", "n": 5}
    # the file-based function got bytes and FC's context (function name, the cloud's credentials)
    assert out["parallel"]["b"] == {"branch": "b", "doubled": 10, "fn": "double", "ak": "LTAIlocal",
                                    "eventType": "bytes"}
    assert out["mapped"] == [{"y": 2}, {"y": 4}, {"y": 6}, {"y": 8}] and out["count"] == 4
    # Parallel + A + B, Map + 4 x Double
    assert control.stats()["flow:transitions"] - before == 3 + 5


def test_retry_succeeds_on_third_attempt(fnf, flaky):
    start(fnf, "retry", "retry-1", {"key": "retry-1"})
    body = wait_done(fnf, "retry", "retry-1")
    assert body.status == "Succeeded"
    assert json.loads(body.output) == {"attempts": 3, "retries": 2}
    assert flaky.calls["retry-1"] == 3
    events = history(fnf, "retry", "retry-1")
    retried = [json.loads(e.event_detail) for e in events if e.type == "StateRetried"]
    assert [r["error"] for r in retried] == ["FC.Unknown", "FC.Unknown"]
    assert [r["delaySeconds"] for r in retried] == [1, 2]  # IntervalSeconds * BackoffRate ** n
    assert "RuntimeError: transient failure 1" in retried[0]["cause"]
    assert [e.type for e in events].count("TaskFailed") == 2


def test_catch_routes_to_failure_path_and_fail_state(fnf):
    start(fnf, "catch", "catch-1", {"fn": "boom", "id": "op-1"})
    body = wait_done(fnf, "catch", "catch-1")
    assert body.status == "Failed" and body.output is None
    assert failure(fnf, "catch", "catch-1") == {"error": "BackupFailed", "cause": "backup failed"}
    events = history(fnf, "catch", "catch-1")
    record = next(json.loads(e.event_detail) for e in events if e.type == "StateExited" and e.step_name == "Record")
    assert record["output"]["recorded"]["code"] == "FC.Unknown"
    assert record["output"]["recorded"]["detail"] == "ValueError: disk d-1 is gone"
    assert record["output"]["recorded"]["id"] == "op-1" and record["output"]["recorded"]["fn"] == "boom"
    assert "Fine" not in {e.step_name for e in events}


def test_missing_function_is_fc_function_not_found(fnf):
    start(fnf, "catch", "catch-2", {"fn": "no-such-fn", "id": "op-2"})
    assert wait_done(fnf, "catch", "catch-2").status == "Failed"
    caught = next(json.loads(e.event_detail) for e in history(fnf, "catch", "catch-2") if e.type == "StateCaught")
    assert caught["error"] == "FC.FunctionNotFound" and caught["next"] == "Record"


def test_catch_not_taken_when_task_succeeds(fnf, cloud):
    cloud.fnf.register_function("fine", lambda event, context: {"ok": True})
    start(fnf, "catch", "catch-3", {"fn": "fine", "id": "op-3"})
    body = wait_done(fnf, "catch", "catch-3")
    assert body.status == "Succeeded" and json.loads(body.output) == {"Body": {"ok": True}}


def test_start_is_idempotent_while_running_and_refused_after(fnf, tick):
    first = start(fnf, "slow", "idem-1", {"seconds": 100})  # 1 s at the test scale
    again = start(fnf, "slow", "idem-1", {"seconds": 5, "other": "input"})
    assert again.status == "Running" and again.started_time == first.started_time
    assert json.loads(again.input) == {"seconds": 100}
    body = wait_done(fnf, "slow", "idem-1")
    assert body.status == "Succeeded" and json.loads(body.output) == {"waited": 100, "ticks": 1}
    err = error_of(lambda: start(fnf, "slow", "idem-1", {"seconds": 100}))
    assert err.code == "ExecutionAlreadyExists" and err.status_code == 400
    assert tick.calls["idem-1"] == 1


def test_stop_execution(fnf, tick):
    start(fnf, "slow", "stop-1", {"seconds": 300})  # 3 s at the test scale
    time.sleep(0.3)
    stopped = fnf.stop_execution(fm.StopExecutionRequest(flow_name="slow", execution_name="stop-1",
                                                         error="Cancelled", cause="by the test")).body
    assert stopped.status == "Stopped" and stopped.stopped_time
    time.sleep(3.5)  # the Wait would have ended by now
    body = wait_done(fnf, "slow", "stop-1")
    assert body.status == "Stopped" and body.output is None
    events = history(fnf, "slow", "stop-1")
    assert events[-1].type == "ExecutionStopped"
    assert json.loads(events[-1].event_detail) == {"error": "Cancelled", "cause": "by the test"}
    assert "After" not in {e.step_name for e in events}
    err = error_of(lambda: fnf.stop_execution(fm.StopExecutionRequest(flow_name="slow", execution_name="stop-1")))
    assert err.code == "ExecutionAlreadyCompleted" and err.status_code == 400
    assert error_of(lambda: start(fnf, "slow", "stop-1", {})).code == "ExecutionAlreadyExists"


def test_stopping_an_execution_that_ended_answers_execution_already_completed(fnf, tick):
    start(fnf, "slow", "stop-2", {"seconds": 1})
    assert wait_done(fnf, "slow", "stop-2").status == "Succeeded"
    err = error_of(lambda: fnf.stop_execution(fm.StopExecutionRequest(flow_name="slow", execution_name="stop-2",
                                                                      error="Cancelled", cause="too late")))
    assert err.code == "ExecutionAlreadyCompleted" and "Succeeded" in err.message
    assert wait_done(fnf, "slow", "stop-2").status == "Succeeded"          # unchanged
    assert history(fnf, "slow", "stop-2")[-1].type == "ExecutionSucceeded"
    start(fnf, "slow", "stop-3", {"seconds": 300})
    err = error_of(lambda: fnf.stop_execution(fm.StopExecutionRequest(flow_name="slow", execution_name="stop-3",
                                                                      error="E" * 129)))
    assert err.code == "InvalidArgument"                  # Error is 1-128 characters (SDK docstring)
    fnf.stop_execution(fm.StopExecutionRequest(flow_name="slow", execution_name="stop-3", cause="c" * 4096))


def test_history_paging(fnf):
    start(fnf, "poll", "page-1", {"key": "page-1", "target": 2})
    assert wait_done(fnf, "poll", "page-1").status == "Succeeded"
    whole = history(fnf, "poll", "page-1")
    paged = history(fnf, "poll", "page-1", limit=4)
    assert [e.event_id for e in whole] == list(range(1, len(whole) + 1)) == [e.event_id for e in paged]
    assert [e.type for e in paged] == [e.type for e in whole]
    assert whole[0].type == "ExecutionStarted" and whole[-1].type == "ExecutionSucceeded"
    assert all(e.time.endswith("Z") for e in whole)
    first = fnf.get_execution_history(fm.GetExecutionHistoryRequest(flow_name="poll", execution_name="page-1",
                                                                    limit=4)).body
    assert len(first.events) == 4 and first.next_token == "5"


def test_state_output_over_64_kib_fails_execution(fnf, cloud):
    cloud.fnf.register_function("grow", lambda event, context: {"blob": "x" * json.loads(event)["size"]})
    start(fnf, "big", "big-ok", {"size": 60000})
    assert wait_done(fnf, "big", "big-ok").status == "Succeeded"
    start(fnf, "big", "big-1", {"size": 70000})
    body = wait_done(fnf, "big", "big-1")
    assert body.status == "Failed"
    err = failure(fnf, "big", "big-1")
    assert err["error"] == "FnF.DataLimitExceeded" and "65536" in err["cause"]
    assert "Caught" not in {e.step_name for e in history(fnf, "big", "big-1")}  # terminal: not caught
    too_big = json.dumps({"blob": "x" * 70000})
    e = error_of(lambda: fnf.start_execution(fm.StartExecutionRequest(flow_name="big", execution_name="big-2",
                                                                      input=too_big)))
    assert e.code == "InvalidArgument"


def test_event_limit(fnf, cloud):
    cloud.fnf.max_events = 60
    try:
        start(fnf, "loop", "loop-1", {"n": 0})
        body = wait_done(fnf, "loop", "loop-1")
    finally:
        cloud.fnf.max_events = 5000
    assert body.status == "Failed"
    err = failure(fnf, "loop", "loop-1")
    assert err["error"] == "FnF.EventLimitExceeded" and "60" in err["cause"]
    assert len(history(fnf, "loop", "loop-1")) == 61  # the cap, then ExecutionFailed


def test_api_errors(fnf):
    assert error_of(lambda: start(fnf, "nope", "x")).code == "FlowNotExists"
    e = error_of(lambda: start(fnf, "poll", "1-bad-name", {"key": "k", "target": 1}))
    assert e.code == "InvalidArgument" and e.status_code == 400
    e = error_of(lambda: fnf.start_execution(fm.StartExecutionRequest(flow_name="poll", execution_name="x",
                                                                      input="[1, 2]")))
    assert e.code == "InvalidArgument"
    e = error_of(lambda: start(fnf, "broken", "b-1"))
    assert e.code == "InvalidDefinition" and "Next 'Nowhere' names no state" in e.message
    e = error_of(lambda: start(fnf, "undescribed", "u-1"))  # breaks a documented rule: refused, never run
    assert e.code == "InvalidDefinition" and e.status_code == 400 and "Retry[0]: Description is required" in e.message
    e = error_of(lambda: fnf.describe_execution(fm.DescribeExecutionRequest(flow_name="poll",
                                                                            execution_name="never")))
    assert e.code == "ExecutionNotExists" and e.status_code == 404


def test_generated_execution_name(fnf):
    body = fnf.start_execution(fm.StartExecutionRequest(flow_name="poll", input=json.dumps(
        {"key": "anon", "target": 1}))).body
    assert body.name and wait_done(fnf, "poll", body.name).status == "Succeeded"


def test_flows_and_executions_listing(fnf):
    flow = fnf.describe_flow(fm.DescribeFlowRequest(name="poll")).body
    assert flow.name == "poll" and "StartAt: Poll" in flow.definition and flow.description
    names = [f.name for f in fnf.list_flows(fm.ListFlowsRequest(limit=100)).body.flows]
    assert {"poll", "fanout", "retry", "catch", "slow", "big", "loop"} <= set(names) and not {"broken", "undescribed"} & set(names)
    first = fnf.list_flows(fm.ListFlowsRequest(limit=2)).body
    second = fnf.list_flows(fm.ListFlowsRequest(limit=2, next_token=first.next_token)).body
    assert len(first.flows) == 2 and second.flows[0].name == first.next_token
    for i in range(3):
        start(fnf, "poll", f"list-{i}", {"key": f"list-{i}", "target": 1})
    for i in range(3):
        wait_done(fnf, "poll", f"list-{i}")
    listed = fnf.list_executions(fm.ListExecutionsRequest(flow_name="poll", execution_name_prefix="list-",
                                                          limit=2)).body
    assert [e.name for e in listed.executions] == ["list-0", "list-1"] and listed.next_token == "list-2"
    rest = fnf.list_executions(fm.ListExecutionsRequest(flow_name="poll", execution_name_prefix="list-",
                                                        next_token=listed.next_token)).body
    assert [e.name for e in rest.executions] == ["list-2"] and rest.executions[0].status == "Succeeded"


def test_paging_limits_are_the_sdk_documented_ones(fnf):
    for i in range(62):
        start(fnf, "poll", f"many-{i:02d}", {"key": f"many-{i:02d}", "target": 1})
    page = fnf.list_executions(fm.ListExecutionsRequest(flow_name="poll", execution_name_prefix="many-")).body
    assert len(page.executions) == 60 and page.next_token == "many-60"     # default 60
    assert len(fnf.list_executions(fm.ListExecutionsRequest(flow_name="poll", execution_name_prefix="many-",
                                                            limit=99)).body.executions) == 62
    e = error_of(lambda: fnf.list_executions(fm.ListExecutionsRequest(flow_name="poll", limit=100)))
    assert e.code == "InvalidArgument"                   # ListExecutions Limit 1-99
    assert fnf.list_flows(fm.ListFlowsRequest(limit=999)).body.flows
    assert error_of(lambda: fnf.list_flows(fm.ListFlowsRequest(limit=1000))).code == "InvalidArgument"
    events = fnf.get_execution_history(fm.GetExecutionHistoryRequest(flow_name="poll", execution_name="many-00",
                                                                     limit=999)).body.events
    assert events and error_of(lambda: fnf.get_execution_history(fm.GetExecutionHistoryRequest(
        flow_name="poll", execution_name="many-00", limit=1000))).code == "InvalidArgument"


def test_resume_after_restart(tmp_path):
    """A server stopped mid-Wait resumes the execution from that Wait on the same state dir."""
    def boot():
        cloud = LocalCloud(tmp_path, flows_dir=FLOWS, s_yaml=FUNCTIONS / "s.yaml", flow_wait_scale=SCALE)
        cloud.fnf.register_function("tick", tick)
        server = LocalCloudServer(cloud, port=0)
        server.start_in_thread()
        return server

    tick = Counter(lambda n, body: {"ticks": n})
    server = boot()
    fnf = make_fnf(server.endpoint)
    start(fnf, "slow", "resume-1", {"seconds": 200})  # 2 s at the test scale
    deadline = time.monotonic() + 10
    while not any(e.type == "StateEntered" and e.step_name == "Nap" for e in history(fnf, "slow", "resume-1")):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    server.stop()
    time.sleep(1.0)  # down for half of the Wait

    server = boot()
    try:
        fnf = make_fnf(server.endpoint)
        body = wait_done(fnf, "slow", "resume-1")
        assert body.status == "Succeeded", body
        assert json.loads(body.output) == {"waited": 200, "ticks": 1}
        assert tick.calls == {"resume-1": 1}  # the Task before the checkpointed Wait did not run again
        events = history(fnf, "slow", "resume-1")
        types = [e.type for e in events]
        assert types.count("ExecutionResumed") == 1 and types[-1] == "ExecutionSucceeded"
        assert [e.event_id for e in events] == list(range(1, len(events) + 1))
        # the resumed Wait only waited for what was left: about 2 s from first entering it, downtime included
        nap = [_epoch(e.time) for e in events if e.step_name == "Nap" and e.type in ("StateEntered", "StateExited")]
        assert 1.95 <= nap[-1] - nap[0] < 2.9, nap
    finally:
        server.stop()


def test_the_documented_token_buckets_refill_at_their_rates():
    from localcloud.fnf.ratelimits import RateLimits
    now = [0.0]
    limits = RateLimits(clock=lambda: now[0])

    def burst(operation: str) -> int:
        taken = 0
        while True:
            try:
                limits.take(operation)
            except Exception as err:  # noqa: BLE001
                assert err.code == "Throttling"
                return taken
            taken += 1
    assert (burst("StartExecution"), burst("DescribeExecution"), burst("GetExecutionHistory")) == (100, 50, 50)
    assert burst("StopExecution") == 10 and burst("ListExecutions") == 0      # "other operations" share one bucket
    now[0] = 1.0
    assert (burst("StartExecution"), burst("DescribeExecution"), burst("DescribeFlow")) == (100, 5, 2)


def test_calls_past_cloudflows_rate_limits_are_throttled_before_they_apply(tmp_path):
    server = LocalCloudServer(LocalCloud(tmp_path / "state", flows_dir=FLOWS, s_yaml=FUNCTIONS / "s.yaml",
                                         flow_wait_scale=SCALE), port=0)
    server.start_in_thread()
    try:
        fnf = make_fnf(server.endpoint, patient=False)
        start(fnf, "poll", "limits", {"key": "limits", "target": 1})    # StartExecution has a bucket of its own
        describe = fm.DescribeExecutionRequest(flow_name="poll", execution_name="limits")
        began, served = time.monotonic(), 0
        while served < 200:
            try:
                fnf.describe_execution(describe)
            except ClientException as e:
                assert (e.code, e.status_code) == ("Throttling", 400)
                break
            served += 1
        assert 50 <= served <= 51 + 5 * (time.monotonic() - began)     # 50 at once, then 5 a second
        time.sleep(0.25)
        assert fnf.describe_execution(describe).body.name == "limits"
    finally:
        server.stop()
