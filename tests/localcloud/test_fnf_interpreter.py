"""The CloudFlow interpreter without a server: definition validation, expressions, data flow."""
from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from localcloud.fnf.definition import FlowDefinitionError, load_flow
from localcloud.fnf.errors import EXPRESSION_ERROR, StateError
from localcloud.fnf.expressions import ExpressionError, MissingField, compile_expression
from localcloud.fnf.interpreter import Interpreter

HEAD = "Type: StateMachine\nName: t\nSpecVersion: v1\n"


def flow(body: str, name: str | None = None):
    return load_flow(HEAD + textwrap.dedent(body), expected_name=name)


def invalid(body: str, name: str | None = None) -> str:
    with pytest.raises(FlowDefinitionError) as info:
        flow(body, name)
    return str(info.value)


class Hooks:
    def __init__(self, functions=None):
        self.functions = functions or {}
        self.events: list[tuple[str, str, dict]] = []
        self.transitions: list[str] = []
        self.slept: list[float] = []

    def invoke(self, arn, body, state):
        name = arn.split("functions/")[1].split("/")[0]
        if name not in self.functions:
            raise StateError("FC.FunctionNotFound", name)
        return self.functions[name](body)

    def emit(self, type, step, detail):
        self.events.append((type, step, detail))

    def checkpoint(self, state, state_input, wait_until=None):
        pass

    def sleep(self, seconds, state, top, until=None):
        self.slept.append(seconds)

    def transition(self, state):
        self.transitions.append(state)

    def cancelled(self):
        return False


def run(f, data, **functions):
    hooks = Hooks(functions)
    return Interpreter(f, hooks, "exec", data).run(), hooks


# -- validation


def test_validation_messages():
    assert "Next 'Nope' names no state" in invalid("""
        StartAt: A
        States:
          - {Type: Pass, Name: A, Next: Nope}
        """)
    assert "Default is required in a Choice state" in invalid("""
        StartAt: C
        States:
          - Type: Choice
            Name: C
            Branches: [{Condition: '$Input.a == 1', Next: C}]
        """)
    assert "duplicate state name 'A'" in invalid("""
        StartAt: A
        States:
          - {Type: Pass, Name: A, Next: A}
          - {Type: Pass, Name: A, End: true}
        """)
    assert "must equal the flow name 'other'" in invalid("""
        StartAt: A
        States:
          - {Type: Pass, Name: A, End: true}
        """, name="other")
    assert "StartAt 'B' names no state" in invalid("""
        StartAt: B
        States:
          - {Type: Pass, Name: A, End: true}
        """)
    assert "Seconds must be an integer from 1 to 300" in invalid("""
        StartAt: W
        States:
          - {Type: Wait, Name: W, Seconds: 301, End: true}
        """)
    assert "needs Next or End" in invalid("""
        StartAt: A
        States:
          - {Type: Pass, Name: A}
        """)
    assert "$Output is only available in OutputConstructor" in invalid("""
        StartAt: A
        States:
          - Type: Pass
            Name: A
            InputConstructor: {x.$: $Output.Body}
            End: true
        """)
    assert "unknown function or bare word 'nosuch'" in invalid("""
        StartAt: A
        States:
          - Type: Pass
            Name: A
            OutputConstructor: {x.$: nosuch($Input)}
            End: true
        """)
    assert "only FC:InvokeFunction" in invalid("""
        StartAt: T
        States:
          - {Type: Task, Name: T, Action: 'ECS:DescribeInstances', Parameters: {}, End: true}
        """)
    # a branch's states are their own scope: Next cannot leave it
    with pytest.raises(FlowDefinitionError, match=r"Branches\[0\]: .*Next 'After' names no state"):
        flow("""
        StartAt: P
        States:
          - Type: Parallel
            Name: P
            Branches:
              - StartAt: X
                States:
                  - {Type: Pass, Name: X, Next: After}
            Next: After
          - {Type: Pass, Name: After, End: true}
        """)
    assert "Detail is required" in invalid("""
        StartAt: F
        States:
          - {Type: Fail, Name: F, Code: X}
        """)


