"""The package's shape: layers import only downward, no import cycles, one error root, a small top level.

Every ``import`` in ``kit/`` counts, at the top of a module or inside a function (``docs/architecture.md``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import kit
from kit.errors import KitError

KIT = Path(kit.__file__).parent
# Old import paths kept as thin re-exports; they sit on top, with the command line.
THIN = {
    "kit.analyzer",
    "kit.audit",
    "kit.config",
    "kit.connections",
    "kit.doctor",
    "kit.guard",
    "kit.learners",
    "kit.notebook",
    "kit.pytest_plugin",
    "kit.scenarios",
    "kit.server",
    "kit.timeline",
    "kit.patterns",
    "kit.patterns.broken",
    "kit.exercises",
}
# Lower number = lower layer. A module may import its own layer (without a cycle) and any layer below.
LAYERS = {
    "kit.errors": 0,
    "kit._sync": 0,
    "kit._files": 0,
    "kit.db": 1,
    "kit.diagnose": 2,
    "kit.plugin": 3,
    "kit.course": 4,
    "kit.bench": 4,
    "kit.room": 4,
}
SIDE_BY_SIDE = {"kit.course", "kit.bench", "kit.room"}
TOP = 5  # kit itself, kit.cli, kit.__main__ and the thin modules
# Third-party packages a layer must not import at module level.
FORBIDDEN = {"kit.db": {"pytest", "pandas", "_pytest", "pytest_asyncio", "matplotlib"}, "kit.diagnose": {"pandas", "matplotlib"}}


def _modules() -> dict[str, Path]:
    found = {}
    for path in KIT.rglob("*.py"):
        parts = path.relative_to(KIT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _layer(module: str) -> tuple[str, int]:
    if module in THIN or module in ("kit", "kit.cli", "kit.__main__"):
        return "top", TOP
    for prefix, rank in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return prefix, rank
    raise AssertionError(f"{module} belongs to no layer: add it to a layer's folder (docs/architecture.md)")


def _resolve(name: str) -> str | None:
    """The kit module an imported dotted name refers to (a module, or a package for `from pkg import name`)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[tuple[str, int, bool]]:
    """(imported kit module, line, at module level) for every import in ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for name in names:
            target = _resolve(name) if name.startswith("kit") else None
            if target and target != module:
                found.append((target, node.lineno, id(node) in top_level))
    return found


def _third_party_at_module_level(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_upward_import(module: str) -> None:
    layer, rank = _layer(module)
    for target, line, _ in _imports(module):
        target_layer, target_rank = _layer(target)
        assert target_rank <= rank, (
            f"{module}:{line} imports {target}: layer {layer} may not import {target_layer}, which is above it"
        )
        if layer != target_layer and {layer, target_layer} <= SIDE_BY_SIDE:
            raise AssertionError(
                f"{module}:{line} imports {target}: course, bench and room are side by side, none imports another"
            )


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_lower_layers_do_not_load_heavy_packages(layer: str) -> None:
    for module in MODULES:
        if _layer(module)[0] == layer:
            loaded = _third_party_at_module_level(module) & FORBIDDEN[layer]
            assert not loaded, (
                f"{module} imports {sorted(loaded)} at module level; {layer} must not (import it inside the function)"
            )


def test_no_import_cycle() -> None:
    graph = {module: {target for target, _, _ in _imports(module)} for module in MODULES}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_the_top_level_is_small() -> None:
    with_code = sorted(m for m in MODULES if m.count(".") == 1 and m not in THIN and not MODULES[m].name == "__init__.py")
    assert len(with_code) + 1 <= 8, f"kit/ holds {len(with_code) + 1} modules with code (with __init__): {with_code}"


def test_the_walker_sees_imports_inside_functions() -> None:
    """A check that can fail: kit.db.server imports the learners inside ensure_server()."""
    lazy = {(target, top) for target, _, top in _imports("kit.db.server") if target == "kit.db.learners"}
    assert lazy == {("kit.db.learners", False)}


def test_every_exception_class_has_the_one_root() -> None:
    outcomes = (pytest.fail.Exception, pytest.skip.Exception)  # the guard's failure is a pytest outcome
    seen = 0
    for info in pkgutil.walk_packages(kit.__path__, "kit."):
        if info.name == "kit.__main__":
            continue
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name and issubclass(cls, BaseException):
                seen += 1
                assert issubclass(cls, (KitError, *outcomes)), (
                    f"{info.name}.{cls.__name__} does not derive from kit.errors.KitError"
                )
    assert seen >= 15


def test_public_surface() -> None:
    assert set(kit.__all__) == {
        "ensure_server",
        "DatabaseConfig",
        "connect",
        "create_pool",
        "ConnectionManager",
        "DependencyAnalyzer",
        "KitError",
    }
    for name in kit.__all__:
        assert getattr(kit, name).__doc__, name
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        kit.nothing_here  # noqa: B018
