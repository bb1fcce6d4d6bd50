"""The flows' part in the operation tests: the real flow files (flows/*.yaml) run by the local CloudFlow interpreter
(localcloud/fnf), whose FC tasks call the real handlers (functions/*/index.py) on the in-memory ports, synchronously
(a play returns once the flows ended) and in virtual time (a Wait state or a retry's delay does not sleep). A change
to a flow or a handler shows in the fast tests.

Each handler module is loaded afresh per player with its `wiring` (nestbackup.handlers.wiring, which builds the real
adapters) rebound to the in-memory ports. An execution started meanwhile (a restore's safety backup, a backup's
next generation) runs when the running one waits, or after it ends, as CloudFlow would run it beside it."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from localcloud.fnf.errors import Cancelled, StateError
from localcloud.fnf.flowfiles import FlowFiles
from localcloud.fnf.functions import Functions
from localcloud.fnf.interpreter import Interpreter
from nestbackup.operations.backup import create_backup, get_backup
from nestbackup.ports import Ports

ROOT = Path(__file__).resolve().parents[2]
CATALOG = FlowFiles(ROOT / "flows")           # a test may point this at changed copies of the flows
FUNCTIONS = ROOT / "functions"
MAX_TRANSITIONS = 5000                        # per play: a flow that never ends fails the test instead of hanging


class FlowPlayer:
    """The interpreter's hooks for the executions of one in-memory `Ports` (w.flows records them). `strict`: a flow
    that fails other than through its Fail states fails the test; otherwise it is noted in `failures` (the fault
    matrix checks what such a failure leaves behind)."""

    strict = True

    def __init__(self, w: Ports, on_phase=None) -> None:
        self.w = w
        self.on_phase = on_phase
        self.transitions = 0
        self.events: list[tuple[str, str, dict]] = []
        self.running: list[tuple[str, str]] = []
        self.failures: list[str] = []
        self.functions = Functions(w.settings.region, {"ak": "sk"})
        for code in FUNCTIONS.iterdir():
            self.functions.register(code.name, _handler_on(code / "index.py", w))

    # -- running executions
    def play(self, flow: str, name: str) -> dict:
        """Run execution `name` of `flow`, then whatever it started; its output, or {"Error": ...} if it failed."""
        ended = self._run(flow, name)
        self.play_started()
        return ended

    def play_started(self) -> None:
        """Run every execution started and not yet played (a restore's safety backup, a backup's next generation)."""
        while started := [key for key, execution in self._executions().items()
                          if execution["status"] == "Running" and not execution.get("played")]:
            for flow, name in started:
                self._run(flow, name)

    def _run(self, flow: str, name: str) -> dict:
        execution = self._executions().get((flow, name))
        assert execution is not None, f"no execution {name} of {flow} was started"
        execution["played"] = True
        definition = _definition(flow)
        self.running.append((flow, name))
        try:
            output = Interpreter(definition, self, name, execution["input"]).run()
            execution["status"] = "Succeeded"
            return output
        except Cancelled:
            return {"Error": {"Code": "Stopped", "Detail": f"{name} was stopped"}}
        except StateError as err:
            execution["status"] = "Failed"
            # A flow fails on purpose only through its Fail states (after its Catch closed the record); any other
            # error (a Wait out of range, a state over 64 KiB, ...) is a flow or handler bug.
            if err.code not in _fail_codes(definition):
                assert not self.strict, f"{name} of {flow} failed: {err.code}: {err.detail}"
                self.failures.append(f"{name} of {flow} failed: {err.code}: {err.detail}")
            return {"Error": {"Code": err.code, "Detail": err.detail}}
        finally:
            self.running.pop()

    def _executions(self) -> dict[tuple[str, str], dict]:
        return self.w.flows.executions

    # -- the interpreter's hooks (localcloud.fnf.interpreter.Hooks)
    def invoke(self, arn, body, state):
        result = self.functions.invoke(arn, body)
        if state == "Advance" and self.on_phase:
            self.on_phase(self.w)
        return result

    def emit(self, type, step, detail):
        self.events.append((type, step, detail))

    def checkpoint(self, state, state_input, wait_until=None):
        pass

    def sleep(self, seconds, state, top, until=None):
        """Virtual time: no sleep; while an execution waits, the ones it started run (CloudFlow runs them beside)."""
        if top:
            self.play_started()

    def transition(self, state):
        self.transitions += 1
        assert self.transitions <= MAX_TRANSITIONS, f"{self.running} still running after {MAX_TRANSITIONS} transitions"

    def cancelled(self):
        flow, name = self.running[-1]
        return self._executions()[(flow, name)]["status"] == "Stopped"


def _definition(flow: str):
    for file in CATALOG.files():
        if file.name == flow:
            assert file.flow is not None, file.error
            return file.flow
    raise AssertionError(f"no flow {flow} in {CATALOG.directory}")


def _fail_codes(definition) -> set[str]:
    return {state.spec.get("Code") for state in definition.root.states.values() if state.type == "Fail"}


def _handler_on(path: Path, w: Ports):
    """The handler of `path`, loaded on its first call as a module of its own whose `wiring(context)` answers the
    in-memory ports."""
    loaded = []

    def handler(event, context):
        if not loaded:
            spec = importlib.util.spec_from_file_location(f"flowplay_{path.parent.name.replace('-', '_')}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.wiring = lambda context=None: w
            loaded.append(module.handler)
        return loaded[0](event, context)
    return handler


def play_backup(w: Ports, backup_id: str) -> dict:
    """Run the backup's flow (and its next generations) to its end; the backup as the API shows it then."""
    FlowPlayer(w).play(w.settings.backup_flow, backup_id)
    return get_backup(w, backup_id)


def play_restore(w: Ports, restore_id: str, on_phase=None) -> dict:
    """Run the restore's flow (and the safety backup it starts) to its end: the flow's output ({"State": "Done", ..})
    or {"Error": {"Code", "Detail"}} when it failed. `on_phase(w)` is called after every Advance step."""
    return FlowPlayer(w, on_phase).play(w.settings.restore_flow, restore_id)


def play_drill(w: Ports, drill_id: str) -> dict:
    """Run the drill's flow to its end: the flow's output, or {"Error": {...}} when it failed."""
    return FlowPlayer(w).play(w.settings.drill_flow, drill_id)


DBS = {"PostgreSQL": {"app": {"t": [1, 2, 3]}}}


def backed_up(w, databases=DBS, **seed) -> tuple[dict, str]:
    """A service instance seeded as asked (disks, and a PostgreSQL database by default) and a Created backup of it."""
    seeded = w.seed("si-1", databases=databases, **seed)
    backup_id = create_backup(w, "si-1")["BackupId"]
    assert play_backup(w, backup_id)["Status"] == "Created"
    return seeded, backup_id
