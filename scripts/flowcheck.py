"""Static check: every field a flow reads from its execution input is in the input the product starts it with.

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


if __name__ == "__main__":
    found = check()
    for line in found:
        print(f"flowcheck: {line}", file=sys.stderr)
    sys.exit(1 if found else 0)
