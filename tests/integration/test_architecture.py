"""The shape of the code under src: no import cycles, the base layers import no feature app, small modules.

Imports are read with `ast`, wherever they appear (module level, inside functions, under
TYPE_CHECKING), because an import inside a function still ties the two modules together: it
only moves the failure from start-up to the first call.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
ROOT_PACKAGE = "rocketdbaas"
# Apps that hold a feature of the product. `core` and `dbms` are what they are built on, and
# `accounts` (users and roles) is what every app checks permissions against.
FEATURE_APPS = frozenset(
    {"inventory", "activities", "patching", "contacts", "backups", "telemetry", "intake", "reports"}
)
BASE_LAYERS = ("core", "dbms")
MAX_MODULE_LINES = 600


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported} (line {self.line})"


def source_modules(root: Path = SRC) -> dict[str, Path]:
    """Dotted module name -> file, for every module and package under `root`."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """Every import of a module under src made anywhere in `path`.

    `from pkg import name` imports `pkg.name` when that is a module, else `pkg` (a name
    defined in it). Imports of anything outside src are left out.
    """
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def add(target: str, line: int) -> None:
        # `import a.b.c` names a.b.c; keep the longest prefix that is a module under src.
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != name and Import(name, target, line) not in found:
            found.append(Import(name, target, line))

    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{node.module}" if node.module else package
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                add(candidate if candidate in modules else base, node.lineno)
    return found


def import_graph(root: Path = SRC) -> dict[str, list[Import]]:
    modules = source_modules(root)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def strongly_connected(graph: dict[str, list[Import]]) -> list[list[str]]:
    """Groups of modules that reach each other through imports (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for edge in edges:
                nxt = edge.imported
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                groups.append(sorted(group))
    return groups


def describe_cycle(group: list[str], graph: dict[str, list[Import]]) -> str:
    members = set(group)
    edges = [str(edge) for name in group for edge in graph[name] if edge.imported in members]
    return "cycle among " + ", ".join(group) + ":\n    " + "\n    ".join(edges)


def app_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_sees_module_and_function_level_imports(tmp_path):
    """The reader itself: a test that cannot see an import could never fail."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from pkg.sub import leaf\n")
    (package / "sub" / "__init__.py").write_text("from . import leaf\nfrom .leaf import CONSTANT\n")
    (package / "sub" / "leaf.py").write_text("def f():\n    from pkg import sub\n    import pkg.other\n")
    (package / "other.py").write_text("")
    graph = import_graph(tmp_path)
    targets = {name: sorted(edge.imported for edge in edges) for name, edges in graph.items()}
    assert targets == {
        "pkg": ["pkg.sub.leaf"],
        "pkg.sub": ["pkg.sub.leaf", "pkg.sub.leaf"],  # two import statements, two lines
        "pkg.sub.leaf": ["pkg.other", "pkg.sub"],
        "pkg.other": [],
    }
    assert [group for group in strongly_connected(graph) if len(group) > 1] == [["pkg.sub", "pkg.sub.leaf"]]


def test_no_import_cycles_between_modules():
    graph = import_graph()
    cycles = [group for group in strongly_connected(graph) if len(group) > 1]
    assert not cycles, "\n".join(describe_cycle(group, graph) for group in cycles)


@pytest.mark.parametrize("layer", BASE_LAYERS)
def test_base_layer_imports_no_feature_app(layer):
    graph = import_graph()
    crossings = [
        str(edge)
        for name, edges in graph.items()
        # Tests of a base layer may drive it with real feature data; the product code may not.
        if app_of(name) == layer and ".tests" not in name
        for edge in edges
        if app_of(edge.imported) in FEATURE_APPS
    ]
    assert not crossings, f"{layer} imports feature apps:\n" + "\n".join(crossings)


def test_every_feature_app_is_known():
    """A new app is placed on purpose: as a feature app, or as a base the features build on."""
    apps = {path.name for path in (SRC / ROOT_PACKAGE).iterdir() if (path / "__init__.py").exists()}
    assert apps == FEATURE_APPS | set(BASE_LAYERS) | {"accounts"}


@pytest.mark.xfail(strict=True, reason="big modules are split next")
def test_no_module_over_600_lines():
    long = {
        name: lines
        for name, path in source_modules().items()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long