# -- expressions


# -- CloudFlow's documented definition rules (error-handling page; inline Map page), each refused as CloudFlow does

TASK = """
    StartAt: T
    States:
      - Type: Task
        Name: T
        Action: FC:InvokeFunction
        Parameters: {resourceArn: 'acs:fc:r:1:functions/f', invocationType: Sync}
        Retry: [%s]
        Catch: [%s]
        End: true
      - {Type: Pass, Name: Caught, End: true}
    """
RETRY = "Errors: [FnF.ALL], Description: again, MaxAttempts: 3, IntervalSeconds: 2"
CATCH = "Errors: [FnF.ALL], Description: give up, Next: Caught"


def handlers(retry: str = RETRY, catch: str = CATCH) -> str:
    return TASK % ("{" + retry + "}", "{" + catch + "}")


def test_a_conforming_retry_and_catch_load():
    assert flow(handlers()).root.states["T"].spec["Retry"][0]["Description"] == "again"
    flow(handlers(retry=RETRY + ", BackoffRate: 1.5, MaxBackoffSeconds: 86400"))


@pytest.mark.parametrize("retry, message", [
    ("Errors: [FnF.ALL], MaxAttempts: 3, IntervalSeconds: 2", "Retry[0]: Description is required"),
    ("Errors: [FnF.ALL], Description: '', MaxAttempts: 3, IntervalSeconds: 2", "Retry[0]: Description is required"),
    ("Description: x, MaxAttempts: 3, IntervalSeconds: 2", "Retry[0]: Errors must be a non-empty list"),
    ("Errors: [FnF.ALL], Description: x, IntervalSeconds: 2", "Retry[0]: MaxAttempts is required"),
    ("Errors: [FnF.ALL], Description: x, MaxAttempts: 3", "Retry[0]: IntervalSeconds is required"),
    (RETRY.replace("MaxAttempts: 3", "MaxAttempts: 2.5"), "Retry[0]: MaxAttempts must be a non-negative integer"),
    (RETRY.replace("IntervalSeconds: 2", "IntervalSeconds: 0.5"),
     "Retry[0]: IntervalSeconds must be a non-negative integer"),
    (RETRY.replace("IntervalSeconds: 2", "IntervalSeconds: 86401"), "IntervalSeconds and MaxBackoffSeconds are at most"),
    (RETRY + ", MaxBackoffSeconds: 86401", "IntervalSeconds and MaxBackoffSeconds are at most"),
])
def test_a_retry_rule_breaking_the_documented_rules_is_refused(retry, message):
    assert message in invalid(handlers(retry=retry))


@pytest.mark.parametrize("catch, message", [
    ("Errors: [FnF.ALL], Next: Caught", "Catch[0]: Description is required"),
    ("Description: x, Next: Caught", "Catch[0]: Errors must be a non-empty list"),
    ("Errors: [FnF.ALL], Description: x", "Catch[0]: Next is required"),
])
def test_a_catch_rule_breaking_the_documented_rules_is_refused(catch, message):
    assert message in invalid(handlers(catch=catch))


MAP = """
    StartAt: M
    States:
      - Type: Map
        Name: M
        ItemsPath: $Input.items
        %s: %s
        Processor:
          StartAt: I
          States: [{Type: Pass, Name: I, End: true}]
        End: true
    """


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "flows").glob("*.yaml")), ids=lambda p: p.name)
def test_the_product_flows_keep_the_documented_rules(path):
    load_flow(path.read_text())  # a deployment following our docs must not be refused by CloudFlow


@pytest.mark.parametrize("key", ["MaxConcuccency", "MaxConcurrency"])
def test_an_inline_map_runs_at_most_40_iterations_at_once(key):
    flow(MAP % (key, 40))
    assert f"{key} must be an integer from 0 to 40" in invalid(MAP % (key, 41))
    assert f"{key} must be an integer from 0 to 40" in invalid(MAP % (key, "'5'"))



