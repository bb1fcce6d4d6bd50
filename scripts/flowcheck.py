"""Static checks of the flows against the product's declared contracts:
1. every field a flow reads from its execution input is in the input the product starts it with;
2. every Task that invokes one of our functions sends only fields of that step's input (`body`), reads only fields of
   its output (`$Output.Body.X`), and every Choice compares `State` only with states a step declares
   (`STEPS` in shared/nestbackup/ports/steps/table.py).

A flow's first states see the execution input as `$Input` (until a state reshapes it), and every state may read it as
`$Context.Execution.Input`. A field read there that the start input lacks is null or an error in CloudFlow, not
a failure of the start call: so it is checked here, against the start inputs declared once in the product
(`FLOW_INPUTS` in shared/nestbackup/adapters/cloudflow.py). Used by scripts/render-flows and tests/unit.
Usage: python scripts/flowcheck.py  (exit 1 and one line per problem).
"""
from __future__ import annotations

import re
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, Iterator

import yaml

ROOT = Path(__file__).resolve().parents[1]
_FIELD = r"(?:\.([A-Za-z_][\w-]*)|\[\s*[\"'`]([^\"'`]+)[\"'`]\s*\])"
STATE_INPUT = re.compile(r"\$(?:Input|Context\.Current\.Input)" + _FIELD)
EXECUTION_INPUT = re.compile(r"\$Context\.Execution\.Input" + _FIELD)
# States whose output is their input when they have no constructors: the execution input flows on through them.
PASS_THROUGH = ("Choice", "Pass", "Wait")


def _expressions(value: Any, key: str = "") -> Iterator[str]:
    """The expressions in a constructor or Parameters: the values of keys ending in `.$`."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _expressions(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _expressions(v, key)
    elif key.endswith(".$") and isinstance(value, str):
        yield value


def _names(pattern: re.Pattern, texts: Iterator[str]) -> set[str]:
    return {a or b for text in texts for a, b in pattern.findall(text)}


def _state_expressions(state: dict, with_input_constructor: bool) -> Iterator[str]:
    """Every expression of a state (not of its nested states) that reads the state's own input."""
    if with_input_constructor:
        yield from _expressions(state.get("InputConstructor"))
    for key in ("Parameters", "OutputConstructor"):
        yield from _expressions(state.get(key))
    for rule in state.get("Catch") or []:
        yield from _expressions(rule.get("OutputConstructor"))
    for branch in state.get("Branches") or []:
        if isinstance(branch, dict) and "Condition" in branch:
            yield branch["Condition"]
    for key in ("Seconds.$", "ItemsPath"):
        if isinstance(state.get(key), str):
            yield state[key]


def _all_expressions(scope: dict) -> Iterator[str]:
    for state in scope.get("States") or []:
        yield from _state_expressions(state, True)
        for branch in state.get("Branches") or []:
            if isinstance(branch, dict) and "States" in branch:
                yield from _all_expressions(branch)
        if isinstance(state.get("Processor"), dict):
            yield from _all_expressions(state["Processor"])


def _reads_of_start(scope: dict) -> set[str]:
    """`$Input` fields read by the states of `scope` that receive the scope's input unchanged."""
    states = {s.get("Name"): s for s in scope.get("States") or []}
    reads: set[str] = set()
    todo, seen = [scope.get("StartAt")], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        state = states[name]
        if "InputConstructor" in state:       # reshapes the input: only its constructor sees the original
            reads |= _names(STATE_INPUT, _expressions(state["InputConstructor"]))
            continue
        reads |= _names(STATE_INPUT, _state_expressions(state, False))
        for branch in state.get("Branches") or []:
            if isinstance(branch, dict) and "States" in branch:      # Parallel: each branch gets the input
                reads |= _reads_of_start(branch)
        if state.get("Type") in PASS_THROUGH and "OutputConstructor" not in state:
            todo += [state.get("Next"), state.get("Default")]
            todo += [b.get("Next") for b in state.get("Branches") or [] if isinstance(b, dict)]
    return reads


