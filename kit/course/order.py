"""Cells run out of order: say which cell to run first, instead of a bare ``NameError``.

:func:`install` (called by ``nb.setup()`` in each notebook's first cell) registers an IPython handler for
``NameError``. When a cell uses a name that an earlier cell of the same notebook defines, the learner sees
which cell that is (its number, the heading above it and its first line) and what to do; any other
``NameError`` (a typo, say) is shown as usual. The notebook's file comes from ``JPY_SESSION_NAME``, which
Jupyter's server sets for every kernel it starts; where it is missing, NameErrors are shown as usual.
"""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.errors import NotebookError

_SESSION_ENV = "JPY_SESSION_NAME"


@dataclass(frozen=True)
class CellRef:
    """Where a name is defined: the code cell's number (1-based, code cells only), heading and first line."""

    number: int
    heading: str
    first_line: str

    def describe(self) -> str:
        """``code cell 4 (under "## 2. The fix"), the one with `pool = ...```."""
        under = f' (under "{self.heading}")' if self.heading else ""
        return f"code cell {self.number}{under}, the one with `{self.first_line}`"

    def with_line(self, line: str) -> CellRef:
        """The same cell, pointed at by one of its lines (the line that defines a name) instead of its first."""
        line = line.strip()
        return CellRef(self.number, self.heading, line if len(line) <= 70 else line[:67] + "...")


def defined_names(source: str) -> set[str]:
    """Names a cell defines at its top level: assignments, imports, functions, classes, loop and ``with`` targets."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = compile(code, "<cell>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError:
        return set()
    names: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue  # what a function or class defines inside stays inside
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return names


def fixture_names(source: str) -> set[str]:
    """Names of the pytest fixtures a cell defines at its top level (functions decorated with ``...fixture...``)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    try:
        tree = compile(code, "<cell>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError:
        return set()
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and any(_is_fixture_decorator(decorator) for decorator in node.decorator_list)
    }


def _is_fixture_decorator(decorator: ast.expr) -> bool:
    """``@pytest.fixture``, ``@pytest_asyncio.fixture(...)``, ``@fixture``: not ``@pytest.mark.usefixtures(...)``."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    return ast.unparse(target).split(".")[-1] == "fixture"


def _code_cells(notebook: dict[str, Any]) -> list[tuple[CellRef, str]]:
    """Every code cell with its reference (number, heading above it, first line) and its source."""
    heading, found = "", []
    for cell in notebook.get("cells", []):
        source = "".join(cell.get("source", ""))
        if cell.get("cell_type") == "markdown":
            titles = [line.strip() for line in source.splitlines() if line.startswith("#")]
            heading = titles[-1] if titles else heading
        elif cell.get("cell_type") == "code":
            first = next((line for line in source.splitlines() if line.strip()), "")
            found.append((CellRef(len(found) + 1, heading, first if len(first) <= 70 else first[:67] + "..."), source))
    return found


def where_defined(notebook: dict[str, Any], name: str) -> CellRef | None:
    """The first code cell of ``notebook`` (loaded JSON) that defines ``name``, pointed at by its defining line."""
    for ref, source in _code_cells(notebook):
        if name in defined_names(source):
            return ref.with_line(_defining_line(source, name) or ref.first_line)
    return None


def _defining_line(source: str, name: str) -> str | None:
    """The first line of ``source`` that defines ``name`` (``def name``, ``name =``, ``import ... name``)."""
    for line in source.splitlines():
        text = line.strip()
        if text.startswith((f"def {name}(", f"async def {name}(", f"class {name}")) or text.startswith((f"{name} =", f"{name}:")):
            return text
        if text.startswith(("import ", "from ")) and name in text.replace(",", " ").split():
            return text
    return None


def missing_fixtures(notebook: dict[str, Any], current: str, namespace: dict[str, Any]) -> list[tuple[str, CellRef]]:
    """Fixtures that cells above the current one (whose source is ``current``) define, absent from ``namespace``.

    After a kernel restart, running a test cell without the cells above it would otherwise pass or fail on the
    kit plugin's fixtures of the same name, silently. Empty when the current cell is not found in the notebook.
    """
    cells = _code_cells(notebook)
    here = next((i for i, (_, source) in enumerate(cells) if source.strip() == current.strip()), None)
    if here is None:
        return []
    missing: dict[str, CellRef] = {}
    for ref, source in cells[:here]:
        for name in sorted(fixture_names(source)):
            if name not in namespace:
                missing.setdefault(name, ref.with_line(_defining_line(source, name) or ref.first_line))
    return list(missing.items())


def message(name: str, ref: CellRef) -> str:
    """What to tell a learner whose cell uses ``name`` before the cell that defines it (``ref``) has run."""
    return (
        f"{name!r} is not defined yet in this kernel: {ref.describe()} defines it. Run that cell "
        "first (after a kernel restart: Run > Run All Above Selected Cell), then this one again."
    )


def notebook_of(shell: Any) -> dict[str, Any]:
    """The notebook this kernel was started for, as loaded JSON; empty when Jupyter did not say which."""
    path = os.environ.get(_SESSION_ENV) or shell.user_ns.get("__session__")
    return _read(path) if path else {}


def install(shell: Any) -> None:
    """Register the ``NameError`` handler on an IPython shell (calling it again replaces it)."""

    def handler(shell: Any, etype: type[BaseException], value: BaseException, tb: Any, tb_offset: int | None = None) -> None:
        # IPython calls this instead of showing the error, and ignores what it returns: it shows the error itself.
        name = getattr(value, "name", None)
        ref = where_defined(notebook_of(shell), name) if name else None
        if ref is None:  # not a name of this notebook (a typo, say): Python's own traceback
            shell._showtraceback(etype, value, shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset))
            return
        error = NotebookError(message(name, ref))
        shell._showtraceback(NotebookError, error, [f"NotebookError: {error}"])

    shell.set_custom_exc((NameError,), handler)


def _read(path: str) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