@pytest.mark.parametrize("text,expected", [
    ('$Input.a.b[1]', 2),
    ('$Input.s == "done" && ($Input.n >= 3 || false)', True),
    ("$Input.s != `done`", False),
    ('format("{}-{}", $Input.s, $Input.n)', "done-3"),
    ("length($Input.a.b)", 2),
    ("jsonMerge($Input.a, $Input.c)", {"b": [1, 2], "d": 1}),
    ("toArray($Input.n)", [3]),
    ("arrayContains($Input.a.b, 2)", True),
    ('stringToJson("{\\"k\\": 1}").k', 1),
    ("intAdd($Input.n, 4)", 7),
    ('get($Input.c, "d")', 1),
    ('get($Input, "missing") == null', True),
    ('get($Input.a.b, 5, "none")', "none"),
    ("$Context.Execution.Name", "exec"),
    ("length(uuid())", 36),
    ("$Input.n > 2.5 && !($Input.n > 10)", True),
])
def test_expressions(text, expected):
    env = {"Input": {"a": {"b": [1, 2]}, "s": "done", "n": 3, "c": {"d": 1}},
           "Context": {"Execution": {"Name": "exec"}}, "Global": {}}
    assert compile_expression(text).evaluate(env) == expected


@pytest.mark.parametrize("text", ["$Input.missing == null", "$Input.a.b[2]", "$Input.c.d.e", "$Input.x.y"])
def test_reading_a_field_that_is_not_there_is_an_error(text):
    env = {"Input": {"a": {"b": [1, 2]}, "c": {"d": None}}, "Context": {}, "Global": {}}
    with pytest.raises(MissingField):
        compile_expression(text).evaluate(env)


def test_a_state_reading_a_missing_input_field_fails_with_the_expression_error():
    f = flow("""
        StartAt: T
        States:
          - Type: Task
            Name: T
            Action: FC:InvokeFunction
            Parameters:
              resourceArn: acs:fc:cn-hangzhou:1:functions/echo/LATEST
              invocationType: Sync
              body: {id.$: $Input.RestoreId, round.$: $Input.Round}
            Catch: [{Errors: [FnF.ALL], Description: to Caught, Next: Caught}]
            End: true
          - {Type: Pass, Name: Caught, End: true}
        """)
    out, hooks = run(f, {"RestoreId": "r-1"}, echo=lambda body: body)
    assert out["Error"] == EXPRESSION_ERROR and "'Round' does not exist" in out["Cause"]
    assert "TaskSubmitted" not in [t for t, s, d in hooks.events]      # the function was never called
    out, _ = run(f, {"RestoreId": "r-1", "Round": 0}, echo=lambda body: body)
    assert out == {"Body": {"id": "r-1", "round": 0}}


@pytest.mark.parametrize("text", ["$Input.", "1 ==", "$Nope.a", "f(1)", "length()", "(1"])
def test_bad_expressions(text):
    with pytest.raises(ExpressionError):
        compile_expression(text)


# -- data flow


def test_task_output_body_and_constructors():
    f = flow("""
        StartAt: T
        States:
          - Type: Task
            Name: T
            Action: FC:InvokeFunction
            InputConstructor: {id.$: $Input.op, fixed: 1}
            Parameters:
              resourceArn: acs:fc:cn-hangzhou:1:functions/echo/LATEST
              invocationType: Sync
              body: {id.$: $Input.id, nested: {lit: "$Input.id", arr: [{v.$: $Input.fixed}]}}
            Next: P
          - Type: Pass
            Name: P
            End: true
        """)
    out, hooks = run(f, {"op": "o1"}, echo=lambda body: body)
    assert out == {"Body": {"id": "o1", "nested": {"lit": "$Input.id", "arr": [{"v": 1}]}}}
    assert hooks.transitions == ["T", "P"]


