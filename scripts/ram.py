#!/usr/bin/env python3
"""Least-privilege RAM policies, one role per function group, derived from the code.

Each group's policy grants exactly the cloud actions its functions can reach: the handlers in functions/<name>/ are
the roots (what each imports, and every operation its dispatch tables name), calls are followed through the
product's modules (`ast`, no import), and every adapter method is mapped to the actions it sends. The walk
over-approximates (a name that is referenced counts as called, an attribute call counts for every adapter method of
that name), never under: a missing grant breaks a real deployment, a needless one only widens it. An adapter call
whose action cannot be resolved to a literal stops the derivation, and so does a dispatch entry that names no function.

`python scripts/ram.py` prints the policies; `--write` stores them under deploy/ram/ (region and account stay
placeholders that scripts/render-policies fills in: `${region}`, `${accountId}`, `${otsInstance}`, `${otsTable}`,
`${dbAccountsSecret}`, `${adminTokenSecret}`).
tests/unit/test_ram_policy.py fails when the stored policies and the code disagree.
"""
from __future__ import annotations

import ast
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "shared" / "nestbackup"
FUNCTIONS = ROOT / "functions"

# Which role each function assumes. The API and the events function only read, start flows and delete backups;
# stopping instances, resetting disks and restoring databases are the restore group's alone.
GROUP_OF = {
    "nestbackup-api": "api",
    "nestbackup-events": "events",
    "nestbackup-backup-steps": "backup",
    "nestbackup-restore-steps": "restore",
    "nestbackup-db-rename": "rename",
    "nestbackup-timer": "timer",
}
# The adapter classes and the RAM code of the product each one calls.
ADAPTERS = {"Ecs": "ecs", "Rds": "rds", "CloudFlow": "fnf", "Tablestore": "ots", "ComputeNest": "computenest",
            "EventBridge": "eventbridge", "Kms": "kms"}
# The secrets, by the composition root's method that names each (settings hold the names): a group is granted
# kms:GetSecretValue on the ARN of each secret whose reader it reaches, and on no other. A group that reaches no
# reader has no secret name to read, so its GetSecretValue (reached only through the over-approximating walk) is
# dropped. Render-policies fills in the names.
SECRET_READERS = {"nestbackup.wiring:Wiring._db_account": "${dbAccountsSecret}",
                  "nestbackup.wiring:Wiring.admin_token": "${adminTokenSecret}"}
# Tablestore SDK client methods -> RAM actions: the adapter's own table (imported: it holds no SDK import).
sys.path.insert(0, str(PACKAGE.parent))
from nestbackup.adapters.tablestore import OTS_ACTIONS as OTS  # noqa: E402

# Tables are created by scripts/bootstrap-tables with the deployer's own rights, never by a function.
BOOTSTRAP_ONLY = {"ots:CreateTable", "ots:ListTable"}
# Where each product's actions may act: the narrowest resource each product's RAM authorization table documents
# (sources in docs/cloud-fidelity.md, "RAM"). CloudFlow's StartExecution and DescribeFlow, and FC's InvokeFunction,
# are documented for "All Resources" only; Compute Nest's and EventBridge's resource forms are UNCONFIRMED (the
# PutEvents page lists no RAM authorization). Those take "*". A backup's copies are snapshots in the region it names
# (CopyToRegion, chosen per backup or schedule): snapshots are granted in every region, nothing else is.
RESOURCES = {
    "ecs": ["acs:ecs:${region}:${accountId}:*", "acs:ecs::${accountId}:snapshot/*",
            "acs:ecs:*:${accountId}:snapshot/*"],
    "rds": ["acs:rds:${region}:${accountId}:dbinstance/*"],
    "fnf": ["*"],
    "ots": ["acs:ots:${region}:${accountId}:instance/${otsInstance}/table/${otsTable}"],
    "computenest": ["*"],
    "eventbridge": ["*"],
}
SECRET_ARN = "acs:kms:${region}:${accountId}:secret/"
# Actions documented for "All Resources" only, within a product that is otherwise scoped.
UNSCOPED_ACTIONS = {"rds:DescribeHistoryTasks"}


class Unresolved(SystemExit):
    pass


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


