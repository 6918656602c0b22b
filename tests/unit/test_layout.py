"""The house rules of the layout (docs/architecture.md, issue 20), read from the source with `ast`.

- every module with logic has its unit-test file at the mirrored path, and every unit-test file mirrors a module;
- the import graph has no cycle, function-level imports included;
- `sync/` reaches nothing of airflow, requests or msal; only `hooks/` imports requests or msal;
- no module is longer than 400 lines, the sync engine's class no longer than 200;
- the package root holds only what Airflow or a DAG author imports by name.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "oh_outlook_provider"
UNIT = ROOT / "tests" / "unit"
NAME = "oh_outlook_provider"

# Unit-test files for more than one module, or for none, that stay at tests/unit/ by design.
CROSS_CUTTING = {"test_layout.py", "test_docstrings.py", "test_packaging.py", "test_public_paths.py"}
# Exceptions to the mirror rule, each with its reason; a new entry needs one too.
TESTED_ELSEWHERE: dict[str, str] = {}
# Deprecated re-export kept for one release (no logic of its own; tested in tests/unit/test_errors.py).
SHIMS = {"errors.py"}
MAX_LINES = 400
# Modules over MAX_LINES, each a known debt with its reason; remove an entry once the module is split.
# (hooks/office365.py was here at ~580 lines until the `$batch` loop moved to hooks/graph_batch.py.)
OVERSIZED: dict[str, str] = {}
MAX_ENGINE_LINES = 200
ROOT_FILES = {"__init__.py", "get_provider_info.py", "exceptions.py", "assets.py", "errors.py", "version_compat.py"}
SUBPACKAGES = {"hooks", "operators", "sensors", "triggers", "plugins", "runners", "sync", "graph", "openhandwerk",
               "i18n"}
PURE = ("airflow", "requests", "msal")
SOCKET_LIBRARIES = ("requests", "msal")
# A function-level import that closes a cycle is allowed only when its line says why (see REASONS) and it is
# listed here: (importing module, imported module). Found today: none.
WAIVED_CYCLE_EDGES: set[tuple[str, str]] = set()
REASONS = ("parse cost", "only when")


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def has_logic(path: Path) -> bool:
    return any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for node in ast.walk(tree(path)))


def mirror(path: Path) -> Path:
    """tests/unit/<same path>/test_<module>.py; a package's __init__ is tested in test_<package>.py."""
    relative = path.relative_to(PACKAGE)
    if relative.name == "__init__.py":
        return UNIT / relative.parent / f"test_{relative.parent.name}.py"
    return UNIT / relative.parent / f"test_{relative.name}"


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(module: str, path: Path) -> list[tuple[str, bool, int]]:
    """(imported module, at function level, line) for every import that runs: `if TYPE_CHECKING:` blocks never do."""
    found: list[tuple[str, bool, int]] = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for sub in child.orelse:
                    visit_one(sub, in_function)
                continue
            visit_one(child, in_function)

    def visit_one(child: ast.AST, in_function: bool) -> None:
        if isinstance(child, ast.Import):
            found.extend((alias.name, in_function, child.lineno) for alias in child.names)
        elif isinstance(child, ast.ImportFrom):
            base = child.module or ""
            if child.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (child.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.extend((f"{base}.{alias.name}", in_function, child.lineno) for alias in child.names)
            found.append((base, in_function, child.lineno))
        else:
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree(path), False)
    return found


@cache
def graph() -> dict[str, dict[str, tuple[bool, int]]]:
    """module -> {imported module of ours: (function-level only, first line)}, `from x import y` read as x.y
    when y is a module, else x."""
    known = modules()
    edges: dict[str, dict[str, tuple[bool, int]]] = {}
    for module, path in known.items():
        out: dict[str, tuple[bool, int]] = {}
        for target, in_function, line in imports(module, path):
            if target.split(".")[0] != NAME:
                continue
            if target not in known:  # `from x import name`: the name is no module, x is what is imported
                continue
            if target == module:
                continue
            before = out.get(target)
            out[target] = (in_function and (before is None or before[0]), line if before is None else before[1])
        # `from x import y` lists both x and x.y: x is imported too only when named on its own
        edges[module] = out
    return edges


def externals(module: str) -> set[str]:
    """Top-level names of the outside packages one module imports (any level)."""
    return {target.split(".")[0] for target, _, _ in imports(module, modules()[module])
            if target.split(".")[0] != NAME}