def test_fail_code_and_wait_seconds_expression():
    f = flow("""
        StartAt: W
        States:
          - {Type: Wait, Name: W, 'Seconds.$': $Input.s, Next: F}
          - {Type: Fail, Name: F, Code: My.Error, Detail: it broke}
        """)
    with pytest.raises(StateError) as info:
        run(f, {"s": 7})
    assert (info.value.code, info.value.detail) == ("My.Error", "it broke")
    with pytest.raises(StateError) as info:
        run(f, {"s": 400})
    assert info.value.code == "FnF.InvalidInput"


def test_retry_rules_first_match_and_backoff_cap():
    calls = []

    def flaky(body):
        calls.append(1)
        raise StateError("FC.ResourceThrottled", "slow down")

    f = flow("""
        StartAt: T
        States:
          - Type: Task
            Name: T
            Action: FC:InvokeFunction
            Parameters: {resourceArn: 'acs:fc:r:1:functions/flaky', invocationType: Sync}
            Retry:
              - {Errors: [FC.ResourceThrottled], Description: throttled, MaxAttempts: 4, IntervalSeconds: 2,
                 BackoffRate: 3, MaxBackoffSeconds: 10}
              - {Errors: [FnF.ALL], Description: the rest, MaxAttempts: 9, IntervalSeconds: 1}
            End: true
        """)
    hooks = Hooks({"flaky": flaky})
    with pytest.raises(StateError) as info:
        Interpreter(f, hooks, "e", {}).run()
    assert info.value.code == "FC.ResourceThrottled"
    assert len(calls) == 5 and hooks.slept == [2, 6, 10, 10]
    assert hooks.transitions == ["T"]  # retries are not transitions


def test_map_requires_object_items_and_parallel_failure_is_caught():
    f = flow("""
        StartAt: P
        States:
          - Type: Parallel
            Name: P
            Branches:
              - StartAt: Ok
                States: [{Type: Pass, Name: Ok, End: true}]
              - StartAt: Bad
                States: [{Type: Fail, Name: Bad, Code: Branch.Failed, Detail: no}]
            Catch:
              - Errors: [Branch.Failed]
                Description: on to the Map
                OutputConstructor: {code.$: $Context.Current.Error.Code, items.$: $Input.items}
                Next: M
            Next: M
          - Type: Map
            Name: M
            ItemsPath: $Input.items
            Processor:
              StartAt: I
              States: [{Type: Pass, Name: I, End: true}]
            End: true
        """)
    with pytest.raises(StateError) as info:
        run(f, {"items": [1, 2]})
    assert info.value.code == "FnF.InvalidInput" and "item 0" in info.value.detail
    out, hooks = run(f, {"items": [{"a": 1}]})
    assert out == {"Items": [{"a": 1}]}
    caught = [d for t, s, d in hooks.events if t == "StateCaught"]
    assert caught[0]["output"] == {"code": "Branch.Failed", "items": [{"a": 1}]}


def test_parallel_branches_run_concurrently():
    import threading
    barrier = threading.Barrier(3, timeout=5)

    def meet(body):
        barrier.wait()
        return {"ok": body["i"]}

    f = flow("""
        StartAt: M
        States:
          - Type: Map
            Name: M
            ItemsPath: $Input.items
            MaxConcurrency: 3
            Processor:
              StartAt: T
              States:
                - Type: Task
                  Name: T
                  Action: FC:InvokeFunction
                  Parameters: {resourceArn: 'acs:fc:r:1:functions/meet', invocationType: Sync, body: {i.$: $Input.i}}
                  OutputConstructor: {i.$: $Output.Body.ok}
                  End: true
            End: true
        """)
    t0 = time.monotonic()
    out, _ = run(f, {"items": [{"i": 0}, {"i": 1}, {"i": 2}]}, meet=meet)
    assert out == {"Items": [{"i": 0}, {"i": 1}, {"i": 2}]} and time.monotonic() - t0 < 5