class Index:
    """Every function and method of the package, what each references, and what each adapter method sends."""

    def __init__(self) -> None:
        self.refs: dict[str, set[str]] = defaultdict(set)        # node -> nodes it may call
        self.sends: dict[str, set[str]] = defaultdict(set)       # adapter method node -> "product:Action"
        self.methods_named: dict[str, set[str]] = defaultdict(set)   # method name -> adapter method nodes
        self.modules: dict[str, ast.Module] = {}
        for path in sorted(PACKAGE.rglob("*.py")):
            self.modules[_module_name(path)] = ast.parse(path.read_text(), str(path))
        for module, tree in self.modules.items():
            self._index_module(module, tree)

    # -- names in a module
    def _imports(self, module: str, tree: ast.Module) -> dict[str, str]:
        """Local name -> 'module' or 'module:name'."""
        out: dict[str, str] = {}
        package = module if (PACKAGE / Path(*module.split(".")[1:]) / "__init__.py").exists() else \
            module.rsplit(".", 1)[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    out[alias.asname or alias.name] = target if target in self.modules else f"{base}:{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    out[alias.asname or alias.name.split(".")[0]] = alias.name
        return out

    def _index_module(self, module: str, tree: ast.Module) -> None:
        imports = self._imports(module, tree)
        local = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                self._index_function(f"{module}:{node.name}", node, module, imports, local, None)
            elif isinstance(node, ast.ClassDef):
                adapter = ADAPTERS.get(node.name)
                constants = {t.id: v.value for n in tree.body if isinstance(n, ast.Assign)
                             for t in n.targets if isinstance(t, ast.Name)
                             for v in [n.value] if isinstance(v, ast.Constant) and isinstance(v.value, str)}
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        name = f"{module}:{node.name}.{item.name}"
                        self._index_function(name, item, module, imports, local, node.name)
                        if adapter:
                            self._index_sends(name, item, adapter, constants, module)
                    if isinstance(item, ast.FunctionDef):     # `x.method()` may be any class's method
                        self.methods_named[item.name].add(f"{module}:{node.name}.{item.name}")
                if adapter:
                    self._check_pass_through(node, module, constants)
                # constructing a class runs its initialisers; its other methods are reached by name
                self.refs[f"{module}:{node.name}"] |= {f"{module}:{node.name}.{i.name}" for i in node.body
                                                       if isinstance(i, ast.FunctionDef)
                                                       and i.name in ("__init__", "__post_init__")}

    def _index_function(self, name: str, fn: ast.FunctionDef, module: str, imports: dict[str, str],
                        local: set[str], cls: str | None) -> None:
        refs = self.refs[name]
        for node in ast.walk(fn):
            if isinstance(node, ast.Name):
                if node.id in local:
                    refs.add(f"{module}:{node.id}")
                elif node.id in imports:
                    refs.add(imports[node.id])
            elif isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Name) and imports.get(node.value.id) in self.modules:
                    refs.add(f"{imports[node.value.id]}:{node.attr}")        # module.function: exact
                    continue
                if isinstance(node.value, ast.Name) and node.value.id == "self" and cls:
                    refs.add(f"{module}:{cls}.{node.attr}")
                refs.add(f"*.{node.attr}")                       # resolved against adapter methods later

    def _index_sends(self, name: str, fn: ast.FunctionDef, product: str, constants: dict[str, str],
                     module: str) -> None:
        params = [a.arg for a in fn.args.args]
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            func = node.func
            if product == "ots":
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Attribute) and \
                            inner.value.attr == "client" and inner.attr in OTS:
                        self.sends[name].add(f"ots:{OTS[inner.attr]}")
                    elif isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Attribute) and \
                            inner.value.attr == "client" and not inner.attr.startswith("_"):
                        raise Unresolved(f"{module}: tablestore client method {inner.attr} has no RAM action "
                                         f"mapping (adapters/tablestore.py OTS_ACTIONS)")
                continue
            sends_action = (func.attr == "call" and isinstance(func.value, ast.Attribute) and func.value.attr == "rpc")
            if not sends_action:
                continue
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                self.sends[name].add(f"{product}:{first.value}")
            elif isinstance(first, ast.Name) and first.id in constants:
                self.sends[name].add(f"{product}:{constants[first.id]}")
            elif isinstance(first, ast.Name) and first.id in params:
                self.sends[name].add(f"{product}:<{first.id}>")    # given by the callers: see _literal_actions
            else:
                raise Unresolved(f"{module}:{fn.lineno}: an RPC call whose action is not a literal or a constant")
        # pass-through helpers (e.g. _pages(action, …)): each caller's literal first argument is the action
        for node in ast.walk(fn):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Name) and node.func.value.id == "self" and node.args and \
                    isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str) and \
                    node.args[0].value[:1].isupper():
                self.sends[name].add(f"{product}:{node.args[0].value}")

    def _check_pass_through(self, cls: ast.ClassDef, module: str, constants: dict[str, str]) -> None:
        """A method that sends the action its caller names: every call to it must name a literal action."""
        passing = {m.name for m in cls.body if isinstance(m, ast.FunctionDef)
                   and any("<" in a for a in self.sends.get(f"{module}:{cls.name}.{m.name}", ()))}
        for node in ast.walk(cls):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in passing \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "self":
                first = node.args[0] if node.args else None
                if not ((isinstance(first, ast.Constant) and isinstance(first.value, str))
                        or (isinstance(first, ast.Name) and first.id in constants)):
                    raise Unresolved(f"{module}:{node.lineno}: {node.func.attr}() is called with an action that is "
                                     f"not a literal or a constant")

    def reachable(self, roots: set[str]) -> set[str]:
        seen, todo = set(), list(roots)
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            if node.startswith("*."):
                todo += self.methods_named.get(node[2:], ())
                continue
            todo += self.refs.get(node, ())
        return seen

    def actions(self, roots: set[str]) -> set[str]:
        out = set()
        for node in self.reachable(roots):
            out |= {a for a in self.sends.get(node, ()) if "<" not in a}
        return out