def reachable(module: str) -> set[str]:
    seen, todo = {module}, [module]
    while todo:
        for target in graph()[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strongconnect(v)
    return found


# ---------------------------------------------------------------------------------------------- the mirror
def test_every_module_with_logic_has_its_mirrored_unit_test_file():
    missing = []
    for path in modules().values():
        relative = path.relative_to(PACKAGE).as_posix()
        if relative in SHIMS or not has_logic(path):
            continue
        expected = UNIT / TESTED_ELSEWHERE[relative] if relative in TESTED_ELSEWHERE else mirror(path)
        if not expected.exists():
            missing.append(f"{relative} -> {expected.relative_to(ROOT)}")
    assert missing == [], "modules without their unit-test file:\n" + "\n".join(missing)


def test_every_unit_test_file_mirrors_a_module():
    expected = {mirror(path) for path in modules().values()}
    stray = []
    for test in sorted(UNIT.rglob("test_*.py")):
        relative = test.relative_to(UNIT).as_posix()
        if relative in CROSS_CUTTING or relative in TESTED_ELSEWHERE.values():
            continue
        # test_<module>.py, or test_<module>_<aspect>.py beside it (e.g. openhandwerk/test_api_fuzz.py)
        stem = test.stem
        if not any(test.parent == m.parent and (stem == m.stem or stem.startswith(m.stem + "_")) for m in expected):
            stray.append(relative)
    assert stray == [], "unit-test files that mirror no module:\n" + "\n".join(stray)


def test_every_test_package_is_a_package():
    """The suite imports `tests.unit.<...>`: without __init__.py two test_secret_expiry.py would collide."""
    folders = {test.parent for test in UNIT.rglob("*.py")}
    assert sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists()) == []


# ---------------------------------------------------------------------------------------------- imports
def test_the_import_graph_has_no_cycle_not_even_through_function_level_imports():
    edges = {m: {t for t in targets if (m, t) not in WAIVED_CYCLE_EDGES} for m, targets in graph().items()}
    assert cycles(edges) == []


def test_waived_cycle_edges_exist_and_say_why_on_their_line():
    for module, target in WAIVED_CYCLE_EDGES:
        function_level, line = graph()[module][target]
        text = modules()[module].read_text().splitlines()[line - 1]
        assert function_level and any(reason in text for reason in REASONS), (module, target, text)


def test_the_graph_reader_resolves_names_and_submodules():
    """The reader itself: `from x import y` is x.y when y is a module, else x; function level is seen."""
    edges = graph()
    assert f"{NAME}.runners.secret_expiry" in edges[f"{NAME}.triggers.secret_expiry"]
    assert edges[f"{NAME}.runners.secret_expiry"][f"{NAME}.hooks.office365"][0] is True  # function-level
    assert edges[f"{NAME}.runners.secret_expiry"][f"{NAME}.exceptions"][0] is False
    assert f"{NAME}.runners.appointments" in edges[f"{NAME}.operators.appointments"]  # `from runners import x`
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(m for m in modules() if m.startswith(f"{NAME}.sync")))
def test_sync_reaches_nothing_of_airflow_requests_or_msal(module):
    reached = {m: externals(m) & set(PURE) for m in reachable(module)}
    assert {m: sorted(found) for m, found in reached.items() if found} == {}


def test_only_hooks_import_requests_or_msal():
    offenders = {module: sorted(externals(module) & set(SOCKET_LIBRARIES)) for module in modules()
                 if not module.startswith(f"{NAME}.hooks")}
    assert {m: found for m, found in offenders.items() if found} == {}


# ---------------------------------------------------------------------------------------------- sizes
def test_no_module_is_longer_than_400_lines():
    long = {path.relative_to(PACKAGE).as_posix(): len(path.read_text().splitlines()) for path in modules().values()}
    over = {name: n for name, n in long.items() if n > MAX_LINES and name not in OVERSIZED}
    assert over == {}
    assert all(long.get(name, 0) > MAX_LINES for name in OVERSIZED), "a module in OVERSIZED was split: remove it"


def test_the_sync_engine_class_is_at_most_200_lines():
    path = PACKAGE / "runners" / "calendar_sync.py"
    engine = next(node for node in tree(path).body if isinstance(node, ast.ClassDef) and node.name == "CalendarSync")
    assert engine.end_lineno - engine.lineno + 1 <= MAX_ENGINE_LINES


# ---------------------------------------------------------------------------------------------- the root
def test_the_package_root_holds_only_what_airflow_or_a_dag_author_imports_by_name():
    entries = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    files = {name for name in entries if (PACKAGE / name).is_file()}
    folders = entries - files
    assert {f for f in files if f.endswith(".py")} == ROOT_FILES
    assert files - ROOT_FILES == set(), files - ROOT_FILES
    assert folders == SUBPACKAGES
    assert all((PACKAGE / folder / "__init__.py").exists() for folder in SUBPACKAGES)