def execution_input_reads(definition: dict) -> set[str]:
    """The fields of the execution input a flow definition reads."""
    return _reads_of_start(definition) | _names(EXECUTION_INPUT, _all_expressions(definition))


def check(flows_dir: Path = ROOT / "flows", inputs: tuple | None = None) -> list[str]:
    """One line per problem: a flow without a declared start input, or reading a field its start input lacks."""
    if inputs is None:
        sys.path.insert(0, str(ROOT / "shared"))
        from nestbackup.ports.flows import FLOW_INPUTS
        inputs = FLOW_INPUTS
    declared = {cls.DEFINITION: cls for cls in inputs}
    problems = []
    for path in sorted(Path(flows_dir).glob("*.yaml")):
        definition = yaml.safe_load(path.read_text())
        name = definition.get("Name")
        cls = declared.get(name)
        if cls is None:
            problems.append(f"{path.name}: flow {name!r} has no declared start input")
            continue
        missing = execution_input_reads(definition) - {f.name for f in fields(cls)}
        if missing:
            problems.append(f"{path.name}: reads {', '.join(sorted(missing))} from the execution input, which "
                            f"{cls.__name__} does not start it with")
    return problems


FUNCTION_ARN = re.compile(r"functions/([\w-]+)/")
OUTPUT_BODY = re.compile(r"\$Output\.Body" + _FIELD)
STATE_COMPARISON = re.compile(r"\$Input\.State\s*==\s*[\"']([^\"']+)[\"']")


def _tasks(scope: dict) -> Iterator[dict]:
    for state in scope.get("States") or []:
        yield state
        for branch in state.get("Branches") or []:
            if isinstance(branch, dict) and "States" in branch:
                yield from _tasks(branch)
        if isinstance(state.get("Processor"), dict):
            yield from _tasks(state["Processor"])


def check_steps(flows_dir: Path = ROOT / "flows", steps: dict | None = None) -> list[str]:
    """One line per problem: a Task invoking an undeclared function, a body field the step does not take, an output
    field it does not give, or a State compared with a value no step routes on."""
    if steps is None:
        sys.path.insert(0, str(ROOT / "shared"))
        from nestbackup.ports.steps.table import STEPS
        steps = STEPS
    problems = []
    for path in sorted(Path(flows_dir).glob("*.yaml")):
        definition = yaml.safe_load(path.read_text())
        states: set[str] = set()
        compared: set[str] = set()
        for state in _tasks(definition):
            for branch in state.get("Branches") or []:
                if isinstance(branch, dict) and isinstance(branch.get("Condition"), str):
                    compared.update(STATE_COMPARISON.findall(branch["Condition"]))
            arn = str((state.get("Parameters") or {}).get("resourceArn") or "")
            match = FUNCTION_ARN.search(arn)
            if state.get("Type") != "Task" or not match:
                continue
            function, name = match.group(1), state.get("Name")
            body = state["Parameters"].get("body") or {}
            step = body.get("Step")
            if function not in steps or step not in steps[function]:
                problems.append(f"{path.name}: {name} invokes {function} step {step!r}, which declares no step "
                                f"contract")
                continue
            step_in, step_out = steps[function][step]
            sent = {key.removesuffix(".$") for key in body if key != "Step"}
            extra = sent - {f.name for f in fields(step_in)}
            if extra:
                problems.append(f"{path.name}: {name} sends {', '.join(sorted(extra))}, which {step_in.__name__} "
                                f"does not take")
            read = _names(OUTPUT_BODY, _expressions(state.get("OutputConstructor")))
            unknown = read - {f.name for f in fields(step_out)}
            if unknown:
                problems.append(f"{path.name}: {name} reads {', '.join(sorted(unknown))} from the output, which "
                                f"{step_out.__name__} does not give")
            if getattr(step_out, "STATES", None):
                states |= {str(s) for s in step_out.STATES}
        for value in sorted(compared - states):
            problems.append(f"{path.name}: a Choice compares State with {value!r}, which no step routes on")
    return problems


if __name__ == "__main__":
    found = check() + check_steps()
    for line in found:
        print(f"flowcheck: {line}", file=sys.stderr)
    sys.exit(1 if found else 0)
