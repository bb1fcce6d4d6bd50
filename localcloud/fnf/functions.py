"""Function Compute handlers run in-process, for `FC:InvokeFunction` tasks, HTTP triggers and the FC API.

A task's `resourceArn` `acs:fc:<region>:<account>:functions/<name>[/<qualifier>]` names function `<name>`. It is,
in this order, a callable registered with `register(name, fn)` or a function deployed from s.yaml with
`deploy(spec)` (localcloud/fc: `<code>/<file>.py` exposing `<function>` of handler `<file>.<function>`). The
module is imported once (a unique module name per function; its directory is on sys.path while it is imported, so
sibling modules import, but are shared by name across functions).

The call mirrors FC 3.0's Python runtime: `event` is `json.dumps(body).encode()` (a string body is sent as is),
`context` carries `request_id`, `function` (name, handler, memory, timeout, qualifier, version_id), `credentials`
(access_key_id, access_key_secret, security_token: the temporary credentials of the function's s.yaml
role when the local cloud enforces RAM (localcloud/core/ram.py), else the local cloud's first key pair), `service`
(FC2 legacy fields), `region`, `account_id`. Functions share the server's process, so its environment is theirs:
the local cloud sets the variables FC sets (ALIBABA_CLOUD_ACCESS_KEY_ID, ...) and the deployed functions'
environment there once it knows its endpoint (`LocalCloud.bind`). A task without
`body` sends `{}` (what CloudFlow sends then is UNCONFIRMED). The result: JSON data as is, str/bytes parsed as
JSON (`to_json`); the Task then requires an object.

Timeouts: a deployed function runs at most its s.yaml `timeout` seconds (`call`), whoever invokes it (a CloudFlow
task, the FC API, its HTTP or timer trigger). Past it FC ends the invocation with the error "Function time out
after ..." [doc: https://www.alibabacloud.com/help/en/fc/support/how-to-handle-an-execution-timeout-error: "Function
Compute terminates the execution and returns the following error: Function time out after"]; here `call` raises
`FunctionTimedOut` with `timed_out_message` (the words after "after" are UNCONFIRMED), which each caller answers as
it answers an unhandled error (a CloudFlow task: `FC_UNHANDLED`, so a flow's Retry/Catch on `FnF.ALL` apply).
FC stops the instance; Python cannot kill a thread, so the handler's thread is stopped as closely as it can be:
`InvocationStopped` (a BaseException, so no `except Exception` swallows it) is raised in it at its next bytecode,
and from then on every HTTP request and new connection it makes is refused (an audit hook on `http.client.send`
and `socket.connect`, installed at the first timeout), so a write it had not sent by its timeout never lands. Left
as it is: a call blocked in C (a socket read, a database driver) returns first, and `finally` blocks run, though
what they send is refused too. Registered callables (`register`) have no s.yaml timeout.
"""
from __future__ import annotations

import contextvars
import ctypes
import importlib.util
import json
import logging
import sys
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from .definition import parse_arn
from .errors import FC_UNHANDLED, StateError


@dataclass
class FcFunction:
    name: str
    handler: str = "index.handler"
    memory: int = 512
    timeout: int = 60
    qualifier: str = "LATEST"
    version_id: str = ""


@dataclass
class FcCredentials:
    access_key_id: str
    access_key_secret: str
    security_token: str = ""


@dataclass
class FcService:
    name: str = ""
    log_project: str = ""
    log_store: str = ""
    qualifier: str = "LATEST"
    version_id: str = ""


@dataclass
class FcContext:
    request_id: str
    function: FcFunction
    credentials: FcCredentials
    service: FcService
    region: str
    account_id: str
    tracing: Any = None
    logger: logging.Logger | None = None


def timed_out_message(seconds: float) -> str:
    return f"Function time out after {seconds:g} seconds"


