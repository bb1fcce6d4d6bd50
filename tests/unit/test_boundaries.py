"""The dependency direction, checked: the product never imports the local cloud (only the CLI's `local` and `demo`
commands start it), and the pure core imports nothing but the standard library and itself."""
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [ROOT / "shared" / "nestbackup", ROOT / "functions"]
MAY_START_LOCAL_CLOUD = {"shared/nestbackup/cli/local.py", "shared/nestbackup/cli/demo.py"}
PURE = [ROOT / "shared" / "nestbackup" / "model"]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _files(roots):
    for root in roots:
        yield from sorted(root.rglob("*.py")) if root.exists() else ()


def test_product_never_imports_the_local_cloud():
    offenders = [str(p.relative_to(ROOT)) for p in _files(PRODUCT)
                 if "localcloud" in _imports(p) and str(p.relative_to(ROOT)) not in MAY_START_LOCAL_CLOUD]
    assert offenders == []


def test_pure_core_imports_only_the_standard_library():
    allowed = set(sys.stdlib_module_names) | {"nestbackup"}
    offenders = {str(p.relative_to(ROOT)): sorted(_imports(p) - allowed) for p in _files(PURE)
                 if _imports(p) - allowed}
    assert offenders == {}
