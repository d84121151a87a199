"""Execute a course notebook in a fresh Jupyter kernel, each cell twice in a row, and read its outputs.

Used by the course tests: each code cell runs twice in a row (a learner re-running it), cells tagged
``raises-exception`` must fail both times, every other cell neither time. Each test module starts with::

    NAME = "03_function_scoped_fix.ipynb"
    passes = passes_fixture(NAME)
    test_committed_without_outputs = committed_without_outputs(NAME)
    test_no_cell_raises = no_cell_raises
"""

from __future__ import annotations

import asyncio
import copy
import html
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from kit.course.strip import FIX as STRIP_FIX
from kit.course.strip import has_outputs
from kit.db.config import DatabaseConfig
from tests.support.leaks import kit_connections_left

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.S)
RAISES = "raises-exception"


@dataclass
class Pass:
    """One execution of every cell: the executed notebook."""

    nb: nbformat.NotebookNode

    def cell(self, cell_id: str) -> nbformat.NotebookNode:
        """The code cell with this id (ids are set by the notebook's author)."""
        for cell in self.nb.cells:
            if cell.get("id") == cell_id:
                return cell
        raise KeyError(f"no cell with id {cell_id!r}; ids: {[c.get('id') for c in self.nb.cells if c.cell_type == 'code']}")

    def text(self, cell_id: str | None = None) -> str:
        """Everything one cell (or, with no id, the whole notebook) showed: streams, results, HTML, errors."""
        cells = [self.cell(cell_id)] if cell_id else [c for c in self.nb.cells if c.cell_type == "code"]
        return "\n".join(_output_text(output) for cell in cells for output in cell.get("outputs", []))

    def failed(self, cell: nbformat.NotebookNode) -> bool:
        """Whether this cell raised."""
        return any(output.output_type == "error" for output in cell.get("outputs", []))

    def failing_cells(self) -> list[str]:
        """Ids of the code cells that raised."""
        return [c.get("id") for c in self.nb.cells if c.cell_type == "code" and self.failed(c)]

    def table(self, cell_id: str, which: int = -1) -> list[list[str]]:
        """Every row of one HTML table a cell displayed (the last by default): header rows first, index cells first.

        Fails (AssertionError) when the cell displayed no HTML table.
        """
        tables = [o.data["text/html"] for o in self.cell(cell_id).get("outputs", []) if "text/html" in o.get("data", {})]
        assert tables, f"cell {cell_id!r} displayed no table"
        return [[html.unescape(c).strip() for c in _CELL.findall(row)] for row in _ROW.findall(tables[which])]

    def rows(self, cell_id: str, which: int = -1) -> list[dict[str, str]]:
        """The body rows of one HTML table a cell displayed (the last by default), as dicts keyed by the column headers.

        A DataFrame's index column has the empty header: ``row[""]``.
        """
        header, *body = self.table(cell_id, which)
        return [dict(zip(header, row)) for row in body]

    def outcomes(self, cell_id: str, which: int = -1) -> dict[str, str]:
        """A test-run table a cell displayed (``nb.run()`` and friends): test -> outcome."""
        return {row["test"]: row["outcome"] for row in self.rows(cell_id, which)}


def _output_text(output: nbformat.NotebookNode) -> str:
    if output.output_type == "stream":
        return _ANSI.sub("", output.text)
    if output.output_type == "error":
        return _ANSI.sub("", "\n".join([f"{output.ename}: {output.evalue}", *output.traceback]))
    data = output.get("data", {})
    return _ANSI.sub("", "\n".join(str(data[key]) for key in ("text/plain", "text/html", "text/markdown") if key in data))