class FunctionTimedOut(Exception):
    """The invocation ran past the function's timeout (FC ends it with an error)."""

    def __init__(self, name: str, seconds: float) -> None:
        super().__init__(timed_out_message(seconds))
        self.name, self.seconds = name, seconds


class InvocationStopped(BaseException):
    """Raised in the thread of an invocation that ran past its timeout: FC has stopped it."""


_STOPPED: set[int] = set()         # threads of invocations past their timeout
_AUDITED = ("http.client.send", "socket.connect")
_hook_lock = threading.Lock()
_hooked = False


def _refuse_stopped(event: str, _args: tuple) -> None:
    if event in _AUDITED and threading.get_ident() in _STOPPED:
        raise InvocationStopped(f"{event} after the invocation's timeout")


def _stop(thread: threading.Thread, outcome: dict[str, Any]) -> bool:
    """Stop an invocation's thread as FC stops the instance (see the module's docstring), unless it has just ended
    (`outcome["done"]`, set under the same lock: a thread id is reused once its thread ends)."""
    global _hooked
    with _hook_lock:
        if not _hooked:
            sys.addaudithook(_refuse_stopped)
            _hooked = True
        if outcome.get("done") or thread.ident is None:
            return False
        _STOPPED.add(thread.ident)
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(InvocationStopped))
        return True


def _ended(outcome: dict[str, Any]) -> None:
    with _hook_lock:
        outcome["done"] = True
        _STOPPED.discard(threading.get_ident())


def to_json(result: Any) -> Any:
    """The function's return value as JSON: str/bytes are parsed, other values must already be JSON data."""
    if isinstance(result, (bytes, bytearray)):
        result = bytes(result).decode("utf-8")
    if isinstance(result, str):
        try:
            return json.loads(result)
        except ValueError:
            raise StateError("FnF.InvalidOutput", f"the function returned a string that is not JSON: "
                                                  f"{result[:200]!r}") from None
    try:
        json.dumps(result)
    except (TypeError, ValueError) as err:
        raise StateError("FnF.InvalidOutput", f"the function returned a value that is not JSON: {err}") from None
    return result


