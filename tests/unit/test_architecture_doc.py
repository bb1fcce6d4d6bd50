"""docs/architecture.md stays true to the code: every file, directory and module it names exists (and every
`module.name` it names is defined there), and every row of its ports table has its Protocol, its values and its
adapter where it says. A failure lists every name the document gets wrong, to fix in one go."""
import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
PRODUCT = ROOT / "shared" / "nestbackup"
# Paths starting with one of these are from the repository's root; others are inside the product.
FROM_ROOT = {"shared", "localcloud", "flows", "scripts", "functions", "tests", "bench", "deploy", "docs"}
FILE_TYPES = {"py", "yaml", "yml", "json", "txt", "md", "toml"}
PATH = re.compile(r"[\w.-]+(?:/[\w.-]*)+|[\w-]+\.py")
DOTTED = re.compile(r"([a-z_]\w*)\.([A-Za-z_]\w*)")
MEMBER = re.compile(r"([A-Z]\w*)\.([a-z_]\w*)")


@cache
def defined_names(module: Path) -> frozenset[str]:
    """The top-level names of a module: its functions, classes, assignments and imports."""
    names = set()
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


def members(module: Path, cls: str) -> set[str] | None:
    """What a class of `module` defines: methods, properties, class attributes and `self.x` set in its methods."""
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            found = set()
            for item in ast.walk(node):
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found.add(item.name)
                elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    found.add(item.target.id)
                elif isinstance(item, ast.Attribute) and isinstance(item.ctx, ast.Store) and \
                        isinstance(item.value, ast.Name) and item.value.id == "self":
                    found.add(item.attr)
            return found
    return None


