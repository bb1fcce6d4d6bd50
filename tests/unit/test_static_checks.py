"""The static checks of the test command catch what they are there for: a module importing a layer above it (or the
local cloud), an import cycle inside a layer, and an untyped function in the pure core. Each runs the real tool on a
copy of the product with one violation added."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "shared" / "nestbackup", tmp_path / "nestbackup",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "localcloud", tmp_path / "localcloud", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "lint-imports"), "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": str(BIN)})


@pytest.fixture
def product(tmp_path):
    if not (BIN / "lint-imports").exists():
        pytest.skip("import-linter is not installed in this environment")
    return _copy(tmp_path)


def test_the_product_as_it_is_keeps_every_contract(product):
    done = _lint_imports(product)
    assert done.returncode == 0, done.stdout


def test_an_operation_importing_an_adapter_breaks_the_layers(product):
    (product / "nestbackup" / "operations" / "leak.py").write_text("from ..adapters.ecs import Ecs\n")
    done = _lint_imports(product)
    assert done.returncode == 1 and "nestbackup.operations.leak -> nestbackup.adapters.ecs" in done.stdout


def test_the_model_importing_an_operation_breaks_the_layers(product):
    (product / "nestbackup" / "model" / "leak.py").write_text("from ..operations import backup\n")
    done = _lint_imports(product)
    assert done.returncode == 1 and "nestbackup.model.leak -> nestbackup.operations.backup" in done.stdout


def test_an_import_cycle_between_operations_is_refused(product):
    claims = product / "nestbackup" / "operations" / "claims.py"
    claims.write_text(claims.read_text() + "\nfrom . import backup  # noqa: E402\n")
    done = _lint_imports(product)
    assert done.returncode == 1 and "No cycles are allowed in nestbackup.operations" in done.stdout


def test_the_product_importing_the_local_cloud_is_refused(product):
    (product / "nestbackup" / "operations" / "cheat.py").write_text("import localcloud.cloud\n")
    done = _lint_imports(product)
    assert done.returncode == 1 and "nestbackup.operations.cheat -> localcloud.cloud" in done.stdout


def test_an_untyped_function_in_the_pure_core_fails_the_type_check(product):
    if not (BIN / "mypy").exists():
        pytest.skip("mypy is not installed in this environment")
    (product / "nestbackup" / "model" / "loose.py").write_text("def add(a, b):\n    return a + b\n")
    done = subprocess.run([str(BIN / "mypy"), "--no-incremental", "--cache-dir", "/dev/null",
                           "nestbackup/model/loose.py"], cwd=product, capture_output=True, text=True,
                          env={"PATH": str(BIN), "MYPYPATH": str(product)})
    assert done.returncode == 1 and "Function is missing a type annotation" in done.stdout


def test_a_local_cloud_product_importing_the_assembly_breaks_the_layers(product):
    (product / "localcloud" / "ecs" / "leak.py").write_text("from ..cloud import LocalCloud\n")
    done = _lint_imports(product)
    assert done.returncode == 1 and "localcloud.ecs.leak -> localcloud.cloud" in done.stdout


def test_an_import_cycle_in_the_local_cloud_is_refused(product):
    expressions = product / "localcloud" / "fnf" / "expressions.py"
    expressions.write_text(expressions.read_text() + "\nfrom . import definition  # noqa: E402\n")
    done = _lint_imports(product)
    assert done.returncode == 1 and "No cycles are allowed in localcloud.fnf" in done.stdout


def test_the_api_importing_an_adapter_is_refused(product):
    """The layers allow it (the API sits above the adapters); only the composition root may build them."""
    (product / "nestbackup" / "api" / "leak.py").write_text("from ..adapters.ecs import Ecs\n")
    done = _lint_imports(product)
    assert done.returncode == 1 and "nestbackup.api.leak -> nestbackup.adapters.ecs" in done.stdout


def _mypy(root: Path, *paths: str) -> subprocess.CompletedProcess:
    if not (BIN / "mypy").exists():
        pytest.skip("mypy is not installed in this environment")
    return subprocess.run([str(BIN / "mypy"), "--no-incremental", "--cache-dir", "/dev/null", *paths], cwd=root,
                          capture_output=True, text=True, env={"PATH": str(BIN), "MYPYPATH": str(root)})


def test_an_endpoint_calling_an_operation_wrongly_fails_the_type_check(product):
    endpoints = product / "nestbackup" / "api" / "endpoints.py"
    endpoints.write_text(endpoints.read_text().replace("cancel.cancel_backup(call.wiring, record_id)",
                                                       "cancel.cancel_backup(call.principal, record_id)"))
    done = _mypy(product, "nestbackup/api/endpoints.py")
    assert done.returncode == 1 and 'Argument 1 to "cancel_backup" has incompatible type "Principal"' in done.stdout


def test_an_untyped_endpoint_fails_the_type_check(product):
    (product / "nestbackup" / "api" / "loose.py").write_text("def answer(call):\n    return call\n")
    done = _mypy(product, "nestbackup/api/loose.py")
    assert done.returncode == 1 and "Function is missing a type annotation" in done.stdout


def test_a_bare_generic_in_the_pure_core_fails_the_type_check(product):
    """The core is checked as `mypy --strict` would: a `dict` must say what it holds."""
    (product / "nestbackup" / "decisions" / "loose.py").write_text("def names(found: dict) -> list[str]:\n"
                                                                    "    return sorted(found)\n")
    done = _mypy(product, "nestbackup/decisions/loose.py")
    assert done.returncode == 1 and 'Missing type arguments for generic type "dict"' in done.stdout


def test_a_blind_except_that_does_not_say_why_fails_the_linter(product):
    if not (BIN / "ruff").exists():
        pytest.skip("ruff is not installed in this environment")
    (product / "nestbackup" / "operations" / "swallow.py").write_text(
        "def call(action):\n    try:\n        return action()\n    except Exception:\n        return None\n")
    done = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "--output-format", "concise", "nestbackup"],
                          cwd=product, capture_output=True, text=True, env={"PATH": str(BIN)})
    assert done.returncode == 1 and "nestbackup/operations/swallow.py:4:12: BLE001" in done.stdout, done.stdout
