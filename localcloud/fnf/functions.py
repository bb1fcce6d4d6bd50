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
environment there once it knows its endpoint (`LocalCloud.bind`). Timeouts are not enforced. A task without
`body` sends `{}` (what CloudFlow sends then is UNCONFIRMED). The result: JSON data as is, str/bytes parsed as
JSON (`to_json`); the Task then requires an object.
"""
from __future__ import annotations

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
        handler = self.handler(name)
        if handler is None:
            raise StateError("FC.FunctionNotFound", f"function {name!r} does not exist (not deployed from s.yaml)")
        event = body.encode() if isinstance(body, str) else json.dumps({} if body is None else body).encode()
        context = self.context(name, qualifier or "LATEST")
        try:
            result = handler(event, context)
        except StateError:
            raise
        except Exception as err:  # FC reports an unhandled exception; CloudFlow's name for it is UNCONFIRMED
            raise StateError(FC_UNHANDLED, f"{type(err).__name__}: {err}") from None
        return to_json(result)
