"""The house as built: the package's import graph has no cycle, and every import goes the way
the rooms allow (façade → client → identity / events / delivery → shared leaves).

Imports are read from the ``ast`` of every module, including imports deferred into functions;
only ``if TYPE_CHECKING:`` blocks (annotations) are left out.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import posthog_client

PACKAGE = Path(posthog_client.__file__).parent
ROOT = "posthog_client"

LEAVES = frozenset({"_version", "_types", "_exceptions", "_log", "_fork_safety"})
SHARED = LEAVES | {"_guard", "_config", "_environment", "_storage_files"}
# unit (a top-level module or subpackage) -> the units it may import, besides itself
ALLOWED: dict[str, frozenset[str]] = {
    "_fork_safety": frozenset(),
    "_version": frozenset(),
    "_types": frozenset(),
    "_exceptions": frozenset(),
    "_log": frozenset({"_fork_safety"}),
    "_storage_files": frozenset({"_fork_safety"}),
    "_guard": frozenset({"_exceptions", "_log"}),
    "_environment": LEAVES,
    "_config": LEAVES | {"_environment", "_mixpanel"},  # deferred: a Mixpanel default host
    "_default": frozenset({"_fork_safety"}),
    "_events": LEAVES,
    "_identity": SHARED | {"_events", "_mixpanel"},
    "_delivery": SHARED | {"_events", "_mixpanel"},
    "_mixpanel": LEAVES,
    "_flags": LEAVES,
    # the SDK side of flags: the engine for local evaluation, the requests error mapping
    "_flagclient": SHARED | {"_events", "_identity", "_flags", "_delivery"},
    "_context": SHARED | {"_events", "_identity", "_default"},
    "_linking": SHARED | {"_identity", "_default"},
    "_hooks": SHARED | {"_events", "_context"},
    "_consent": SHARED | {"_identity"},
    "_lifecycle": SHARED | {"_identity", "_delivery", "_hooks"},
    "_client": SHARED
    | {
        "_events",
        "_identity",
        "_delivery",
        "_context",
        "_hooks",
        "_consent",
        "_lifecycle",
        "_flagclient",
    },
    "_api": SHARED | {"_client", "_default", "_delivery", "_identity"},
    "server": LEAVES | {"_events", "_identity", "_flags"},  # /flags: the engine the SDK uses
    "_recorder": LEAVES | {"server", "_mixpanel_recorder"},
    "_mixpanel_recorder": LEAVES | {"server", "_mixpanel", "_delivery"},
    "testing": SHARED | {"_default", "_recorder"},
    "pytest_plugin": frozenset({"testing"}),
    "integrations": SHARED | {"_context", "_identity", "_linking"},
    "telemetry": SHARED | {"_client", "_delivery", "_identity"},
    "_cli": SHARED | {"_client", "_delivery", "_identity", "telemetry"},
    "cli": SHARED | {"server", "_cli"},
}
PUBLIC_FACADE_MAY_NOT_IMPORT = frozenset({"testing", "pytest_plugin", "server", "cli"})


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join([ROOT, *parts]), path


MODULES = dict(_modules())


def _unit(module: str) -> str:
    parts = module.split(".")
    if parts[-1] == "__main__":
        return "__main__"  # an entry script: the top of the graph, imported by nobody
    return parts[1] if len(parts) > 1 else "__init__"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those inside ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def _imports(module: str, path: Path) -> set[str]:
    """The package's modules that ``module`` imports at run time."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            # `from . import _default` names a module; `from .x import name` names x
            submodules = [f"{source}.{alias.name}" for alias in node.names]
            targets = [m for m in submodules if m in MODULES] or [source]
        for target in targets:
            while target and target not in MODULES:  # `import a.b.c` of a non-module name
                target = target.rpartition(".")[0]
            if target.startswith(ROOT) and target != module:
                found.add(target)
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def test_every_module_belongs_to_a_known_room() -> None:
    units = {_unit(module) for module in MODULES} - {"__init__", "__main__"}
    assert units <= set(ALLOWED), f"add {sorted(units - set(ALLOWED))} to ALLOWED"


def test_imports_go_the_allowed_way() -> None:
    wrong = []
    for module, targets in GRAPH.items():
        unit = _unit(module)
        for target in targets:
            target_unit = _unit(target)
            if target_unit == unit or unit == "__main__" or target_unit == "__init__":
                continue
            if unit == "__init__":
                allowed = target_unit not in PUBLIC_FACADE_MAY_NOT_IMPORT
            else:
                allowed = target_unit in ALLOWED[unit]
            if not allowed:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_the_room_rules_themselves_have_no_cycle() -> None:
    def visit(unit: str, path: tuple[str, ...]) -> None:
        assert unit not in path, " -> ".join([*path, unit])
        for nxt in ALLOWED.get(unit, ()):
            visit(nxt, (*path, unit))

    for unit in ALLOWED:
        visit(unit, ())


def test_no_import_cycle_between_modules() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_each_private_room_says_what_it_holds_and_may_import() -> None:
    for init in PACKAGE.glob("_*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import" in doc, f"{init} needs a docstring naming what it may import"


def test_the_walker_sees_deferred_imports_and_skips_type_checking_ones() -> None:
    # The walker itself must be able to fail: the lifecycle half of Client defers building the
    # pipeline into a function, and Client imports Backend only for annotations.
    assert f"{ROOT}._delivery.build" in GRAPH[f"{ROOT}._lifecycle"]
    assert f"{ROOT}._delivery.backend" not in GRAPH[f"{ROOT}._client"]