def dispatched(tree: ast.Module, index: Index, where: str) -> dict[str, str]:
    """A handler's dispatch tables (`handlers.operation`): every `("nestbackup.<module>", "<function>")` pair in it,
    by the key it is filed under ("" for a pair outside a dict). A pair that names no function of the package stops
    the derivation: its step's actions would go ungranted."""
    keys = {id(v): k.value for node in ast.walk(tree) if isinstance(node, ast.Dict)
            for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant)}
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Tuple) and len(node.elts) == 2
                and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)):
            continue
        module, name = (e.value for e in node.elts)
        if not module.startswith("nestbackup"):
            continue
        tree_of = index.modules.get(module)
        if tree_of is None or not any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree_of.body):
            raise Unresolved(f"{where}:{node.lineno}: dispatches to {module}.{name}, not a function of the package")
        out[f"{module}:{name}"] = keys.get(id(node), "")
    return out


def handler_roots(function: str, index: Index, step: str | None = None) -> set[str]:
    """Where a function's calls start: what its handler imports and every operation its dispatch tables name (when
    `step` is given, only its entry and the operations outside a table, which any step may run)."""
    path = FUNCTIONS / function / "index.py"
    tree = ast.parse(path.read_text(), str(path))
    roots = {target for target, key in dispatched(tree, index, str(path)).items() if step is None or key in (step, "")}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("nestbackup"):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                roots.add(target if target in index.modules else f"{node.module}:{alias.name}")
    # a module imported whole: everything in it
    for module in [r for r in roots if r in index.modules]:
        roots |= {n for n in index.refs if n.startswith(module + ":")}
    return roots


def derive() -> dict[str, tuple[set[str], set[str]]]:
    """Each group's actions and the secrets (SECRET_READERS placeholders) it reads."""
    index = Index()
    groups: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    functions = sorted(p.name for p in FUNCTIONS.iterdir() if (p / "index.py").exists())
    unknown = [f for f in functions if f not in GROUP_OF]
    if unknown:
        raise Unresolved(f"functions without a role group in scripts/ram.py GROUP_OF: {unknown}")
    for function in functions:
        reached = index.reachable(handler_roots(function, index))
        actions = {a for node in reached for a in index.sends.get(node, ()) if "<" not in a} - BOOTSTRAP_ONLY
        secrets = {SECRET_READERS[node] for node in reached if node in SECRET_READERS}
        if not secrets:
            actions = {a for a in actions if not a.startswith("kms:")}
        group_actions_, group_secrets = groups[GROUP_OF[function]]
        group_actions_ |= actions
        group_secrets |= secrets
    return dict(groups)


def group_actions() -> dict[str, set[str]]:
    return {group: actions for group, (actions, _) in derive().items()}


def role_policy(actions: set[str], secrets: set[str] = frozenset()) -> dict:
    by_product: dict[str, list[str]] = defaultdict(list)
    for action in sorted(actions):
        by_product["*" if action in UNSCOPED_ACTIONS else action.split(":")[0]].append(action)
    return {"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": acts,
         "Resource": sorted(SECRET_ARN + s for s in secrets) if product == "kms" else RESOURCES.get(product, ["*"])}
        for product, acts in sorted(by_product.items())]}


def flow_policy() -> dict:
    """The flows' role only invokes functions (InvokeFunction takes no narrower resource: see RESOURCES)."""
    return {"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["fc:InvokeFunction"], "Resource": ["*"]}]}


def policies() -> dict[str, dict]:
    out = {f"{group}-policy.json": role_policy(actions, secrets) for group, (actions, secrets) in derive().items()}
    out["flow-policy.json"] = flow_policy()
    return out


if __name__ == "__main__":
    derived = policies()
    if "--write" in sys.argv:
        out = ROOT / "deploy" / "ram"
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob("*-policy.json"):
            if stale.name not in derived:
                stale.unlink()
        for name, policy in derived.items():
            (out / name).write_text(json.dumps(policy, indent=2) + "\n")
        print(f"wrote {', '.join(sorted(derived))} to {out}")
    else:
        print(json.dumps(derived, indent=2))
