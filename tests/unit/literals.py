"""Finding string literals a module compares against (the static checks of test_engines and test_cloud_strings)."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "nestbackup"


def compared_literals(source: str, literals: set[str], fold_case: bool = False) -> list[tuple[int, str]]:
    """(line, literal) for each string in `literals` that the source compares with (==, !=, in, not in, also inside
    a tuple, list or set), or looks up in a table written for it: a dict literal subscripted or asked `.get` at
    once, or a module-level constant dict (a switch written as a table)."""
    def norm(value: str) -> str:
        return value.lower() if fold_case else value
    wanted = {norm(x) for x in literals}

    def strings(node: ast.AST) -> list[ast.Constant]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node]
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return [c for e in node.elts for c in strings(e)]
        return []

    def keys(node: ast.AST) -> list[ast.Constant]:
        return [c for k in node.keys if k is not None for c in strings(k)] if isinstance(node, ast.Dict) else []

    tree = ast.parse(source)
    candidates: list[ast.Constant] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            candidates += [c for side in [node.left, *node.comparators] for c in strings(side)]
        elif isinstance(node, ast.Subscript):
            candidates += keys(node.value)
        elif isinstance(node, ast.Attribute) and node.attr == "get":
            candidates += keys(node.value)
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            candidates += keys(node.value) if node.value else []
    return sorted((c.lineno, c.value) for c in candidates if norm(c.value) in wanted)


def violations(folders: list[str], literals: set[str], fold_case: bool = False,
               allowed: frozenset[str] = frozenset()) -> list[str]:
    """`path:line literal` for every such comparison in the modules under `folders` (of the package)."""
    out = []
    for folder in folders:
        for path in sorted((PACKAGE / folder).rglob("*.py")):
            rel = str(path.relative_to(PACKAGE))
            if rel in allowed:
                continue
            out += [f"{rel}:{line} {value!r}" for line, value in compared_literals(path.read_text(), literals,
                                                                                     fold_case)]
    return out
