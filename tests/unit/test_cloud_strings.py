"""Cloud status strings are read in one place: the port values' properties and model/status.py's mappings.
Operations and decisions compare only our own enums (docs/architecture.md, "The ports")."""
from __future__ import annotations

import ast

from tests.unit.literals import PACKAGE, compared_literals, violations

PORT_VALUES = ["ports/compute.py", "ports/databases.py", "ports/catalog.py", "ports/flows.py"]


def _strings(node: ast.AST, keys_only: bool = True) -> set[str]:
    """The strings a constant holds: a literal, a set/tuple/list's members, a dict's keys."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Call):                     # frozenset({...})
        return {s for a in node.args for s in _strings(a)}
    if isinstance(node, (ast.Set, ast.Tuple, ast.List)):
        return {s for e in node.elts for s in _strings(e)}
    if isinstance(node, ast.Dict):
        return {s for k in node.keys if k is not None for s in _strings(k)}
    return set()


def _module_constants(tree: ast.Module) -> dict[str, set[str]]:
    return {t.id: _strings(n.value) for n in tree.body if isinstance(n, ast.Assign)
            for t in n.targets if isinstance(t, ast.Name) and t.id.isupper()}


def cloud_literals() -> set[str]:
    """Every cloud string a port value's property reads (with the module constants it reads them from), and every
    cloud string model/status.py maps."""
    found: set[str] = set()
    for rel in PORT_VALUES:
        tree = ast.parse((PACKAGE / rel).read_text())
        constants = _module_constants(tree)
        for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
            for fn in cls.body:
                if not (isinstance(fn, ast.FunctionDef)
                        and any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list)):
                    continue
                body = fn.body[1:] if ast.get_docstring(fn) else fn.body
                for node in (n for stmt in body for n in ast.walk(stmt)):
                    if isinstance(node, ast.Constant) and isinstance(node.value, str):
                        found.add(node.value)
                    elif isinstance(node, ast.Name) and node.id in constants:
                        found |= constants[node.id]
    for strings in _module_constants(ast.parse((PACKAGE / "model/status.py").read_text())).values():
        found |= strings
    return found - {""}


def test_the_literal_set_is_read_from_the_port_values_and_the_mappings():
    literals = cloud_literals()
    assert {"accomplished", "failed", "Running", "Stopped", "Manual", "OK", "Success", "Finished", "Failed",
            "In_use", "Scheduled", "Primary", "Deploying", "progressing", "Uploading"} <= literals


def test_operations_and_decisions_compare_no_cloud_status_string():
    assert violations(["operations", "decisions"], cloud_literals()) == []


def test_the_check_finds_a_cloud_status_compared_raw():
    source = ('running = [i for i in found if found[i].status == "Running"]\n'
              'if job.mode != "Manual" or backup_set.meta_status in ("OK", "LARGE"):\n'
              '    pass\n'
              'label = {"accomplished": 1, "failed": 2}.get(snapshot.status)\n'
              'if item.status is ItemStatus.RUNNING and kind == "backup":\n'
              '    answer = {"Running": alive}\n'          # an answer's keys are not a comparison
              'WHY = {"Deleting": "is being deleted"}\n')
    assert compared_literals(source, cloud_literals()) == [(1, "Running"), (2, "Manual"), (2, "OK"),
                                                          (4, "accomplished"), (4, "failed"), (7, "Deleting")]
