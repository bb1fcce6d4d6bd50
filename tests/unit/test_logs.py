"""One log helper: each line carries what its invocation bound (record id, step, FC request id), and nothing of it
outlives the invocation."""
import importlib.util
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

from nestbackup import logs
from nestbackup.errors import NotFound, ValidationError
from nestbackup.operations.backup import create_backup
from tests.support.memory.wiring import MemoryWiring

ROOT = Path(__file__).resolve().parents[2]


def handler_module(function: str):
    spec = importlib.util.spec_from_file_location(f"index_{function}", ROOT / "functions" / function / "index.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def lines(monkeypatch):
    """Every line, the product's and this module's (logs.event logs as its caller), whatever logs.setup() did."""
    root, product, handler = logging.getLogger(), logging.getLogger("nestbackup"), Lines()
    levels = root.level, product.level
    monkeypatch.setattr(product, "propagate", True)
    monkeypatch.setattr(product, "handlers", [])
    root.setLevel(logging.INFO)                  # setLevel, not the attribute: loggers cache isEnabledFor
    product.setLevel(logging.INFO)
    root.addHandler(handler)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(levels[0])
    product.setLevel(levels[1])


def context(request_id: str):
    return SimpleNamespace(request_id=request_id, credentials=None)


def test_a_step_invocations_lines_carry_its_record_step_and_request_id(lines, monkeypatch):
    w = MemoryWiring()
    w.seed("si-1", databases={"PostgreSQL": {"app": {"t": [1]}}})
    backup_id = create_backup(w, "si-1")["BackupId"]

    def no_account(*_):
        raise ValidationError("no database account")
    monkeypatch.setattr(w, "database", no_account)          # the start logs "row counts skipped", naming no record
    steps = handler_module("nestbackup-backup-steps")
    monkeypatch.setattr(steps, "wiring", lambda _context: w)
    lines.clear()
    steps.handler({"Step": "Start", "BackupId": backup_id, "Batch": 0}, context("fc-req-1"))
    skipped = [line for line in lines if line["message"] == "row counts skipped"]
    assert skipped and skipped[0]["record_id"] == backup_id and skipped[0]["fc_request_id"] == "fc-req-1"
    assert all(line["fc_request_id"] == "fc-req-1" and line["record_id"] == backup_id for line in lines)

    # a line of its own names the step; one that names none (a plain module logger, as costs.py's) gets the bound one
    def probe(_w, _backup_id, _batch):
        logs.event("probe")
        logging.getLogger("nestbackup.cost").warning("cost probe")
        return {}
    monkeypatch.setitem(steps.OPERATIONS, "Start", (__name__, "probe"))
    monkeypatch.setitem(globals(), "probe", probe)
    lines.clear()
    steps.handler({"Step": "Start", "BackupId": backup_id}, context("fc-req-2"))
    assert [(line["message"], line["step"], line["record_id"], line["fc_request_id"], line["logger"]) for line in lines] \
        == [("probe", "Start", backup_id, "fc-req-2", __name__), ("cost probe", "Start", backup_id, "fc-req-2",
                                                                    "nestbackup.cost")]


def test_nothing_bound_outlives_its_invocation_even_one_that_raised(lines, monkeypatch):
    steps = handler_module("nestbackup-backup-steps")
    monkeypatch.setattr(steps, "wiring", lambda _context: MemoryWiring())
    with pytest.raises(NotFound):                            # Poll of a backup that does not exist
        steps.handler({"Step": "Poll", "BackupId": "bk-missing"}, context("fc-req-3"))
    logs.event("between invocations")
    assert lines[-1]["message"] == "between invocations"
    assert not {"record_id", "step", "fc_request_id"} & set(lines[-1])


def test_the_api_binds_the_http_request_id(lines, monkeypatch):
    api = handler_module("nestbackup-api")

    def handle(_request, _wiring):
        logs.event("routed")
        return SimpleNamespace(status=204, headers={}, encoded=lambda: b"")
    monkeypatch.setattr(api, "handle", handle)
    api.handler({"requestContext": {"requestId": "http-req-1", "http": {"method": "GET", "path": "/backups"}}},
                context("ignored"))
    assert lines[-1]["fc_request_id"] == "http-req-1" and "record_id" not in lines[-1]


def test_worker_threads_log_with_the_fields_bound_where_the_work_was_handed_out(lines):
    with logs.bound(step="schedules", fc_request_id="fc-req-4"), ThreadPoolExecutor(2) as pool:
        list(pool.map(logs.carried(lambda n: logs.event("worked", n=n)), [1, 2]))
    assert sorted((line["n"], line["step"], line["fc_request_id"]) for line in lines) == \
        [(1, "schedules", "fc-req-4"), (2, "schedules", "fc-req-4")]


def test_a_lines_own_fields_win_and_secret_keys_are_never_printed(lines):
    with logs.bound(record_id="rs-1", step="Advance", db_password="bound-secret"):
        logs.event("backup created", record_id="bk-2", access_token="t", Authorization="a", items=3)
    line = lines[-1]
    assert line["record_id"] == "bk-2" and line["step"] == "Advance" and line["items"] == 3
    assert not {"db_password", "access_token", "Authorization"} & set(line)
    assert "secret" not in json.dumps(line)