def module_file(base: Path, dotted: str) -> Path | None:
    path = base.joinpath(*dotted.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _resolve(path: str, context: Path | None) -> Path:
    """A path with a directory is from the root or the product; a bare name is beside the last path named before
    it on its line, or else in the product's root."""
    if "/" in path:
        return (ROOT if path.split("/", 1)[0] in FROM_ROOT else PRODUCT) / path
    beside = (context or PRODUCT) / path
    return beside if beside.exists() or not (PRODUCT / path).exists() else PRODUCT / path


def _check_path(span: str, context: Path | None) -> tuple[list[str], Path | None]:
    """A path in the text: a file or directory, or `dir/module.name` (the module, then the name in it)."""
    wrong = []
    head, _, last = span.rstrip("/").rpartition("/")
    stem, dot, suffix = last.partition(".")
    if dot and suffix not in FILE_TYPES and re.fullmatch(r"[A-Za-z_]\w*", suffix):    # dir/module.name
        module = _resolve(f"{head}/{stem}.py" if head else f"{stem}.py", context)
        if not module.is_file():
            wrong.append(f"{span}: no module {module.relative_to(ROOT)}")
        elif suffix not in defined_names(module):
            wrong.append(f"{span}: {module.relative_to(ROOT)} defines no {suffix}")
        return wrong, module.parent
    target = _resolve(span, context)
    if not target.exists():
        wrong.append(f"{span}: no {target.relative_to(ROOT)}")
    return wrong, target if span.endswith("/") else target.parent


def _check_dotted(module_name: str, name: str, context: Path | None) -> list[str]:
    """`module.name` in the text, when `module` is one of ours: near the paths named before it on the line, or the
    product's, or a module of that name anywhere in the product."""
    found = [m for m in (module_file(context, module_name) if context else None, module_file(PRODUCT, module_name))
             if m] or sorted(PRODUCT.rglob(f"{module_name}.py"))
    if not found or any(name in defined_names(m) for m in found):
        return []       # not a module of ours (a variable, a class), or the name is there
    return [f"{module_name}.{name}: {', '.join(str(m.relative_to(ROOT)) for m in found)} defines no {name}"]


@cache
def classes() -> dict[str, list[set[str]]]:
    """Every class of the product by name, with its members (a name may be defined in more than one module)."""
    found: dict[str, list[set[str]]] = {}
    for module in sorted(PRODUCT.rglob("*.py")):
        for node in ast.parse(module.read_text()).body:
            if isinstance(node, ast.ClassDef):
                found.setdefault(node.name, []).append(members(module, node.name) or set())
    return found


def _check_member(cls: str, name: str) -> list[str]:
    """`Class.member` in the text, when the class is one of ours."""
    defined = classes().get(cls)
    if defined is None or any(name in found for found in defined):
        return []
    return [f"{cls}.{name}: the class {cls} has no {name}"]


def prose_problems(text: str) -> list[str]:
    """What the backquoted names of each line get wrong. A bare `name.py` after a path on the same line is beside
    it (`operations/claims.py`, `loading.py`), or else in the product's root (`settings.py`)."""
    wrong = []
    for line in text.splitlines():
        context = None
        for span in re.findall(r"`([^`]+)`", line):
            span = span.split("(")[0].split(" ")[0]
            if "<" in span or "#" in span or span.startswith(("$", "-", "[")):
                continue                                # templates, keys, options
            if PATH.fullmatch(span):
                problems, context = _check_path(span, context)
                wrong += problems
            elif match := DOTTED.fullmatch(span):
                wrong += _check_dotted(*match.groups(), context)
            elif match := MEMBER.fullmatch(span):
                wrong += _check_member(*match.groups())
    return wrong


def _code_blocks(text: str) -> list[str]:
    return re.findall(r"```\n(.*?)```", text, re.DOTALL)


def layer_problems(text: str) -> list[str]:
    """The layers drawing: `nestbackup.x | y` names product modules."""
    block = next(b for b in _code_blocks(text) if re.search(r"^\s*nestbackup\.", b, re.MULTILINE))
    wrong = []
    for line in block.splitlines():
        match = re.match(r"\s*nestbackup\.(\w+)(?:\s*\|\s*(\w+))?", line)
        for name in (match.groups() if match else ()):
            if name and module_file(PRODUCT, name) is None:
                wrong.append(f"layers: no module nestbackup.{name}")
    return wrong


def local_cloud_problems(text: str) -> list[str]:
    """The local cloud's tree: each entry (`server.py`, `core/`) under localcloud/, and the modules an entry's
    description names (`rpc.py`, `engines/`) inside it."""
    block = next(b for b in _code_blocks(text) if b.startswith("localcloud/"))
    root = ROOT / "localcloud"
    wrong, inside = [], root
    for line in block.splitlines()[1:]:
        entry = re.match(r"  (\S+)\s", line)
        if entry:
            path = root / entry.group(1).rstrip("/")
            if not path.exists():
                wrong.append(f"localcloud tree: no {path.relative_to(ROOT)}")
            inside = path if entry.group(1).endswith("/") else root
            line = line[entry.end():]
        for name in re.findall(r"(?<![\w./])(\w+\.py|\w+/)(?=[\s,;:)]|$)", line):
            if inside != root and not (inside / name.rstrip("/")).exists():
                wrong.append(f"localcloud tree: no {(inside / name.rstrip('/')).relative_to(ROOT)}")
    return wrong


def ports_problems(text: str) -> list[str]:
    """Each row of the ports table: the Protocol in its module, the values it answers with defined there (or, for
    `Ports`, its members), and the adapter that implements it."""
    table = text[text.index("| port | Protocol |"):]
    rows = [r for r in table.split("\n\n")[0].splitlines()[2:] if r.startswith("|")]
    wrong = []
    for row in rows:
        port, protocol_cell, adapter_cell, values_cell = [c.strip() for c in row.strip("|").split("|")]
        module_path, protocol = re.findall(r"`([^`]+)`", protocol_cell)
        module = PRODUCT / module_path
        if not module.is_file() or members(module, protocol) is None:
            wrong.append(f"ports table, {port}: no Protocol {protocol} in {module.relative_to(ROOT)}")
            continue
        protocol_members = members(module, protocol) or set()
        for value in (v.split("(")[0] for v in re.findall(r"`([^`]+)`", values_cell)):
            if value not in defined_names(module) and value not in protocol_members:
                wrong.append(f"ports table, {port}: {module.relative_to(ROOT)} has no {value}")
        last_path = None
        for adapter in re.findall(r"`([^`]+)`", adapter_cell):
            if "/" in adapter:
                target = last_path = PRODUCT / adapter
                if not target.exists():
                    wrong.append(f"ports table, {port}: no adapter {target.relative_to(ROOT)}")
            else:               # module.Class (wiring.Wiring), or a Class in the path before it (`x.py` `Tablestore`)
                module_name, cls = adapter.rsplit(".", 1) if "." in adapter else ("", adapter)
                found = module_file(PRODUCT, module_name) if module_name else last_path
                missing = None if found is None or members(found, cls) is None else \
                    sorted(protocol_members - members(found, cls))
                if missing is None or missing:
                    wrong.append(f"ports table, {port}: {adapter} does not implement {protocol} ({missing})")
    return wrong


def test_every_path_and_module_the_architecture_names_exists():
    text = DOC.read_text()
    wrong = prose_problems(text) + layer_problems(text) + local_cloud_problems(text)
    assert wrong == [], "docs/architecture.md names what is not there:\n  " + "\n  ".join(wrong)


def test_every_port_is_where_the_architecture_says():
    wrong = ports_problems(DOC.read_text())
    assert wrong == [], "docs/architecture.md's ports table is wrong:\n  " + "\n  ".join(wrong)


def test_a_wrong_name_in_the_architecture_is_reported():
    text = ("| store | `operations/timeline.py`, `gone.py`, `missing.py` |\n"
            "the API (`api/app.handle`, `api/app.vanished`), `handlers.http_request` and `handlers.nothing`\n"
            "`Snapshot.accomplished`, `Snapshot.finished`\n"
            "`scripts/nowhere.py`, `flows/backup.yaml`, `ports/` and `adapters/vanished/`\n")
    assert prose_problems(text) == [
        "gone.py: no shared/nestbackup/operations/gone.py", "missing.py: no shared/nestbackup/operations/missing.py",
        "api/app.vanished: shared/nestbackup/api/app.py defines no vanished",
        "handlers.nothing: shared/nestbackup/handlers.py defines no nothing",
        "Snapshot.finished: the class Snapshot has no finished",
        "scripts/nowhere.py: no scripts/nowhere.py", "adapters/vanished/: no shared/nestbackup/adapters/vanished"]


def test_a_wrong_port_row_is_reported():
    text = ("| port | Protocol | real adapter | what it answers with |\n|---|---|---|---|\n"
            "| compute | `ports/compute.py` `Compute` | `adapters/ecs.py` | `Disk`, `Volume` |\n"
            "| gone | `ports/gone.py` `Gone` | `adapters/gone.py` | `Thing` |\n"
            "| flows | `ports/flows.py` `Flows` | `adapters/flow.py` | `Execution` |\n"
            "| all | `ports/__init__.py` `Ports` | `wiring.Settings` | `settings` |\n")
    assert ports_problems(text) == [
        "ports table, compute: shared/nestbackup/ports/compute.py has no Volume",
        "ports table, gone: no Protocol Gone in shared/nestbackup/ports/gone.py",
        "ports table, flows: no adapter shared/nestbackup/adapters/flow.py",
        "ports table, all: wiring.Settings does not implement Ports (None)"]


def test_the_local_cloud_tree_is_checked():
    text = ("```\nlocalcloud/\n  server.py     one server\n  core/         rpc.py (readers), gone.py, store.py\n"
            "                vanished.py\n  nowhere/      a product\n```\n")
    assert local_cloud_problems(text) == ["localcloud tree: no localcloud/core/gone.py",
                                          "localcloud tree: no localcloud/core/vanished.py",
                                          "localcloud tree: no localcloud/nowhere"]