class Functions:
    def __init__(self, region: str, credentials: dict[str, str], account_id: str = "1234567890123456", ram=None):
        self.region = region
        self.credentials = credentials
        self.ram = ram
        self.account_id = account_id
        self._registry: dict[str, Callable] = {}
        self._modules: dict[str, Callable] = {}
        self.deployed: dict[str, Any] = {}       # name -> localcloud.fc.syaml.FunctionSpec
        self._lock = threading.Lock()

    def deploy(self, spec) -> None:
        """Serve function `spec.name` from its code directory (imported on first call)."""
        with self._lock:
            self.deployed[spec.name] = spec
            self._modules.pop(spec.name, None)

    def register(self, name: str, fn: Callable[[bytes, Any], Any]) -> None:
        self._registry[name] = fn

    def unregister(self, name: str) -> None:
        self._registry.pop(name, None)

    def handler(self, name: str) -> Callable | None:
        """The callable serving function `name`, imported on first use; None if there is none."""
        if name in self._registry:
            return self._registry[name]
        with self._lock:
            if name in self._modules:
                return self._modules[name]
            spec = self.deployed.get(name)
            if spec is None:
                return None
            file_name, function_name = spec.handler.rsplit(".", 1)
            path = spec.code_dir / f"{file_name}.py"
            module_name = f"localcloud_fc_{name.replace('-', '_')}_{abs(hash(str(path.resolve()))):x}"
            spec_ = importlib.util.spec_from_file_location(module_name, path)
            module = importlib.util.module_from_spec(spec_)
            sys.path.insert(0, str(path.parent))
            try:
                sys.modules[module_name] = module
                spec_.loader.exec_module(module)
            except BaseException as err:
                sys.modules.pop(module_name, None)
                raise StateError(FC_UNHANDLED, f"importing {path} failed: {type(err).__name__}: {err}") from None
            finally:
                try:
                    sys.path.remove(str(path.parent))
                except ValueError:
                    pass
            handler = getattr(module, function_name, None)
            if not callable(handler):
                raise StateError("FC.FunctionNotFound", f"{path} defines no {function_name}(event, context)")
            self._modules[name] = handler
            return handler

    def timeout(self, name: str) -> float | None:
        """Seconds an invocation of `name` may run: its s.yaml timeout; None for a registered callable."""
        if name in self._registry:
            return None
        spec = self.deployed.get(name)
        return None if spec is None else float(spec.timeout)

    def call(self, name: str, event: bytes, context: FcContext) -> Any:
        """Run the handler of `name` on `event` within its timeout: its result, its exception, or FunctionTimedOut."""
        handler = self.handler(name)
        if handler is None:
            raise StateError("FC.FunctionNotFound", f"function {name!r} does not exist (not deployed from s.yaml)")
        seconds = self.timeout(name)
        if seconds is None:
            return handler(event, context)
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = handler(event, context)
            except InvocationStopped:
                pass
            except BaseException as err:  # noqa: BLE001 - handed to the caller's thread as is
                outcome["error"] = err
            finally:
                while True:           # the stop may land here too: it is raised once
                    try:
                        _ended(outcome)
                        break
                    except InvocationStopped:
                        continue
        thread = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True,
                                  name=f"localcloud-fc-{name}-{context.request_id[:8]}")
        thread.start()
        thread.join(seconds)
        if thread.is_alive() and _stop(thread, outcome):
            raise FunctionTimedOut(name, seconds)
        if "error" in outcome:
            raise outcome["error"]
        return outcome.get("result")

    def context(self, name: str, qualifier: str = "LATEST", request_id: str | None = None) -> FcContext:
        spec = self.deployed.get(name)
        credentials = self._credentials(spec)
        function = FcFunction(name=name, qualifier=qualifier) if spec is None else FcFunction(
            name=name, handler=spec.handler, memory=spec.memory_size, timeout=spec.timeout, qualifier=qualifier)
        return FcContext(
            request_id=request_id or str(uuid.uuid4()),
            function=function,
            credentials=credentials,
            service=FcService(qualifier=qualifier),
            region=self.region, account_id=self.account_id, logger=logging.getLogger(f"localcloud.fc.{name}"))

    def _credentials(self, spec) -> FcCredentials:
        """FC passes the function's role's STS credentials; with RAM enforced, a function without a role gets none
        that can call anything."""
        if self.ram is not None and self.ram.enforcing:
            role = self.ram.credentials_of(getattr(spec, "role", "") or "")
            if role is None:
                return FcCredentials(access_key_id="", access_key_secret="")
            return FcCredentials(role.access_key_id, role.access_key_secret, role.security_token)
        key_id, secret = next(iter(self.credentials.items()))
        return FcCredentials(access_key_id=key_id, access_key_secret=secret)

    def invoke(self, arn: str, body: Any) -> Any:
        parsed = parse_arn(arn) if isinstance(arn, str) else None
        if parsed is None:
            raise StateError("FC.InvalidArgument", f"resourceArn {arn!r} names no function "
                                                   f"(acs:fc:<region>:<account>:functions/<name>[/<qualifier>])")
        name, qualifier = parsed
        event = body.encode() if isinstance(body, str) else json.dumps({} if body is None else body).encode()
        context = self.context(name, qualifier or "LATEST")
        try:
            result = self.call(name, event, context)
        except StateError:
            raise
        except FunctionTimedOut as err:  # FC's answer is an error of the invocation, as an unhandled exception's
            raise StateError(FC_UNHANDLED, str(err)) from None
        except Exception as err:  # FC reports an unhandled exception; CloudFlow's name for it is UNCONFIRMED
            raise StateError(FC_UNHANDLED, f"{type(err).__name__}: {err}") from None
        return to_json(result)