def execute(name: str, *, timeout: int = 300) -> tuple[Pass, Pass]:
    """Run notebook ``name`` top to bottom in a fresh kernel, each code cell twice in a row; return both passes.

    The first pass holds every cell's first output, the second its output when run again at once (a learner
    pressing Shift+Enter twice, or re-running a cell after an error). Fails (AssertionError) listing every
    problem: a cell tagged raises-exception that did not raise, any other cell that raised, a cell whose second
    run fails where its first passed or the other way round, a connection of the kit's left open, or an output
    that shows the database password.
    """
    path = NOTEBOOKS / name
    source = nbformat.read(path, as_version=4)
    passes = Pass(copy.deepcopy(source)), Pass(copy.deepcopy(source))
    client = NotebookClient(
        passes[0].nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    env = {**os.environ, "JPY_SESSION_NAME": str(path)}  # as Jupyter's server sets it: the out-of-order checks are on
    problems = []
    with client.setup_kernel(env=env, cwd=str(NOTEBOOKS)):
        for index, original in enumerate(source.cells):
            if original.cell_type != "code":
                continue
            for attempt, run in zip(("first", "second"), passes):
                client.nb = run.nb
                try:
                    client.execute_cell(run.nb.cells[index], index)
                except CellExecutionError as exc:
                    problems.append(f"cell {original.get('id')!r} raised the {attempt} time but is not tagged {RAISES}:\n{exc}")
        # The kernel is still running: the notebook closed its own. Under pytest-xdist the other workers' tests run on
        # the same server at the same time, each in a database of its own: only this worker's database is ours.
        left = kit_connections_left(env["DATABASE_URL"], this_database="PYTEST_XDIST_WORKER" in os.environ)
    if left:
        problems.append(f"connections left open: {left}")
    password = DatabaseConfig.from_url(env["DATABASE_URL"]).password
    for attempt, run in zip(("first", "second"), passes):
        if password in json.dumps(run.nb):
            problems.append(f"an output of the {attempt} pass shows the database password")
        for cell in run.nb.cells:
            if cell.cell_type == "code" and RAISES in cell.metadata.get("tags", []) and not run.failed(cell):
                problems.append(f"cell {cell.get('id')!r} is tagged {RAISES} but did not raise the {attempt} time")
    if passes[0].failing_cells() != passes[1].failing_cells():
        problems.append(f"run again, other cells fail: {passes[0].failing_cells()} then {passes[1].failing_cells()}")
    assert not problems, f"{name}:\n" + "\n".join(problems)
    return passes


def execute_some(name: str, cell_ids: list[str], *, then: str | None = None, timeout: int = 300) -> Pass:
    """Run only the cells ``cell_ids`` of notebook ``name``, in that order, in a fresh kernel (errors are kept).

    ``then`` is the source of one more cell run last, with the id ``"then"``.
    """
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    if then is not None:
        extra = nbformat.v4.new_code_cell(then)
        extra["id"] = "then"
        notebook.cells.append(extra)
        cell_ids = [*cell_ids, "then"]
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(NOTEBOOKS)}}
    )
    env = {**os.environ, "JPY_SESSION_NAME": str(NOTEBOOKS / name)}
    with client.setup_kernel(env=env, cwd=str(NOTEBOOKS)):
        for cell_id in cell_ids:
            index, cell = next((i, c) for i, c in enumerate(notebook.cells) if c.get("id") == cell_id)
            client.execute_cell(cell, index)
    return Pass(notebook)


def stripped(name: str) -> bool:
    """True when the committed notebook has no outputs and no execution counts."""
    return not has_outputs(json.loads((NOTEBOOKS / name).read_text()))


def passes_fixture(name: str) -> Callable[[], tuple[Pass, Pass]]:
    """A module-scoped fixture ``passes``: both runs of notebook ``name``'s cells (see :func:`execute`), once per module."""

    @pytest.fixture(scope="module", name="passes")
    def _passes() -> tuple[Pass, Pass]:
        return execute(name)

    return _passes


def committed_without_outputs(name: str) -> Callable[[], None]:
    """A test: notebook ``name`` is committed without outputs (see :func:`stripped`)."""

    def _test() -> None:
        assert stripped(name), f"{name} has outputs: run `{STRIP_FIX}` (it keeps the cell ids the tests look up)"

    return _test


def no_cell_raises(passes: tuple[Pass, Pass]) -> None:
    """A test: no cell of either pass raised."""
    assert passes[0].failing_cells() == passes[1].failing_cells() == []


def schema_exists(schema: str) -> bool:
    """Whether the database the notebooks use ($DATABASE_URL) has a schema called ``schema``."""

    async def exists() -> bool:
        conn = await asyncpg.connect(os.environ["DATABASE_URL"])
        try:
            return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema)
        finally:
            await conn.close()

    return asyncio.run(exists())
